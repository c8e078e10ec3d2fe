import { execa } from 'execa'
import type { ResultPromise } from 'execa'
import type { IpResult } from './runner.ts'

export interface ResidentIpOptions {
  /** Path of the ip binary; "ip" is looked up on PATH. */
  ipBin?: string
  /** Global options before `-force -batch -`, e.g. ["-n", "ns1"]. */
  globalArgs?: readonly string[]
  /** A line that gets no answer within this long kills the process (a hung netlink call). */
  timeoutMs: number
  /** Called once per process started, for the benchmark's process count. */
  onSpawn?: () => void
}

/**
 * Runs a group of `ip -batch` lines as one `ip -batch -` process would (without -force: stop at
 * the first failing line, which stderr names "Command failed -:N", N counted from 1 in the group).
 */
export type BatchRunner = (lines: readonly string[]) => Promise<IpResult>

/**
 * A line that always fails at once and writes to stderr, never to stdout: no interface name can
 * hold a "/" (the kernel's dev_valid_name), so ip answers 'Device "..." does not exist.' and,
 * under -force, "Command failed -:N". That failure marks the end of the line before it: ip's
 * stderr is unbuffered, its stdout is not, so stderr is the only channel that answers per line.
 * The name is longer than 15 bytes on purpose: glibc's if_nametoindex then answers without the
 * SIOCGIFINDEX ioctl, whose unknown name makes the kernel try `modprobe netdev-NAME` (dev_load),
 * about 300 ms per line in the lab VM; only a netlink lookup of an alternative name is left.
 */
const MARK = 'link show dev ipvlan-lan/end-of-line'
const FAILED = /^Command failed -:(\d+)$/
const MARK_SAID = 'Device "ipvlan-lan/end-of-line" does not exist.'

const SPAWN = {
  reject: false,
  buffer: false,
  stdin: 'pipe',
  // Nothing we send prints on success; ip's stdout would only ever fill a pipe.
  stdout: 'ignore',
  stderr: 'pipe',
  killSignal: 'SIGKILL',
  env: { LC_ALL: 'C' },
  extendEnv: true,
} as const

interface Line {
  resolve: (answer: Answer) => void
}

/** The line ran (`failed`: ip said it failed), or the process ended or hung while it ran. */
type Answer = { said: string; failed: boolean } | { ended: IpResult }

/**
 * One long-lived `ip -force -batch -` fed a line at a time. Under TCG (the lab VM) starting an
 * `ip` costs ~170 ms of CPU, more than the netlink work it does; a process kept alive pays that
 * once. Lines of one group run in order and the group stops at its first failing line, exactly
 * as a fresh `ip -batch -` without -force would, so no later line can touch a link in the way.
 * Groups run one after the other. A process that dies or hangs (killed at `timeoutMs`) fails the
 * line it was running, as that one process would have; the next group starts a new process.
 */
export class ResidentIp {
  private readonly options: ResidentIpOptions
  private process: Running | undefined
  private tail: Promise<unknown> = Promise.resolve()

  constructor(options: ResidentIpOptions) {
    this.options = options
  }

  /** Runs `lines` as one group; groups queue behind each other. Never rejects. */
  readonly run: BatchRunner = (lines) => {
    const result = this.tail.then(() => this.group(lines))
    this.tail = result
    return result
  }

  /** Ends the process (end of input: ip exits by itself). */
  close(): void {
    this.process?.end()
    this.process = undefined
  }

  private async group(lines: readonly string[]): Promise<IpResult> {
    if (lines.some((line) => line.includes('\n'))) {
      // One line is one command: a newline would smuggle in a second, unmarked one.
      const shortMessage = 'refusing an ip -batch line that holds a newline'
      return { stdout: '', stderr: '', exitCode: undefined, timedOut: false, shortMessage }
    }
    let said = ''
    for (const [index, text] of lines.entries()) {
      const first = await this.line(text)
      let answer = first.answer
      if (!first.fresh && staleIndex(answer)) {
        // The kernel knows no such ifindex: the name may have been looked up by an earlier
        // line and its link deleted and made again since (see STALE_INDEX). A new process
        // looks the name up afresh; the failed request changed nothing, so it runs again.
        this.process?.end()
        this.process = undefined
        answer = (await this.line(text)).answer
      }
      if ('ended' in answer) {
        this.process = undefined
        return { ...answer.ended, stderr: said + answer.ended.stderr }
      }
      said += answer.said
      if (answer.failed) {
        return {
          stdout: '',
          stderr: `${said}Command failed -:${index + 1}\n`,
          exitCode: 1,
          timedOut: false,
        }
      }
    }
    return { stdout: '', stderr: said, exitCode: 0, timedOut: false }
  }

