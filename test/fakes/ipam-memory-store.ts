import type { Allocation } from '../../src/driver/ipam/model.ts'
import type {
  AllocationChange,
  HostBeat,
  IpamStore,
  StoredAllocation,
  StoredBeat,
  SubnetAllocations,
  SubnetKey,
} from '../../src/driver/ports/ipam-store.ts'

interface Table {
  revision: number
  entries: Map<string, StoredAllocation>
}

const yieldTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/**
 * An IpamStore in memory, shared by several Ipam instances to play several hosts on one cluster
 * store. Reads and commits yield a turn, as I/O would, so concurrent requests interleave.
 */
export class MemoryIpamStore implements IpamStore {
  private readonly tables = new Map<string, Table>()
  private readonly hostBeats = new Map<string, StoredBeat>()
  private beatRevision = 0
  commits = 0
  conflicts = 0
  /** Runs before each commit is judged: a test plays another host that got there first. */
  beforeCommit: ((key: SubnetKey, change: AllocationChange) => void) | undefined

  async read(key: SubnetKey): Promise<SubnetAllocations> {
    await yieldTurn()
    const table = this.table(key)
    return { revision: table.revision, allocations: structuredClone([...table.entries.values()]) }
  }

  async commit(key: SubnetKey, change: AllocationChange): Promise<boolean> {
    await yieldTurn()
    this.commits++
    this.beforeCommit?.(key, change)
    const table = this.table(key)
    const guard = change.unlessBeatMoved
    if (
      (table.entries.get(change.address)?.revision ?? 0) !== change.expect ||
      (guard && (this.hostBeats.get(guard.host)?.revision ?? 0) !== guard.revision)
    ) {
      this.conflicts++
      return false
    }
    this.apply(table, change.address, change.next)
    return true
  }

  async subnets(): Promise<SubnetKey[]> {
    await yieldTurn()
    return [...this.tables.keys()].map((name) => {
      const [addressSpace = '', subnet = ''] = name.split(' ')
      return { addressSpace, subnet }
    })
  }

  async beats(): Promise<StoredBeat[]> {
    await yieldTurn()
    return structuredClone([...this.hostBeats.values()])
  }

  async beat(
    beat: HostBeat,
    expect: number
  ): Promise<{ revision: number } | { current: StoredBeat | undefined }> {
    await yieldTurn()
    const current = this.hostBeats.get(beat.host)
    if ((current?.revision ?? 0) !== expect) return { current: structuredClone(current) }
    return { revision: this.putBeat(beat) }
  }

  /** Writes a heartbeat without any check, as another host would; its new revision. */
  putBeat(beat: HostBeat): number {
    const revision = ++this.beatRevision
    this.hostBeats.set(beat.host, { ...structuredClone(beat), revision })
    return revision
  }

  /** Writes without any check, as another host's commit would. */
  put(key: SubnetKey, allocation: Allocation): void {
    this.apply(this.table(key), allocation.address, allocation)
  }

  entries(key: SubnetKey): StoredAllocation[] {
    return structuredClone([...this.table(key).entries.values()])
  }

  entry(key: SubnetKey, address: string): StoredAllocation | undefined {
    return this.entries(key).find((entry) => entry.address === address)
  }

  private apply(table: Table, address: string, next: Allocation | undefined): void {
    table.revision++
    if (next) table.entries.set(address, { ...structuredClone(next), revision: table.revision })
    else table.entries.delete(address)
  }

  private table(key: SubnetKey): Table {
    const name = `${key.addressSpace} ${key.subnet}`
    let table = this.tables.get(name)
    if (!table) this.tables.set(name, (table = { revision: 0, entries: new Map() }))
    return table
  }
}
