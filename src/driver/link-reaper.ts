import { messageOf } from '../errors.ts'
import type { Logger } from '../log.ts'
import type { BatchOutcome, LinkError, LinkLayer } from './ports/link-layer.ts'

/**
 * Deletes the links of deleted endpoints after DeleteEndpoint has answered. Docker waits on
 * DeleteEndpoint in `docker rm` and `docker stop`, and a link is nobody's once its endpoint record
 * is gone, so its deletion need not hold them up. Links queued while one `ip` runs are deleted
 * together by the next (one process for many); a batch stops at a link that fails (one already
 * gone is no error), and the ones after it go in the next. A crash before the deletion leaves a link no record
 * owns, which start-up reconciliation removes; a network's deletion drains the queue first.
 */
export class LinkReaper {
  private readonly links: LinkLayer
  private readonly log: Logger
  private queue: string[] = []
  private inFlight = 0
  private running: Promise<void> | undefined

  constructor(links: LinkLayer, log: Logger) {
    this.links = links
    this.log = log
  }

  /** Links queued or being deleted. */
  get pending(): number {
    return this.queue.length + this.inFlight
  }

  /** Queues the deletion of `name`; never throws, never waits. */
  remove(name: string): void {
    this.queue.push(name)
    this.running ??= this.work()
  }

  /** Resolves once every link queued so far (and any queued meanwhile) has been dealt with. */
  async drain(): Promise<void> {
    while (this.running) await this.running
  }

  private async work(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const names = this.queue.splice(0)
        this.inFlight = names.length
        await this.removeAll(names)
      }
    } finally {
      this.inFlight = 0
      this.running = undefined
    }
  }

  private async removeAll(names: string[]): Promise<void> {
    let outcome: BatchOutcome
    try {
      outcome = await this.links.removeAll(names)
    } catch (error) {
      outcome = { made: 0, whole: true, error: error as LinkError }
    }
    if (outcome.whole) {
      // Killed or timed out: which are gone is unknown. One by one, so a link already gone is no
      // error and every other failure is reported against its own link.
      for (const name of names) await this.removeOne(name)
      return
    }
    const failed = names[outcome.made]
    if (failed === undefined) return
    // Already gone (a reboot, the operator) is what a deletion wants; anything else is reported.
    if (outcome.error?.kind !== 'not-found') this.warn(failed, outcome.error)
    // Not tried: first in line for the next batch.
    this.queue.unshift(...names.slice(outcome.made + 1))
  }

  private async removeOne(name: string): Promise<void> {
    try {
      await this.links.remove(name)
    } catch (error) {
      this.warn(name, error)
    }
  }

  private warn(link: string, error: unknown): void {
    this.log.warn('could not delete the link of a deleted endpoint; start-up reconciliation will', {
      link,
      error: messageOf(error),
    })
  }
}
