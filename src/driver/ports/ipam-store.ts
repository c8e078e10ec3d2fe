import type { Allocation } from '../ipam/model.ts'

/**
 * The IPAM core's port to its allocation table; src/store implements it on local files, and a
 * cluster backend (etcd v3) can implement it with one key per address.
 *
 * One table per subnet of an address space, not per pool: pools that share a subnet (one per
 * --ip-range, one per host) share the LAN, so an address is unique across all of them.
 */
export interface SubnetKey {
  addressSpace: string
  /** Canonical CIDR, host bits clear. */
  subnet: string
}

export interface StoredAllocation extends Allocation {
  /** Revision of the entry's last change (etcd: the key's mod_revision). Never 0. */
  revision: number
}

export interface SubnetAllocations {
  /** The table's revision when read (etcd: the range read's header revision); 0 when empty. */
  revision: number
  allocations: StoredAllocation[]
}

/**
 * One compare-and-set on one address: write `next`, or delete the entry when `next` is undefined,
 * iff the entry's revision is still `expect` (0: iff there is no entry). In etcd, one
 * transaction: If(mod_revision(key) == expect) Then(put | delete).
 */
export interface AllocationChange {
  address: string
  expect: number
  next: Allocation | undefined
  /**
   * Also iff `host`'s heartbeat is still at `revision` (0: it has none): a reclaim of a dead
   * host's address fails the moment that host writes its heartbeat again.
   */
  unlessBeatMoved?: { host: string; revision: number } | undefined
}

/** A host's "I am alive" record. Allocations never expire; only this says when a host was last up. */
export interface HostBeat {
  host: string
  /** Random per plugin process: two processes writing one host's beat share a HOST_ID. */
  instance: string
  /** Writer's wall clock, ms since the epoch. */
  at: number
  /** How often the writer beats, so a reader knows how long silence means nothing. */
  everyMs: number
}

export interface StoredBeat extends HostBeat {
  /** Revision of the beat's last write (etcd: mod_revision). Never 0. */
  revision: number
}

export interface IpamStore {
  read(key: SubnetKey): Promise<SubnetAllocations>
  /**
   * True once the change is durable; false when the entry moved since it was read, with nothing
   * written (the core reads again and retries, a bounded number of times). Throws on I/O errors,
   * and on an address that is not a canonical address of the key's subnet.
   */
  commit(key: SubnetKey, change: AllocationChange): Promise<boolean>
  /** Every table that may hold allocations (to find a host's addresses in every subnet). */
  subnets(): Promise<SubnetKey[]>
  /** Every host's last heartbeat. */
  beats(): Promise<StoredBeat[]>
  /**
   * Writes `beat` iff the host's beat is still at revision `expect` (0: none yet): the new
   * revision, or what is there now (undefined: none) with nothing written.
   */
  beat(
    beat: HostBeat,
    expect: number
  ): Promise<{ revision: number } | { current: StoredBeat | undefined }>
}

/**
 * Reading a table and nothing else: this host's embedded tables, read after it switched to etcd
 * so the reconciler can copy its networks' reservations (ipam/reservations.ts).
 */
export type IpamTableReader = Pick<IpamStore, 'read'>
