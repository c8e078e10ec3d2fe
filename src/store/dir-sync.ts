import { closeSync, fsync, openSync } from 'node:fs'
import { promisify } from 'node:util'

/**
 * fsyncs of one directory, shared by concurrent writers. A rename or unlink is durable once an
 * fsync of its directory that started after it has finished, so callers arriving while one runs
 * all wait for the next one: N concurrent record writes cost two directory fsyncs, not N (each
 * takes tens of milliseconds on a slow disk, and they queue in node's small thread pool).
 */
export class DirSync {
  private readonly dir: string
  private readonly fsync: (dir: string) => Promise<void>
  private current: Promise<void> | undefined
  private queued: Promise<void> | undefined

  /** `fsync` is injectable for tests. */
  constructor(dir: string, fsync: (dir: string) => Promise<void> = syncDir) {
    this.dir = dir
    this.fsync = fsync
  }

  /** Resolves once an fsync of the directory that started after this call has finished. */
  sync(): Promise<void> {
    if (this.queued) return this.queued
    if (!this.current) return this.start()
    const queued = this.current
      .catch(() => {})
      .then(() => {
        this.queued = undefined
        return this.start()
      })
    this.queued = queued
    return queued
  }

  private start(): Promise<void> {
    const current = this.fsync(this.dir).finally(() => {
      if (this.current === current) this.current = undefined
    })
    this.current = current
    return current
  }
}

/**
 * Opens and closes the directory synchronously (neither waits for the disk) and fsyncs it in the
 * thread pool: one hand-off to the pool instead of three, each of which costs a thread wake-up
 * (about 1 ms a hand-off in the lab VM's emulated CPUs).
 */
export async function syncDir(dir: string): Promise<void> {
  const fd = openSync(dir, 'r')
  try {
    await fsyncFd(fd)
  } finally {
    closeSync(fd)
  }
}

/** fsync(2) of an open descriptor, in the thread pool. */
export const fsyncFd = promisify(fsync)
