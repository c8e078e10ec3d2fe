import { open, rename, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { DirSync } from './dir-sync.ts'

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
 * there, before any fsync; `durable` settles once the file and then the directory are fsynced.
 * Until then a power loss may leave the file empty (ext4 commits a rename before delayed data):
 * JsonFileStore.load removes such an endpoint record, which no Join used (Join waits for it).
 */
export async function placeFileAtomic(
  dir: string,
  name: string,
  text: string,
  dirSync: DirSync
): Promise<{ durable: Promise<void> }> {
  const tmp = tmpName(dir, name)
  const handle = await open(tmp, 'w', 0o600)
  try {
    await writeFile(handle, text)
    await rename(tmp, join(dir, name))
  } catch (error) {
    await handle.close().catch(() => {})
    await unlink(tmp).catch(() => {})
    throw error
  }
  // The handle still refers to the file, now under its name: fsync it, then the directory.
  const durable = (async () => {
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
    await dirSync.sync()
  })()
  // Awaited by the caller later (or never, if the endpoint goes first): never unhandled.
  durable.catch(() => {})
  return { durable }
}

/** A temporary file an interrupted writeFileAtomic of `name` left behind. */
export function isLeftoverOf(entry: string, name: string): boolean {
  return entry.startsWith(`.${name}.`) && entry.endsWith('.tmp')
}
