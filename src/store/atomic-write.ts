import { open, rename, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { DirSync } from './dir-sync.ts'

let sequence = 0

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
  const tmp = join(dir, `.${name}.${process.pid}.${sequence++}.tmp`)
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

/** A temporary file an interrupted writeFileAtomic of `name` left behind. */
export function isLeftoverOf(entry: string, name: string): boolean {
  return entry.startsWith(`.${name}.`) && entry.endsWith('.tmp')
}
