import { execa } from 'execa'

/** The outcome of one `ip` process. */
export interface IpResult {
  stdout: string
  stderr: string
  exitCode: number
  timedOut: boolean
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
    return {
      stdout: typeof result.stdout === 'string' ? result.stdout : '',
      stderr: typeof result.stderr === 'string' ? result.stderr : (result.message ?? ''),
      exitCode: result.exitCode ?? -1,
      timedOut: result.timedOut === true,
    }
  }
}
