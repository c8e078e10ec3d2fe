import { messageOf, printable } from '../../errors.ts'
import type { Logger } from '../../log.ts'
import type { IpamStore, StoredAllocation, SubnetKey } from '../ports/ipam-store.ts'
import { ADDRESS_SPACE_NAME } from './ipam.ts'
import type { Ipam } from './ipam.ts'
import type { HostLiveness } from './liveness.ts'
import { judgeSubnet } from './orphans.ts'
import type { HostReclaimer, ReclaimReport } from './reclaim.ts'
import type { ServedView } from './served.ts'
import { servedKey } from './served.ts'

export interface ReconcilerOptions {
  ipam: Ipam
  store: IpamStore
  log: Logger
  /** What this host serves now (driver records); asked again for every subnet, after its read. */
  served: () => ServedView
  liveness: HostLiveness
  reclaimer: HostReclaimer
  /** IPAM_ORPHAN_AGE: how long an allocation is seen unused before it is released. */
  minAgeMs: number
  /** Monotonic ms (performance.now): ages survive wall-clock steps. */
  monotonic: () => number
}

export interface IpamReconcileReport {
  /** Why nothing was judged (heartbeat not verified yet, HOST_ID shared), if so. */
  skipped?: string
  released: string[]
  young: string[]
  /** Endpoints' addresses found free and taken back for this host. */
  retaken: string[]
  /** Endpoints' addresses another host holds now: two containers on one address. */
  heldElsewhere: string[]
  failed: string[]
  reclaims: ReclaimReport[]
}

/**
 * One reconciliation pass of this host's own allocations against what it still serves, then the
 * reclaim of hosts silent for longer than the grace period. main.ts runs it at start and every
 * IPAM_RECONCILE_INTERVAL, off the request paths; passes never overlap.
 *
 * "What it still serves" is the network driver's endpoint records, not Docker's replay of
 * RequestAddress at its start (RequiresRequestReplay): the records are in this process, exact and
 * durable, while a replay comes only at dockerd's start, at a time this plugin cannot know, and
 * asking the Docker API instead could deadlock the daemon. An allocation is released only when it
 * is this host's, dynamic, in a subnet of one of this plugin's networks drawn from this IPAM,
 * named by no endpoint record, and was so for IPAM_ORPHAN_AGE (Docker allocates an address just
 * before CreateEndpoint): never an address a running container here uses.
 */
export class IpamReconciler {
  private readonly opts: ReconcilerOptions
  /** Per subnet: orphans' first-seen times. */
  private readonly seen = new Map<string, Map<string, number>>()
  private running: Promise<IpamReconcileReport> | undefined

  constructor(opts: ReconcilerOptions) {
    this.opts = opts
  }

  /** One pass; a pass asked for while one runs gets that one's report. */
  pass(): Promise<IpamReconcileReport> {
    this.running ??= this.run().finally(() => (this.running = undefined))
    return this.running
  }

  private async run(): Promise<IpamReconcileReport> {
    const report: IpamReconcileReport = {
      released: [],
      young: [],
      retaken: [],
      heldElsewhere: [],
      failed: [],
      reclaims: [],
    }
    // Until this process knows HOST_ID is its own, another host's containers may look like ours.
    const state = this.opts.liveness.current
    if (state !== 'verified') return { ...report, skipped: `heartbeat ${state}` }
    // Networks drawn from Docker's own IPAM ("LocalDefault") are not in this IPAM's tables.
    const subnets = [...this.opts.served().values()].filter(
      (s) => s.addressSpace === ADDRESS_SPACE_NAME
    )
    for (const { addressSpace, subnet } of subnets) {
      const key: SubnetKey = { addressSpace, subnet }
      try {
        await this.opts.ipam.exclusive(key, () => this.judge(key, report))
      } catch (error) {
        report.failed.push(subnet)
        this.opts.log.warn('ipam: reconciliation of a subnet failed; tried again next pass', {
          subnet,
          error: messageOf(error),
        })
      }
    }
    const known = new Set(subnets.map((s) => servedKey(s.addressSpace, s.subnet)))
    for (const name of this.seen.keys()) if (!known.has(name)) this.seen.delete(name)
    try {
      report.reclaims = await this.opts.reclaimer.reclaimExpired()
    } catch (error) {
      this.opts.log.warn('ipam: reclaim of silent hosts failed; tried again next pass', {
        error: messageOf(error),
      })
    }
    return report
  }

  private async judge(key: SubnetKey, report: IpamReconcileReport): Promise<void> {
    const { store, ipam, log } = this.opts
    const name = servedKey(key.addressSpace, key.subnet)
    // The table first, then the records: an endpoint still recorded after the read held its
    // address at the read (Docker releases an address only after DeleteEndpoint).
    const table = await store.read(key)
    const served = this.opts.served().get(name)
    if (!served) return
    const judgement = judgeSubnet({
      host: ipam.hostId,
      table,
      served,
      seen: this.seen.get(name) ?? new Map(),
      now: this.opts.monotonic(),
      minAgeMs: this.opts.minAgeMs,
    })
    this.seen.set(name, judgement.seen)
    report.young.push(...judgement.young.map((entry) => entry.address))
    for (const entry of judgement.release) {
      const done = await store.commit(key, {
        address: entry.address,
        expect: entry.revision,
        next: undefined,
      })
      if (!done) continue // changed since read: judged afresh next pass
      report.released.push(entry.address)
      log.warn('ipam: released an allocation of this host that no endpoint uses', {
        subnet: key.subnet,
        address: entry.address,
        poolId: entry.holders[0]?.poolId,
      })
    }
    for (const { endpoint, entry } of judgement.lost) {
      const fields = {
        address: endpoint.address,
        subnet: key.subnet,
        endpoint: endpoint.endpointId.slice(0, 12),
        network: endpoint.networkId.slice(0, 12),
        host: ipam.hostId,
      }
      if (entry) {
        report.heldElsewhere.push(endpoint.address)
        log.error(
          `ipam: ADDRESS RECLAIMED: ${endpoint.address} of endpoint ${fields.endpoint} on this ` +
            `host is now held by ${holdersOf(entry)}: two containers may share it on the LAN; ` +
            'disconnect or restart this container to get another address',
          { ...fields, holders: entry.holders.map((holder) => holder.host) }
        )
        continue
      }
      // Free: taken back, so no other host is handed an address a container here still uses.
      const done = await store.commit(key, {
        address: endpoint.address,
        expect: 0,
        next: {
          address: endpoint.address,
          kind: 'dynamic',
          holders: [{ host: ipam.hostId, poolId: `${key.addressSpace},${key.subnet}` }],
        },
      })
      if (done) report.retaken.push(endpoint.address)
      log.error(
        `ipam: ADDRESS RECLAIMED: ${endpoint.address} of endpoint ${fields.endpoint} on this ` +
          'host was not held by this host (reclaimed while it was away, released by hand, or ' +
          `never recorded in this store, as after a switch to etcd); ${done ? 'taken back for it' : 'it changed meanwhile: judged again next pass'}`,
        fields
      )
    }
  }
}

function holdersOf(entry: StoredAllocation): string {
  return entry.holders.map((holder) => `host ${printable(holder.host)}`).join(', ')
}
