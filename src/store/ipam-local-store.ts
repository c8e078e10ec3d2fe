import { mkdir, readFile, readdir, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { parseIp } from '../driver/ipam/address.ts'
import type { Allocation } from '../driver/ipam/model.ts'
import { KeyedMutex } from '../driver/lock.ts'
import type {
  AllocationChange,
  HostBeat,
  IpamStore,
  StoredAllocation,
  StoredBeat,
  SubnetAllocations,
  SubnetKey,
} from '../driver/ports/ipam-store.ts'
import type { Logger } from '../log.ts'
import { writeFileAtomic, isLeftoverOf } from './atomic-write.ts'
import { DirSync, syncDir } from './dir-sync.ts'
import {
  checkedSubnet,
  isCanonicalAddressOf,
  refuseForeignAddress,
  subnetOfSegment,
  subnetSegment,
} from './ipam-keys.ts'
import { IPAM_STATE_VERSION, decodeSubnetFile } from './ipam-records.ts'
import type { SubnetFileContent } from './ipam-records.ts'

interface Table {
  revision: number
  entries: Map<string, StoredAllocation>
}

/**
 * The embedded single-host IPAM backend: one JSON file per subnet, `<dir>/<space>/<subnet>.json`
 * ("10.0.0.0_24.json"), rewritten whole and atomically on every change. This process is the only
 * writer, so each table is read once and then served from memory; a mutex per table makes each
 * compare-and-set atomic. Revisions count the table's changes and survive restarts.
 *
 * Heartbeats live in memory only: one process is the only host of these files, so a beat says
 * nothing another process could read, and nothing of it needs to survive a restart.
 */
export class IpamLocalStore implements IpamStore {
  private readonly dir: string
  private readonly log: Logger
  private readonly tables = new Map<string, Table>()
  private readonly mutex = new KeyedMutex()
  private readonly dirSyncs = new Map<string, DirSync>()
  private readonly madeDirs = new Set<string>()
  private readonly hostBeats = new Map<string, StoredBeat>()
  private beatRevision = 0

  constructor(dir: string, log: Logger) {
    this.dir = dir
    this.log = log
  }

  async read(key: SubnetKey): Promise<SubnetAllocations> {
    const { name } = this.locate(key)
    return this.mutex.run(name, async () => {
      const table = await this.table(key)
      return {
        revision: table.revision,
        allocations: structuredClone([...table.entries.values()]),
      }
    })
  }

  async commit(key: SubnetKey, change: AllocationChange): Promise<boolean> {
    const { name, folder, file } = this.locate(key)
    refuseForeignAddress(key, change)
    return this.mutex.run(name, async () => {
      const table = await this.table(key)
      if ((table.entries.get(change.address)?.revision ?? 0) !== change.expect) return false
      const guard = change.unlessBeatMoved
      if (guard && (this.hostBeats.get(guard.host)?.revision ?? 0) !== guard.revision) return false
      const revision = table.revision + 1
      const entries = new Map(table.entries)
      if (change.next) entries.set(change.address, stored(change.next, revision))
      else entries.delete(change.address)
      const content: SubnetFileContent = {
        version: IPAM_STATE_VERSION,
        addressSpace: key.addressSpace,
        subnet: key.subnet,
        revision,
        allocations: sortByAddress([...entries.values()]),
      }
      try {
        await this.makeDir(folder)
        await writeFileAtomic(folder, file, JSON.stringify(content) + '\n', this.dirSync(folder))
      } catch (error) {
        // The file may hold the new content or the old: read it again next time.
        this.tables.delete(name)
        throw error
      }
      table.revision = revision
      table.entries = entries
      return true
    })
  }

  /** Every table with a file, and every table read since start. */
  async subnets(): Promise<SubnetKey[]> {
    const found = new Map<string, SubnetKey>()
    const spaces = await readdir(this.dir).catch((error: unknown) => {
      if (isNotFound(error)) return []
      throw ioError('list', this.dir, error)
    })
    for (const addressSpace of spaces) {
      const files = await readdir(join(this.dir, addressSpace)).catch(() => [])
      for (const file of files) {
        if (!file.endsWith('.json')) continue
        const subnet = subnetOfSegment(file.slice(0, -'.json'.length))
        const key = { addressSpace, subnet }
        try {
          checkedSubnet(key)
        } catch {
          continue // not a table file this store writes
        }
        found.set(`${addressSpace} ${subnet}`, key)
      }
    }
    for (const name of this.tables.keys()) {
      const [addressSpace = '', subnet = ''] = name.split(' ')
      found.set(name, { addressSpace, subnet })
    }
    return [...found.values()]
  }

  async beats(): Promise<StoredBeat[]> {
    return structuredClone([...this.hostBeats.values()])
  }

  async beat(
    beat: HostBeat,
    expect: number
  ): Promise<{ revision: number } | { current: StoredBeat | undefined }> {
    const current = this.hostBeats.get(beat.host)
    if ((current?.revision ?? 0) !== expect) return { current: structuredClone(current) }
    const revision = ++this.beatRevision
    this.hostBeats.set(beat.host, { ...structuredClone(beat), revision })
    return { revision }
  }

  /** Where a table lives. Keys become paths: anything but a safe space name and a canonical subnet is refused. */
  private locate(key: SubnetKey): { name: string; folder: string; file: string } {
    checkedSubnet(key)
    return {
      name: `${key.addressSpace} ${key.subnet}`,
      folder: join(this.dir, key.addressSpace),
      file: `${subnetSegment(key)}.json`,
    }
  }

  /** The table from memory, or from its file the first time (none yet: empty, revision 0). */
  private async table(key: SubnetKey): Promise<Table> {
    const { name, folder, file } = this.locate(key)
    const cached = this.tables.get(name)
    if (cached) return cached
    const path = join(folder, file)
    await this.removeLeftovers(folder, file)
    let text: string | undefined
    try {
      text = await readFile(path, 'utf8')
    } catch (error) {
      if (!isNotFound(error)) throw ioError('read', path, error)
    }
    const table: Table = { revision: 0, entries: new Map() }
    if (text !== undefined) {
      const content = decode(text, path, key)
      table.revision = content.revision
      for (const entry of content.allocations) table.entries.set(entry.address, entry)
    }
    this.tables.set(name, table)
    return table
  }

  private async removeLeftovers(folder: string, file: string): Promise<void> {
    const entries = await readdir(folder).catch((error: unknown) => {
      if (isNotFound(error)) return []
      throw ioError('list', folder, error)
    })
    for (const entry of entries.filter((e) => isLeftoverOf(e, file))) {
      // A write interrupted before its rename: the table file is still the old one.
      await unlink(join(folder, entry)).catch((error: unknown) => {
        if (!isNotFound(error))
          this.log.warn('cannot remove leftover temporary file', {
            file: join(folder, entry),
            error: String(error),
          })
      })
    }
  }

  /** Creates the folder once; a new directory is durable once its parent is fsynced. */
  private async makeDir(folder: string): Promise<void> {
    if (this.madeDirs.has(folder)) return
    const created = await mkdir(folder, { recursive: true, mode: 0o700 })
    if (created !== undefined)
      for (let dir = folder; ; dir = dirname(dir)) {
        await syncDir(dirname(dir))
        if (dir === created) break
      }
    this.madeDirs.add(folder)
  }

  private dirSync(dir: string): DirSync {
    let sync = this.dirSyncs.get(dir)
    if (!sync) this.dirSyncs.set(dir, (sync = new DirSync(dir)))
    return sync
  }
}

/**
 * A file that cannot be read as this subnet's table stops every request on the subnet, and is
 * left where it is: carrying on without it would hand out addresses that are in use.
 */
function decode(text: string, path: string, key: SubnetKey): SubnetFileContent {
  const decoded = decodeSubnetFile(text)
  if ('newer' in decoded)
    throw new Error(
      `IPAM state file ${path} has version ${decoded.newer}; this plugin reads IPAM state up ` +
        `to version ${IPAM_STATE_VERSION}: upgrade the plugin rather than downgrade, nothing ` +
        'was changed'
    )
  if ('reason' in decoded) throw invalidFile(path, key, decoded.reason)
  const { file } = decoded
  if (file.addressSpace !== key.addressSpace || file.subnet !== key.subnet)
    throw invalidFile(path, key, `it describes ${file.addressSpace} ${file.subnet}`)
  const subnet = checkedSubnet(key)
  const seen = new Set<string>()
  for (const { address } of file.allocations) {
    if (!isCanonicalAddressOf(subnet, address) || seen.has(address))
      throw invalidFile(
        path,
        key,
        `allocation ${JSON.stringify(address)} is not a canonical, unique address of the subnet`
      )
    seen.add(address)
  }
  return file
}

function invalidFile(path: string, key: SubnetKey, reason: string): Error {
  return new Error(
    `IPAM state file ${path} is invalid (${reason}): no address of ${key.subnet} is handed ` +
      'out or released until it is repaired or removed by hand (removing it forgets every ' +
      'allocation of the subnet)'
  )
}

function stored(allocation: Allocation, revision: number): StoredAllocation {
  return { ...structuredClone(allocation), revision }
}

/** Numeric order, so the file reads like the subnet. */
function sortByAddress(entries: StoredAllocation[]): StoredAllocation[] {
  const value = (entry: StoredAllocation): bigint => parseIp(entry.address)?.value ?? -1n
  return entries.sort((a, b) => (value(a) < value(b) ? -1 : value(a) > value(b) ? 1 : 0))
}

/** Names the operation and path; Node's message after it starts with the errno code. */
function ioError(operation: string, path: string, cause: unknown): Error {
  const detail = cause instanceof Error ? cause.message : String(cause)
  return new Error(`cannot ${operation} ${path}: ${detail}`, { cause })
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
}
