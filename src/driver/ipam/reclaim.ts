import { DriverError, invalid, printable } from '../../errors.ts'
import type { Logger } from '../../log.ts'
import type { IpamStore, StoredAllocation, StoredBeat, SubnetKey } from '../ports/ipam-store.ts'
import type { Allocation } from './model.ts'
import type { Ipam } from './ipam.ts'

/**
 * Reclaiming a dead host's addresses: every allocation it holds, in every subnet, released by
 * compare-and-set on the entry AND on that host's heartbeat, so an entry that changed since it
 * was read is left alone, and the host coming back (its next beat) stops the reclaim at once.
 * Two ways in: the operator's explicit call (IpamAdmin.ReclaimHost on the plugin socket), and,
 * when IPAM_RECLAIM_AFTER is set, any live host once the dead one's last beat is that old.
 */
export interface ReclaimedAddress {
  addressSpace: string
  subnet: string
  address: string
  kind: string
}

export interface ReclaimReport {
  host: string
  released: ReclaimedAddress[]
  /** Entries that changed under the reclaim (or the host beat again): left as they were. */
  conflicts: ReclaimedAddress[]
  /** The reclaimed host's last beat, if it ever wrote one. */
  lastBeat: StoredBeat | undefined
}

export interface ReclaimerOptions {
  ipam: Ipam
  store: IpamStore
  log: Logger
  /** Wall clock, ms since the epoch (beats carry their writers' wall clock). */
  now: () => number
  /** IPAM_RECLAIM_AFTER in ms; undefined: only the operator reclaims. */
  graceMs?: number | undefined
}

export class HostReclaimer {
  private readonly opts: ReclaimerOptions

  constructor(opts: ReclaimerOptions) {
    this.opts = opts
  }

  /**
   * The operator's reclaim of `host`. Refused for this host itself, and for a host whose last beat
   * is recent (under three of its intervals: it looks alive) unless `force`.
   */
  async operatorReclaim(host: string, force: boolean): Promise<ReclaimReport> {
    if (host === this.opts.ipam.hostId)
      throw invalid(
        `Host: "${printable(host)}" is this host (HOST_ID): its addresses are in use here; ` +
          'run the reclaim on another host of the cluster'
      )
    const lastBeat = (await this.opts.store.beats()).find((beat) => beat.host === host)
    if (lastBeat && !force) {
      const age = this.opts.now() - lastBeat.at
      if (age < 3 * lastBeat.everyMs)
        throw new DriverError(
          'conflict',
          `Host: "${printable(host)}" wrote its heartbeat ${Math.round(age / 1000)} s ago ` +
            `(it beats every ${Math.round(lastBeat.everyMs / 1000)} s): it looks alive, and its ` +
            'containers may use these addresses; stop it first, or pass "Force": true'
        )
    }
    return this.reclaim(host, lastBeat, force ? 'operator (forced)' : 'operator')
  }

  /** Every host (not this one) whose last beat is older than the grace period. */
  async reclaimExpired(): Promise<ReclaimReport[]> {
    const { graceMs, store, ipam } = this.opts
    if (graceMs === undefined) return []
    const now = this.opts.now()
    const reports: ReclaimReport[] = []
    for (const beat of await store.beats()) {
      if (beat.host === ipam.hostId || now - beat.at < graceMs) continue
      reports.push(await this.reclaim(beat.host, beat, `grace (IPAM_RECLAIM_AFTER ${graceMs} ms)`))
    }
    return reports
  }

  private async reclaim(
    host: string,
    lastBeat: StoredBeat | undefined,
    reason: string
  ): Promise<ReclaimReport> {
    const { store, ipam, log } = this.opts
    const report: ReclaimReport = { host, released: [], conflicts: [], lastBeat }
    const guard = { host, revision: lastBeat?.revision ?? 0 }
    for (const key of await store.subnets()) {
      await ipam.exclusive(key, async () => {
        const table = await store.read(key)
        for (const entry of table.allocations) {
          const holders = entry.holders.filter((holder) => holder.host !== host)
          if (holders.length === entry.holders.length) continue
          const next = holders.length > 0 ? { ...plainOf(entry), holders } : undefined
          const item = { ...where(key), address: entry.address, kind: entry.kind }
          const done = await store.commit(key, {
            address: entry.address,
            expect: entry.revision,
            next,
            unlessBeatMoved: guard,
          })
          if (done) report.released.push(item)
          // Another host reclaiming the same one got there first: nothing left to report.
          else if (await stillHeld(store, key, entry.address, host)) report.conflicts.push(item)
        }
      })
    }
    const age = lastBeat ? this.opts.now() - lastBeat.at : undefined
    const fields = {
      host,
      by: ipam.hostId,
      reason,
      addresses: report.released.map((item) => item.address),
      lastHeartbeat: lastBeat ? new Date(lastBeat.at).toISOString() : 'never',
      ageSeconds: age === undefined ? undefined : Math.round(age / 1000),
      ...(report.conflicts.length > 0
        ? { changedMeanwhileLeftAlone: report.conflicts.map((item) => item.address) }
        : {}),
    }
    if (report.released.length > 0 || report.conflicts.length > 0)
      log.warn(`ipam: RECLAIMED ${report.released.length} address(es) of host ${host}`, fields)
    else log.debug('ipam: reclaim found nothing held', fields)
    return report
  }
}

const where = (key: SubnetKey) => ({ addressSpace: key.addressSpace, subnet: key.subnet })

function plainOf({ address, kind, holders }: StoredAllocation): Allocation {
  return { address, kind, holders }
}

async function stillHeld(
  store: IpamStore,
  key: SubnetKey,
  address: string,
  host: string
): Promise<boolean> {
  const entry = (await store.read(key)).allocations.find((e) => e.address === address)
  return entry?.holders.some((holder) => holder.host === host) ?? false
}
