import { randomBytes } from 'node:crypto'
import { unlinkSync } from 'node:fs'
import { mkdir, readFile, readdir, rename, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import * as v from 'valibot'
import type { EndpointRecord, NetworkRecord } from '../driver/model.ts'
import type { Logger } from '../log.ts'
import { DirSync } from './dir-sync.ts'
import { placeFileAtomic, writeFileAtomic } from './atomic-write.ts'
import { CURRENT_STATE_VERSION, EndpointFile, NetworkFile, migrate } from './records.ts'
import type { Placed, Store, StoreSnapshot } from '../driver/ports/store.ts'

/** Docker's IDs: 64 hex characters, or a swarm network's 25 base-36 characters. */
const ID = /^(?:[0-9a-f]{64}|[0-9a-z]{25})$/

/** What one records folder holds, read before anything in it changes. */
interface Scan<R> {
  records: R[]
  invalid: { path: string; reason: string }[]
  /** Temporary files of interrupted writes. */
  leftovers: string[]
  /** Empty endpoint records: placed, then cut by a power loss before their fsync (never joined). */
  cut: string[]
  /** The first file a newer plugin wrote, if any. */
  newer?: { path: string; version: number }
}

export interface StoreStats {
  writes: number
  bytesWritten: number
  deletes: number
}

/**
 * One small JSON file per network and per endpoint, so the cost of a write does not grow with the
 * number of endpoints. Writes go (atomic-write.ts) to a temporary file that is fsynced and renamed over the old one,
 * then the directory is fsynced (one fsync shared by concurrent writers, dir-sync.ts): a crash leaves
 * either the old or the new record, never a torn one.
 */
export class JsonFileStore implements Store {
  readonly stats: StoreStats = { writes: 0, bytesWritten: 0, deletes: 0 }
  private readonly dir: string
  private readonly log: Logger
  private readonly dirSyncs = new Map<string, DirSync>()

  constructor(dir: string, log: Logger) {
    this.dir = dir
    this.log = log
  }

  async load(): Promise<StoreSnapshot> {
    // Every file is read and judged before anything changes: a file a newer plugin wrote then
    // stops the start with the state directory exactly as it was, nothing created, moved aside
    // or removed, so the newer plugin finds all of it after an upgrade.
    const networks = await this.scan('networks', NetworkFile)
    const endpoints = await this.scan('endpoints', EndpointFile)
    const newer = networks.newer ?? endpoints.newer
    if (newer !== undefined) throw newerStateError(newer.path, newer.version)
    await mkdir(join(this.dir, 'networks'), { recursive: true, mode: 0o700 })
    await mkdir(join(this.dir, 'endpoints'), { recursive: true, mode: 0o700 })
    await this.tidy(networks)
    await this.tidy(endpoints)
    const instanceId = await this.instanceId()
    return {
      instanceId,
      networks: networks.records.map(({ version: _v, ...record }) => record),
      endpoints: endpoints.records.map(({ version: _v, ...record }) => record),
    }
  }

  saveNetwork(network: NetworkRecord): Promise<void> {
    return this.write('networks', network.id, { version: CURRENT_STATE_VERSION, ...network })
  }

  deleteNetwork(id: string): Promise<void> {
    return this.remove('networks', id)
  }

  async placeEndpoint(endpoint: EndpointRecord): Promise<Placed> {
    assertId(endpoint.id)
    const dir = join(this.dir, 'endpoints')
    const text = JSON.stringify({ version: CURRENT_STATE_VERSION, ...endpoint }) + '\n'
    const placed = await placeFileAtomic(dir, `${endpoint.id}.json`, text, this.dirSync(dir))
    this.count(text)
    return placed
  }

  deleteEndpoint(id: string): Promise<void> {
    return this.remove('endpoints', id)
  }

  /** A random id per state directory; it marks the links this instance owns (see naming.ts). */
  private async instanceId(): Promise<string> {
    const file = join(this.dir, 'instance-id')
    let text: string | undefined
    try {
      text = (await readFile(file, 'utf8')).trim()
    } catch (error) {
      // Only a missing file means a new state directory. Replacing an unreadable one would
      // disown the links the old id marks.
      if (!isNotFound(error)) throw ioError('read', file, error)
    }
    if (text !== undefined) {
      if (/^[0-9a-f]{8}$/.test(text)) return text
      this.log.warn('instance-id file is invalid; writing a new one', { file })
    }
    const id = randomBytes(4).toString('hex')
    await this.atomicWrite(this.dir, 'instance-id', id + '\n')
    return id
  }

  /** Reads one records folder without changing it; `tidy` acts on what it found. */
  private async scan<S extends typeof NetworkFile | typeof EndpointFile>(
    folder: string,
    schema: S
  ): Promise<Scan<v.InferOutput<S>>> {
    const dir = join(this.dir, folder)
    const found: Scan<v.InferOutput<S>> = { records: [], invalid: [], leftovers: [], cut: [] }
    const entries = await readdir(dir).catch((error: unknown) => {
      // A missing folder is a new state directory; load creates it once nothing is newer.
      if (isNotFound(error)) return []
      throw ioError('list', dir, error)
    })
    // Sorted, so the file a newer-version error names does not depend on the file system.
    for (const entry of entries.sort()) {
      const path = join(dir, entry)
      if (entry.startsWith('.') && entry.endsWith('.tmp')) {
        found.leftovers.push(path)
        continue
      }
      if (!entry.endsWith('.json')) continue
      // An I/O error is not a verdict on the content: fail the load and touch nothing.
      const text = await readFile(path, 'utf8').catch((error: unknown) => {
        throw ioError('read', path, error)
      })
      if (text === '' && folder === 'endpoints') {
        found.cut.push(path)
        continue
      }
      const decoded = decode(schema, text, entry)
      if ('record' in decoded) found.records.push(decoded.record)
      else if ('reason' in decoded) found.invalid.push({ path, reason: decoded.reason })
      else found.newer ??= { path, version: decoded.newer }
    }
    return found
  }

  private async tidy(found: Scan<unknown>): Promise<void> {
    for (const path of found.leftovers) {
      // A write interrupted before its rename: the old record (if any) is still in place.
      await unlink(path).catch((error: unknown) => {
        if (!isNotFound(error))
          this.log.warn('cannot remove leftover temporary file', {
            file: path,
            error: String(error),
          })
      })
    }
    for (const path of found.cut) {
      // placeEndpoint's record, cut by a power loss before its fsync: Join waits for that fsync,
      // so no container used it, and the reboot took its link.
      this.log.warn('removing an endpoint record a power loss left empty (never joined)', {
        file: path,
      })
      await unlink(path).catch((error: unknown) => {
        if (!isNotFound(error)) throw ioError('remove', path, error)
      })
    }
    for (const { path, reason } of found.invalid) await this.quarantine(path, reason)
  }

  /**
   * Moves a file with invalid content aside: the plugin keeps serving the other networks, and
   * the file stays for a human to look at.
   */
  private async quarantine(file: string, reason: string): Promise<void> {
    const aside = `${file}.corrupt-${Date.now()}`
    try {
      await rename(file, aside)
    } catch (error) {
      // Skipped either way; the next load tries again.
      this.log.error('invalid state file skipped; moving it aside failed', {
        file,
        reason,
        error: String(error),
      })
      return
    }
    this.log.error('invalid state file moved aside', { file, aside, reason })
  }

  private dirSync(dir: string): DirSync {
    let sync = this.dirSyncs.get(dir)
    if (!sync) this.dirSyncs.set(dir, (sync = new DirSync(dir)))
    return sync
  }

  private async write(folder: string, id: string, record: object): Promise<void> {
    assertId(id)
    await this.atomicWrite(join(this.dir, folder), `${id}.json`, JSON.stringify(record) + '\n')
  }

  private async remove(folder: string, id: string): Promise<void> {
    assertId(id)
    const dir = join(this.dir, folder)
    try {
      // Synchronous: an unlink does not wait for the disk, and a hand-off to the thread pool
      // would cost more than the call (the fsync below is what waits).
      unlinkSync(join(dir, `${id}.json`))
    } catch (error) {
      if (isNotFound(error)) return
      throw error
    }
    this.stats.deletes++
    await this.dirSync(dir).sync()
  }

  private async atomicWrite(dir: string, name: string, text: string): Promise<void> {
    await writeFileAtomic(dir, name, text, this.dirSync(dir))
    this.count(text)
  }

  private count(text: string): void {
    this.stats.writes++
    this.stats.bytesWritten += Buffer.byteLength(text)
  }
}

function assertId(id: string): void {
  // IDs become file names: anything but Docker's ID shapes could escape the directory.
  if (!ID.test(id)) throw new Error(`refusing to store a record with id ${JSON.stringify(id)}`)
}

/**
 * Validates a state file's content; `reason` says why it cannot be used, `newer` is the version
 * of a file a newer plugin wrote (not judged: its format is unknown here).
 */
function decode<S extends typeof NetworkFile | typeof EndpointFile>(
  schema: S,
  text: string,
  name: string
): { record: v.InferOutput<S> } | { reason: string } | { newer: number } {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    return { reason: `invalid JSON: ${(error as Error).message}` }
  }
  const migrated = migrate(json)
  if ('newer' in migrated) return migrated
  const result = v.safeParse(schema, migrated.value)
  if (!result.success) return { reason: `schema mismatch: ${v.summarize(result.issues)}` }
  if (result.output.id + '.json' !== name)
    return { reason: `file name does not match id ${result.output.id}` }
  return { record: result.output }
}

/** Stops the start: a downgraded plugin must neither drop nor rewrite what a newer one wrote. */
function newerStateError(path: string, version: number): Error {
  return new Error(
    `state file ${path} has version ${version}; this plugin reads state up to version ` +
      `${CURRENT_STATE_VERSION}: upgrade the plugin (docker plugin upgrade) rather than ` +
      'downgrade, nothing was changed'
  )
}

/** Names the operation and path; Node's message after it starts with the errno code (EACCES...). */
function ioError(operation: string, path: string, cause: unknown): Error {
  const detail = cause instanceof Error ? cause.message : String(cause)
  const error: NodeJS.ErrnoException = new Error(`cannot ${operation} ${path}: ${detail}`, {
    cause,
  })
  // Also where callers of Node's own errors look for it.
  const code = (cause as NodeJS.ErrnoException | undefined)?.code
  if (code !== undefined) error.code = code
  return error
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
}
