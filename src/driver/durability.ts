/**
 * Endpoint records placed but maybe not fsynced yet (Store.placeEndpoint). CreateEndpoint answers
 * once its record is in place: libnetwork sends a network's CreateEndpoints one at a time, so two
 * fsyncs there (hundreds of milliseconds on a busy disk) held every other container starting on
 * that network. Join, which runs concurrently, waits for them instead.
 */
export class PendingDurability {
  private readonly pending = new Map<string, Promise<void>>()

  /** `durable` of `endpointId`'s record; kept until it succeeds, or until taken if it fails. */
  track(endpointId: string, durable: Promise<void>): void {
    const tracked = durable.then(() => {
      if (this.pending.get(endpointId) === tracked) this.pending.delete(endpointId)
    })
    // A failure stays for Join to report; nothing else awaits it.
    tracked.catch(() => {})
    this.pending.set(endpointId, tracked)
  }

  /** Resolves once `endpointId`'s record is durable; rejects with its fsync's failure. */
  async wait(endpointId: string): Promise<void> {
    const pending = this.pending.get(endpointId)
    if (!pending) return
    await pending
  }

  /** The endpoint is gone: its record's fsync no longer matters. */
  forget(endpointId: string): void {
    this.pending.delete(endpointId)
  }

  /** Resolves once every record placed so far has settled: tests. */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.pending.values()])
  }
}
