import type { IpResult, IpRunner } from '../../src/link/runner.ts'

/** One `ip` invocation as the link layer made it. */
export interface RecordedCall {
  args: readonly string[]
  input: string | undefined
}

/**
 * A fake IpRunner: records every argv and stdin, and answers with canned results in order (then
 * with `fallback`, a clean exit with empty output unless replaced). Lets unit tests assert the
 * exact commands the iproute2 link layer runs without a kernel.
 */
export class RecordingRunner {
  readonly calls: RecordedCall[] = []
  private readonly queue: IpResult[] = []
  fallback: IpResult = ok()

  /** Queues the answers for the next calls, first in first out. */
  reply(...results: Partial<IpResult>[]): this {
    for (const result of results) this.queue.push({ ...ok(), ...result })
    return this
  }

  readonly run: IpRunner = async (args, input) => {
    this.calls.push({ args: [...args], input })
    await Promise.resolve()
    return this.queue.shift() ?? { ...this.fallback }
  }
}

export const ok = (stdout = ''): IpResult => ({ stdout, stderr: '', exitCode: 0, timedOut: false })

/** What `ip` answers on failure: exit code 1 (2 for a missing device) and a message on stderr. */
export const fail = (stderr: string, exitCode = 2): IpResult => ({
  stdout: '',
  stderr,
  exitCode,
  timedOut: false,
})
