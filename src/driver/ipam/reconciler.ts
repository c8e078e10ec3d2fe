import { messageOf, printable } from '../../errors.ts'
import type { Logger } from '../../log.ts'
import type {
  IpamStore,
  IpamTableReader,
  StoredAllocation,
  SubnetAllocations,
  SubnetKey,
} from '../ports/ipam-store.ts'
import { ADDRESS_SPACE_NAME } from './ipam.ts'
import type { Ipam } from './ipam.ts'
import type { HostLiveness } from './liveness.ts'
import { judgeSubnet } from './orphans.ts'
import type { HostReclaimer, ReclaimReport } from './reclaim.ts'
import { planReservationCopies } from './reservations.ts'
import type { Reservation } from './reservations.ts'
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
  /**
   * This host's embedded tables (<state>/ipam) when it runs on etcd: its networks' gateways and
   * aux addresses are copied from them (reservations.ts). Undefined on the embedded backend.
   */
  embedded?: IpamTableReader | undefined
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
  /** Gateways and aux addresses copied from the embedded tables into etcd in this pass. */
  copied: string[]
  /** Gateways and aux addresses not copied: another host holds them as something else. */
  reservationsHeldElsewhere: string[]
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
 *
 * On a host that switched from the embedded backend to etcd, each subnet's pass first copies the
 * gateways and aux addresses of this host's networks from the embedded tables (reservations.ts).
 */
export class IpamReconciler {
  private readonly opts: ReconcilerOptions
  /** Per subnet: orphans' first-seen times. */
  private readonly seen = new Map<string, Map<string, number>>()
  private running: Promise<IpamReconcileReport> | undefined
  /** What was said once already (warnings that would repeat every pass unchanged). */
  private readonly said = new Set<string>()

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
      copied: [],
      reservationsHeldElsewhere: [],
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
        await this.opts.ipam.exclusive(key, async () => {
          await this.copyReservations(key, report)
          await this.judge(key, report)
        })
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

  /**
   * After a switch to etcd: copies this host's networks' gateways and aux addresses that etcd
   * does not have as this host's, from the embedded tables, one compare-and-set each. Never
   * releases anything, and a copy that is done is not planned again.
   */
  private async copyReservations(key: SubnetKey, report: IpamReconcileReport): Promise<void> {
    const { store, ipam, log, embedded } = this.opts
    if (!embedded) return
    const name = servedKey(key.addressSpace, key.subnet)
    // The table first, then the records: a network still recorded after the read held its
    // gateway and aux addresses at the read (Docker releases them after DeleteNetwork).
    const table = await store.read(key)
    const served = this.opts.served().get(name)
    if (!served) return
    let previous: SubnetAllocations
    try {
      previous = await embedded.read(key)
    } catch (error) {
      // Nothing to copy from; the etcd reconciliation of the subnet goes on.
      const message = messageOf(error)
      this.once(`unreadable ${name} ${message}`, () =>
        log.warn(
          "ipam: this host's embedded IPAM table of a subnet cannot be read: its " +
            'gateways and aux addresses are not copied into etcd',
          { subnet: key.subnet, error: message }
        )
      )
      return
    }
    const plan = planReservationCopies({ host: ipam.hostId, table, embedded: previous, served })
    for (const { reservation, change } of plan.copies) {
      const done = await store.commit(key, change)
      if (!done) continue // changed since read: planned afresh next pass
      report.copied.push(reservation.address)
      log.info(
        `ipam: copied ${describe(reservation)} from this host's embedded IPAM table into etcd`,
        {
          ...fieldsOf(key, reservation),
          host: ipam.hostId,
          poolIds: [...new Set(change.next?.holders.map((holder) => holder.poolId))],
        }
      )
    }
    for (const { reservation, entry } of plan.heldElsewhere) {
      report.reservationsHeldElsewhere.push(reservation.address)
      log.error(heldElsewhere(reservation, entry), {
        ...fieldsOf(key, reservation),
        holders: entry.holders.map((holder) => holder.host),
        heldAs: entry.kind,
      })
    }
    for (const { reservation, found } of plan.missing)
      this.once(`missing ${name} ${reservation.kind} ${reservation.address}`, () =>
        log.warn(
          `ipam: ${describe(reservation)} is held by this host neither in etcd nor, as ` +
            `${reservation.kind === 'gateway' ? 'a gateway' : 'a static address'}, in its ` +
            'embedded IPAM table (reclaimed while this host was away, released by hand, or the ' +
            'table removed): not copied',
          { ...fieldsOf(key, reservation), embedded: found?.kind ?? 'absent' }
        )
      )
    const unexplained = plan.unexplained.filter(
      (address) => !this.said.has(`static ${name} ${address}`)
    )
    if (unexplained.length > 0) {
      for (const address of unexplained) this.said.add(`static ${name} ${address}`)
      log.warn(
        "ipam: static addresses of this host's embedded IPAM table that no network record names " +
          '(--aux-address of networks created by a plugin version that did not record them) and ' +
          "no endpoint uses (a container's --ip leaked) are not copied into etcd: another host may " +
          'be given them; recreate the network, or keep them out of its --ip-range',
        { subnet: key.subnet, addresses: unexplained }
      )
    }
  }

  private once(id: string, say: () => void): void {
    if (this.said.has(id)) return
    this.said.add(id)
    say()
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

/** Said at every pass while it lasts, as for an endpoint's address held elsewhere. */
function heldElsewhere(reservation: Reservation, entry: StoredAllocation): string {
  const as = entry.kind === 'gateway' ? 'its gateway' : `a ${entry.kind} address`
  const advice =
    entry.kind === 'dynamic'
      ? 'a container there was given it: disconnect or restart that container, and the ' +
        'reservation is copied at the next pass'
      : 'it is reserved twice: unless both name the same machine, give one of them another address'
  return (
    `ipam: NOT COPIED INTO ETCD: ${describe(reservation)} on this host is held by ` +
    `${holdersOf(entry)} as ${as}; ${advice}`
  )
}

function describe({ kind, address, networkIds }: Reservation): string {
  const what = kind === 'gateway' ? 'the gateway' : 'the aux address'
  const more = networkIds.length > 1 ? ` (and ${networkIds.length - 1} more)` : ''
  return `${what} ${address} of network ${networkIds[0]?.slice(0, 12) ?? '?'}${more}`
}

function fieldsOf(key: SubnetKey, { address, kind, networkIds }: Reservation) {
  return {
    address,
    subnet: key.subnet,
    kind,
    networks: networkIds.map((id) => id.slice(0, 12)),
  }
}
