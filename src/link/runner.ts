import { execa } from 'execa'

/** The outcome of one `ip` process, with everything execa knew about how it ended. */
export interface IpResult {
  stdout: string
  stderr: string
  /** undefined when `ip` never started or was killed by a signal. */
  exitCode: number | undefined
  timedOut: boolean
  /** errno code when the process could not be started (ENOENT, EACCES, ...). */
  code?: string | undefined
  /** The signal that ended it, e.g. SIGKILL. */
  signal?: string | undefined
  /** execa's one-line summary of the failure ("Command was killed with SIGKILL ..."). */
  shortMessage?: string | undefined
  /** The underlying error (e.g. the spawn error), for the log and the error chain. */
  cause?: unknown
}

/**
 * Runs `ip` with an argument array (never a shell) and optional stdin for `-batch -`. Injectable so
 * unit tests can record the exact argv and replay kernel answers.
 */
export type IpRunner = (args: readonly string[], input?: string) => Promise<IpResult>

export interface ExecaRunnerOptions {
  /** Path of the ip binary; "ip" is looked up on PATH. */
  ipBin?: string
  /** Every ip call is killed after this long: a hung netlink call must not hang Docker. */
  timeoutMs: number
  /** Called once per process started, for the benchmark's process count. */
  onSpawn?: () => void
}

export function execaRunner(options: ExecaRunnerOptions): IpRunner {
  const bin = options.ipBin ?? 'ip'
  return async (args, input) => {
    options.onSpawn?.()
    const result = await execa(bin, args, {
      reject: false,
      timeout: options.timeoutMs,
      killSignal: 'SIGKILL',
      stdin: input === undefined ? 'ignore' : 'pipe',
      ...(input === undefined ? {} : { input }),
      env: { LC_ALL: 'C' },
      extendEnv: true,
    })
    if (!result.failed) {
      return {
        stdout: text(result.stdout),
        stderr: text(result.stderr),
        exitCode: 0,
        timedOut: false,
      }
    }
    return {
      stdout: text(result.stdout),
      stderr: text(result.stderr),
      exitCode: result.exitCode,
      timedOut: result.timedOut,
      code: result.code,
      signal: result.signal,
      shortMessage: result.shortMessage,
      cause: result.cause ?? undefined,
    }
  }
}

const text = (value: unknown): string => (typeof value === 'string' ? value : '')
