/**
 * Endpoint links started right after CreateEndpoint answers. Between CreateEndpoint and Join,
 * dockerd does its own work (Docker 20.10 creates the container's network namespace there,
 * libnetwork NewSandbox), so an `ip` started at CreateEndpoint runs while Docker works instead of
 * inside Join, where `docker run` waits for it.
 * Join waits for the early start, then uses the link if it was made, or makes it as before.
 */
export class EarlyLinks {
  private readonly pending = new Map<string, Promise<void>>()
  private readonly made = new Set<string>()
  private readonly enabled: boolean

  constructor(enabled = true) {
    this.enabled = enabled
  }

  /** Starts `make` (true: the link now exists) for `endpointId`; its failure is Join's to retry. */
  start(endpointId: string, make: () => Promise<boolean>): void {
    if (!this.enabled) return
    const started = make().then(
      (ok) => {
        if (ok) this.made.add(endpointId)
      },
      () => {}
    )
    const tracked = started.finally(() => {
      if (this.pending.get(endpointId) === tracked) this.pending.delete(endpointId)
    })
    this.pending.set(endpointId, tracked)
  }

  /**
   * The early start of `endpointId` while it runs (it never rejects), else undefined: a caller
   * with nothing to wait for takes its locks without yielding, in its arrival order.
   */
  running(endpointId: string): Promise<void> | undefined {
    return this.pending.get(endpointId)
  }

  /** Resolves once every early start begun so far has ended. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all(this.pending.values())
  }

  /** True once per link the early start made: the caller now owns it. */
  take(endpointId: string): boolean {
    return this.made.delete(endpointId)
  }
}
