import { close, closeSync, openSync, renameSync, unlinkSync, writeFileSync } from 'node:fs'
import { open, rename, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { DirSync } from './dir-sync.ts'
import { fsyncFd } from './dir-sync.ts'

let sequence = 0

const tmpName = (dir: string, name: string): string =>
  join(dir, `.${name}.${process.pid}.${sequence++}.tmp`)

/**
 * Replaces `dir/name` so that a crash leaves the old or the new content, never a torn file: a
 * temporary file is written and fsynced, renamed over the old one, then the directory is fsynced
 * (one fsync shared by concurrent writers, dir-sync.ts). Used by json-file-store.ts and
 * ipam-local-store.ts.
 */
export async function writeFileAtomic(
  dir: string,
  name: string,
  text: string,
  dirSync: DirSync
): Promise<void> {
  const tmp = tmpName(dir, name)
  try {
    const handle = await open(tmp, 'w', 0o600)
    try {
      await writeFile(handle, text)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(tmp, join(dir, name))
  } catch (error) {
    await unlink(tmp).catch(() => {})
    throw error
  }
  await dirSync.sync()
}

/**
 * Puts `text` in `dir/name` (written to a temporary file, renamed over) and resolves once it is
 * there, before any fsync; `durable` settles once the file and the directory are fsynced.
 * Until then a power loss may leave the file empty (ext4 commits a rename before delayed data):
 * JsonFileStore.load removes such an endpoint record, which no Join used (Join waits for it).
 *
 * The open, write and rename are synchronous calls: none waits for the disk, and in node's
 * thread pool (4 threads) they queued behind earlier records' fsyncs, which take seconds while
 * containers start: in a burst of 30 on one network a placement took 50 ms for the first
 * endpoint and up to 1.7 s by the twentieth (lab VM, Docker 20.10), in the path of every
 * CreateEndpoint, which libnetwork sends one at a time per network.
 */
export async function placeFileAtomic(
  dir: string,
  name: string,
  text: string,
  dirSync: DirSync
): Promise<{ durable: Promise<void> }> {
  const tmp = tmpName(dir, name)
  const fd = openSync(tmp, 'w', 0o600)
  try {
    writeFileSync(fd, text)
    renameSync(tmp, join(dir, name))
  } catch (error) {
    closeSync(fd)
    try {
      unlinkSync(tmp)
    } catch {
      // Gone already: nothing to tidy.
    }
    throw error
  }
  // The descriptor still refers to the file, now under its name. Its fsync and the directory's
  // run side by side: the rename is made, so once both are done the state is the same in either
  // order, and on a busy disk the two can share one journal commit instead of waiting for two.
  const file = (async () => {
    try {
      await fsyncFd(fd)
    } finally {
      await closeFd(fd)
    }
  })()
  const durable = Promise.all([file, dirSync.sync()]).then(() => {})
  // Awaited by the caller later (or never, if the endpoint goes first): never unhandled.
  durable.catch(() => {})
  return { durable }
}

const closeFd = promisify(close)

/** A temporary file an interrupted writeFileAtomic of `name` left behind. */
export function isLeftoverOf(entry: string, name: string): boolean {
  return entry.startsWith(`.${name}.`) && entry.endsWith('.tmp')
}
