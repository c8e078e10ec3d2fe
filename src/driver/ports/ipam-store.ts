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
}

export interface IpamStore {
  read(key: SubnetKey): Promise<SubnetAllocations>
  /**
   * True once the change is durable; false when the entry moved since it was read, with nothing
   * written (the core reads again and retries, a bounded number of times). Throws on I/O errors.
   */
  commit(key: SubnetKey, change: AllocationChange): Promise<boolean>
}
