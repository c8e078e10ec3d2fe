import type { StoredAllocation, SubnetAllocations } from '../ports/ipam-store.ts'
import type { ServedEndpoint, ServedSubnet } from './served.ts'

/**
 * The reconciliation decision for one subnet, pure: which of this host's allocations no endpoint
 * uses any more (released once seen so for `minAgeMs`), and which endpoints of this host use an
 * address this host no longer holds (reclaimed while it was away, or taken by another host).
 *
 * Only dynamic allocations are ever released: the IPAM picked those for an endpoint. A static
 * one may be an --aux-address (a host_address, a router), which no endpoint record names, and a
 * gateway is held per network, not per endpoint; both stay until Docker releases them.
 */
export interface SubnetJudgement {
  /** Orphans seen unused for at least minAgeMs: release each with a compare-and-set. */
  release: StoredAllocation[]
  /** Orphans seen for less than minAgeMs (an endpoint may be about to be created). */
  young: StoredAllocation[]
  /** Endpoints whose address this host does not hold; `entry` is what holds it now. */
  lost: { endpoint: ServedEndpoint; entry: StoredAllocation | undefined }[]
  /** The first-seen times to keep for the next pass (only orphans still orphaned). */
  seen: Map<string, number>
}

export interface JudgeInput {
  host: string
  table: SubnetAllocations
  served: ServedSubnet
  /** First-seen times from the last pass: "address@revision" -> monotonic ms. */
  seen: ReadonlyMap<string, number>
  /** Monotonic ms: a clock step never makes an allocation old. */
  now: number
  minAgeMs: number
}

export function judgeSubnet({
  host,
  table,
  served,
  seen,
  now,
  minAgeMs,
}: JudgeInput): SubnetJudgement {
  const used = new Set(served.endpoints.map((endpoint) => endpoint.address))
  const byAddress = new Map(table.allocations.map((entry) => [entry.address, entry]))
  const judgement: SubnetJudgement = { release: [], young: [], lost: [], seen: new Map() }
  for (const entry of table.allocations) {
    const mine = entry.holders.length === 1 && entry.holders[0]?.host === host
    if (entry.kind !== 'dynamic' || !mine || used.has(entry.address)) continue
    // Keyed by revision too: an address released and taken again is a new allocation.
    const id = `${entry.address}@${entry.revision}`
    const first = seen.get(id) ?? now
    judgement.seen.set(id, first)
    if (now - first >= minAgeMs) judgement.release.push(entry)
    else judgement.young.push(entry)
  }
  for (const endpoint of served.endpoints) {
    const entry = byAddress.get(endpoint.address)
    if (!entry?.holders.some((holder) => holder.host === host))
      judgement.lost.push({ endpoint, entry })
  }
  return judgement
}
