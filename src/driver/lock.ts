/**
 * Serialises async sections per key: requests that touch the same network (or the set of parents)
 * run one after another, everything else runs in parallel.
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