  /** Runs one line, in a new process if none is running; `fresh`: that process ran nothing before. */
  private async line(text: string): Promise<{ answer: Answer; fresh: boolean }> {
    if (!this.process?.alive) this.process = new Running(this.options)
    const fresh = this.process.fresh
    return { answer: await this.process.line(text), fresh }
  }
}

/**
 * ip keeps every name it resolved in a name -> ifindex cache for the life of the process
 * (iproute2 lib/ll_map.c, ll_name_to_index), and never asks the kernel again. A link deleted and
 * made again under the same name by anyone else (the operator re-creating eth0.10 or a dummy
 * parent) gets a new ifindex, so every later line naming it, `link add link PARENT` and `link del`
 * included, would fail with ENODEV until the process ended. The kernel never hands an ifindex out
 * twice before it wraps around, so a stale index shows as exactly this answer.
 */
const STALE_INDEX = 'RTNETLINK answers: No such device'

const staleIndex = (answer: Answer): boolean =>
  !('ended' in answer) && answer.failed && answer.said.includes(STALE_INDEX)

/** One `ip -force -batch -` process and the line it is running. */
class Running {
  private readonly timeoutMs: number
  private readonly subprocess: ResultPromise<typeof SPAWN>
  private current: Line | undefined
  private killed = false
  private stderr = ''
  private lineNo = 0
  private ended: IpResult | undefined

  constructor(options: ResidentIpOptions) {
    this.timeoutMs = options.timeoutMs
    options.onSpawn?.()
    this.subprocess = execa(
      options.ipBin ?? 'ip',
      [...(options.globalArgs ?? []), '-force', '-batch', '-'],
      SPAWN
    )
    this.subprocess.stderr?.setEncoding('utf8')
    this.subprocess.stderr?.on('data', (chunk: string) => this.read(chunk))
    // A write after ip died fails with EPIPE; the exit below answers the line.
    this.subprocess.stdin?.on('error', () => {})
    void this.subprocess.then((result) => {
      this.ended = {
        stdout: '',
        stderr: '',
        exitCode: result.exitCode,
        timedOut: false,
        code: result.code,
        signal: result.signal,
        shortMessage: result.shortMessage,
        cause: result.cause ?? undefined,
      }
      this.finish({ ended: { ...this.ended, stderr: this.stderr } })
    })
  }

  /** Nothing was run in this process yet: its name cache is empty. */
  get fresh(): boolean {
    return this.lineNo === 0
  }

  get alive(): boolean {
    return this.ended === undefined && !this.killed
  }

  line(text: string): Promise<Answer> {
    return new Promise<Answer>((resolve) => {
      if (!this.alive) {
        resolve({
          ended: this.ended ?? { stdout: '', stderr: '', exitCode: undefined, timedOut: true },
        })
        return
      }
      this.stderr = ''
      const timer = setTimeout(() => {
        this.killed = true
        this.subprocess.kill('SIGKILL')
        this.finish({
          ended: {
            stdout: '',
            stderr: this.stderr,
            exitCode: undefined,
            timedOut: true,
            signal: 'SIGKILL',
          },
        })
      }, this.timeoutMs)
      this.current = {
        resolve: (answer) => {
          clearTimeout(timer)
          resolve(answer)
        },
      }
      this.lineNo += 2
      this.subprocess.stdin?.write(`${text}\n${MARK}\n`)
    })
  }

  end(): void {
    this.subprocess.stdin?.end()
  }

  private read(chunk: string): void {
    this.stderr += chunk
    const mark = `Command failed -:${this.lineNo}`
    const at = this.stderr.indexOf(`${mark}\n`)
    if (at < 0) return
    const lines = this.stderr.slice(0, at).split('\n')
    // The mark's own complaint is the last line before its "Command failed".
    if (lines.at(-2) === MARK_SAID) lines.splice(-2, 1)
    const failed = lines.findIndex((line) => FAILED.exec(line)?.[1] === String(this.lineNo - 1))
    const said = lines.filter((_, index) => index !== failed).join('\n')
    this.stderr = this.stderr.slice(at + mark.length + 1)
    this.finish({ said, failed: failed >= 0 })
  }

  private finish(answer: Answer): void {
    const current = this.current
    this.current = undefined
    current?.resolve(answer)
  }
}
