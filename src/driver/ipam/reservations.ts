import type { AllocationChange, StoredAllocation, SubnetAllocations } from '../ports/ipam-store.ts'
import type { Allocation } from './model.ts'
import type { ServedReservation, ServedSubnet } from './served.ts'

/**
 * The switch from the embedded backend to etcd, for the addresses a network holds rather than
 * its endpoints: gateways, --aux-address and host_address (an aux address). The decision for one
 * subnet, pure; the reconciler commits it.
 *
 * Which addresses: the network records' (served.ts), not every entry of the embedded files.
 * Docker reserves a network's gateway and aux addresses before CreateNetwork and releases them
 * after DeleteNetwork, so while a record exists its addresses are held. The files are frozen at
 * the switch: an entry released in etcd since (a container's --ip, a network deleted and made
 * again) would be copied back from them on every pass, and held for ever.
 *
 * Which holder: the embedded table's entry, not one made up from the record. CreateNetwork gets
 * no PoolID, and the PoolID names the --ip-range; Docker's ReleaseAddress frees only the holder
 * with the PoolID it asks through, so a copy with another one would never be released. Docker's
 * options (the gateway request type) come along, as its own RequestAddress would have written
 * them. The table is this host's alone, so its holders become this host's HOST_ID whatever name
 * they carry (HOST_ID is often set at the switch, and defaulted to the host name before).
 *
 * Records written before aux addresses were recorded name only the gateway and host_address: the
 * other aux addresses of such networks are not copied. Static entries of the embedded table that
 * no record or endpoint explains are listed, for the reconciler to say so.
 */
export interface Reservation {
  address: string
  kind: ServedReservation['kind']
  /** Every network of this host that names it (several may share a gateway). */
  networkIds: string[]
}

export interface ReservationPlan {
  /** One compare-and-set each: this host's share of the entry, as the embedded table held it. */
  copies: { reservation: Reservation; change: AllocationChange }[]
  /** Held in the shared store by other hosts as something it cannot be shared with. */
  heldElsewhere: { reservation: Reservation; entry: StoredAllocation }[]
  /** Not this host's in the shared store, and not held as this kind in the embedded table. */
  missing: { reservation: Reservation; found: StoredAllocation | undefined }[]
  /** Static addresses of the embedded table no record or endpoint names, not held here. */
  unexplained: string[]
}

export interface PlanInput {
  host: string
  /** The shared store's table of the subnet (etcd). */
  table: SubnetAllocations
  /** The same subnet's table in this host's embedded files. */
  embedded: SubnetAllocations
  served: ServedSubnet
}

export function planReservationCopies({
  host,
  table,
  embedded,
  served,
}: PlanInput): ReservationPlan {
  const current = byAddress(table)
  const before = byAddress(embedded)
  const mine = (entry: StoredAllocation | undefined): boolean =>
    entry?.holders.some((holder) => holder.host === host) ?? false
  const plan: ReservationPlan = { copies: [], heldElsewhere: [], missing: [], unexplained: [] }
  for (const reservation of grouped(served.reservations)) {
    const { address, kind } = reservation
    const entry = current.get(address)
    // Already this host's (copied, or asked for on etcd): nothing to do, so a pass is idempotent.
    if (mine(entry)) continue
    // Only a gateway is shared, and only with other gateway holders (ipam.ts gateway()).
    if (entry && (kind !== 'gateway' || entry.kind !== 'gateway')) {
      plan.heldElsewhere.push({ reservation, entry })
      continue
    }
    const found = before.get(address)
    if (found?.kind !== kind) {
      plan.missing.push({ reservation, found })
      continue
    }
    const holders = found.holders.map((holder) => ({ ...holder, host }))
    const next: Allocation = { address, kind, holders: [...(entry?.holders ?? []), ...holders] }
    plan.copies.push({ reservation, change: { address, expect: entry?.revision ?? 0, next } })
  }
  const named = new Set([
    ...served.reservations.map((reservation) => reservation.address),
    ...served.endpoints.map((endpoint) => endpoint.address),
  ])
  for (const entry of embedded.allocations)
    if (entry.kind === 'static' && !named.has(entry.address) && !mine(current.get(entry.address)))
      plan.unexplained.push(entry.address)
  return plan
}

function byAddress(table: SubnetAllocations): Map<string, StoredAllocation> {
  return new Map(table.allocations.map((entry) => [entry.address, entry]))
}

/** One per address and kind, with every network naming it. */
function grouped(reservations: readonly ServedReservation[]): Reservation[] {
  const groups = new Map<string, Reservation>()
  for (const { address, kind, networkId } of reservations) {
    const id = `${kind} ${address}`
    const group = groups.get(id)
    if (!group) groups.set(id, { address, kind, networkIds: [networkId] })
    else if (!group.networkIds.includes(networkId)) group.networkIds.push(networkId)
  }
  return [...groups.values()]
}
