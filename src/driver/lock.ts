/**
 * Serialises async sections per key: requests on the same endpoint, a parent being re-made, or the
 * set of networks (creation, deletion, reconciliation) run one after another; everything else runs
 * in parallel.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>()

  async run<T>(key: string, section: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve()
    let release!: () => void
    const current = new Promise<void>((resolve) => {
      release = resolve
    })
    const tail = previous.then(() => current)
    this.tails.set(key, tail)
    await previous
    try {
      return await section()
    } finally {
      release()
      // Forget the key once nobody queues behind us, so the map does not grow with every ID seen.
      if (this.tails.get(key) === tail) this.tails.delete(key)
    }
  }
}

interface Waiter {
  exclusive: boolean
  wake: () => void
}

interface Holders {
  readers: number
  writer: boolean
  queue: Waiter[]
}

/**
 * Shared/exclusive sections per key: endpoint operations on one network share it and run in
 * parallel; the network's creation and deletion hold it alone. First come, first served: a shared
 * request queues behind a waiting exclusive one, so a DeleteNetwork is never starved by a stream
 * of Joins.
 */
export class KeyedSharedLock {
  private readonly keys = new Map<string, Holders>()

  shared<T>(key: string, section: () => Promise<T>): Promise<T> {
    return this.hold(key, false, section)
  }

  exclusive<T>(key: string, section: () => Promise<T>): Promise<T> {
    return this.hold(key, true, section)
  }

  private async hold<T>(key: string, exclusive: boolean, section: () => Promise<T>): Promise<T> {
    let holders = this.keys.get(key)
    if (!holders) {
      holders = { readers: 0, writer: false, queue: [] }
      this.keys.set(key, holders)
    }
    const state = holders
    const free = exclusive
      ? !state.writer && state.readers === 0 && state.queue.length === 0
      : !state.writer && state.queue.length === 0
    if (free) this.take(state, exclusive)
    else await new Promise<void>((wake) => state.queue.push({ exclusive, wake }))
    try {
      return await section()
    } finally {
      if (exclusive) state.writer = false
      else state.readers--
      this.next(key, state)
    }
  }

  /** Marks the lock taken; a woken waiter was marked by `next` before it ran. */
  private take(state: Holders, exclusive: boolean): void {
    if (exclusive) state.writer = true
    else state.readers++
  }

  private next(key: string, state: Holders): void {
    if (state.writer) return
    const head = state.queue[0]
    if (!head) {
      // Forget the key once nobody holds or waits, so the map does not grow with every ID seen.
      if (state.readers === 0) this.keys.delete(key)
      return
    }
    if (head.exclusive) {
      if (state.readers > 0) return
      state.queue.shift()
      this.take(state, true)
      head.wake()
      return
    }
    // Every shared waiter up to the next exclusive one goes together.
    while (state.queue[0] && !state.queue[0].exclusive) {
      const waiter = state.queue.shift()
      this.take(state, false)
      waiter?.wake()
    }
  }
}
