import type { IpvlanSpec, LinkLayer } from './ports/link-layer.ts'

interface Pending {
  spec: IpvlanSpec
  resolve: () => void
  reject: (error: unknown) => void
}

/** Most links in one `ip -batch`: one batch's failure or timeout must stay small. */
const MAX_BATCH = 32

/**
 * Endpoint link creations, at most `parallel` `ip` processes at a time. A creation that finds a
 * process free runs at once, alone, as before; the ones that arrive while all are busy go together
 * in the next (one process for many: under a burst of container starts each `ip` costs a fork and
 * an exec, which the CPU pays for every link). A batch stops at its first failure: that link's
 * creator gets the error, the ones before it are made, the ones after it go again. A batch that
 * failed as a whole (killed, timed out) fails every creation in it, as one `ip` would.
 */
export class IpvlanBatcher {
  private readonly links: LinkLayer
  private readonly parallel: number
  private queue: Pending[] = []
  private running = 0

  constructor(links: LinkLayer, parallel = 2) {
    this.links = links
    this.parallel = parallel
  }

  add(spec: IpvlanSpec): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ spec, resolve, reject })
      this.pump()
    })
  }

  private pump(): void {
    while (this.running < this.parallel && this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH)
      this.running++
      void this.run(batch).finally(() => {
        this.running--
        this.pump()
      })
    }
  }

  private async run(batch: Pending[]): Promise<void> {
    const [only] = batch
    if (batch.length === 1 && only) {
      // Alone: the single-link call, with its own error handling.
      await this.links.addIpvlan(only.spec).then(only.resolve, only.reject)
      return
    }
    let outcome
    try {
      outcome = await this.links.addIpvlans(batch.map((pending) => pending.spec))
    } catch (error) {
      outcome = { made: 0, whole: true, error }
    }
    if (outcome.whole) {
      for (const pending of batch) pending.reject(outcome.error)
      return
    }
    for (const pending of batch.slice(0, outcome.made)) pending.resolve()
    const failed = batch[outcome.made]
    if (!failed) return
    failed.reject(outcome.error)
    // Not tried: first in line for the next batch.
    this.queue.unshift(...batch.slice(outcome.made + 1))
  }
}
