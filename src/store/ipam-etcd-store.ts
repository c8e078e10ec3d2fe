import { randomUUID } from 'node:crypto'
import type { Prefix } from '../driver/ipam/address.ts'
import type {
  AllocationChange,
  HostBeat,
  IpamStore,
  StoredAllocation,
  StoredBeat,
  SubnetAllocations,
  SubnetKey,
} from '../driver/ports/ipam-store.ts'
import { EtcdGateway } from './etcd-gateway.ts'
import type { EtcdGatewayOptions, KeyValue } from './etcd-gateway.ts'
import { IPAM_ETCD_VALUE_VERSION, decodeValue, encodeValue } from './ipam-etcd-records.ts'
import { BEAT_HOST, decodeBeat, encodeBeat } from './ipam-etcd-beats.ts'
import {
  checkedSubnet,
  isCanonicalAddressOf,
  refuseForeignAddress,
  subnetOfSegment,
  subnetSegment,
} from './ipam-keys.ts'

export const DEFAULT_ETCD_PREFIX = '/ipvlan-lan/'

export interface IpamEtcdStoreOptions extends EtcdGatewayOptions {
  /** Ends in "/"; every key of this plugin starts with it. */
  prefix: string
}

/**
 * The cluster IPAM backend: one etcd key per held address,
 * `<prefix>ipam/<space>/<subnet with "_" for "/">/<address>` ("/ipvlan-lan/ipam/lan/10.0.0.0_24/
 * 10.0.0.5"), the allocation's JSON as value. A read is one range over the subnet's keys; a
 * change is one transaction on one key, If(mod_revision == expect) Then(put | delete), so hosts
 * never overwrite each other and etcd's revisions are the port's revisions.
 *
 * No lease: an allocation outlives its host's connection to etcd, because a host cut off from
 * etcd may still have containers on the address (Kontena IPAM's lesson). Nothing is contacted
 * before the first IPAM request, so the plugin starts (and serves the network driver) without
 * etcd.
 *
 * Heartbeats: one key per host, `<prefix>hosts/<host>`, rewritten by compare-and-set every
 * IPAM_HEARTBEAT_INTERVAL, also without a lease (a lease would expire with the connection, and
 * its expiry is exactly what must not free anything by itself).
 */
export class IpamEtcdStore implements IpamStore {
  private readonly gateway: EtcdGateway
  private readonly prefix: string

  constructor({ prefix, ...gateway }: IpamEtcdStoreOptions) {
    if (!prefix.endsWith('/')) throw new Error(`IpamEtcdStore: prefix ${prefix} must end in "/"`)
    this.prefix = prefix
    this.gateway = new EtcdGateway(gateway)
  }

  async read(key: SubnetKey): Promise<SubnetAllocations> {
    const { folder, subnet } = this.locate(key)
    const { revision, kvs } = await this.gateway.range(folder)
    const allocations = kvs.map((entry) => decodeEntry(entry, folder, subnet, key))
    return { revision, allocations }
  }

  async commit(key: SubnetKey, change: AllocationChange): Promise<boolean> {
    const { folder } = this.locate(key)
    refuseForeignAddress(key, change)
    const name = folder + change.address
    const value = change.next && encodeValue(change.next, randomUUID())
    const guard = change.unlessBeatMoved
    const outcome = await this.gateway.txn(
      { key: name, modRevision: change.expect },
      value === undefined ? { delete: { key: name } } : { put: { key: name, value } },
      guard ? [{ key: this.beatKey(guard.host), modRevision: guard.revision }] : []
    )
    if (outcome.succeeded) return true
    // The gateway tries the next member when one fails; if the failed one had applied the put
    // before its answer was lost, the key now holds exactly this write (its random id): done.
    return value !== undefined && outcome.current?.value === value
  }

  /** Every (space, subnet) with at least one key: one range over `<prefix>ipam/`. */
  async subnets(): Promise<SubnetKey[]> {
    const base = `${this.prefix}ipam/`
    const { kvs } = await this.gateway.range(base)
    const found = new Map<string, SubnetKey>()
    for (const { key } of kvs) {
      const [addressSpace = '', segment = ''] = key.slice(base.length).split('/')
      const subnetKey = { addressSpace, subnet: subnetOfSegment(segment) }
      try {
        checkedSubnet(subnetKey)
      } catch {
        continue // not a key this store writes; read() of a real subnet still judges its keys
      }
      found.set(`${addressSpace} ${subnetKey.subnet}`, subnetKey)
    }
    return [...found.values()]
  }

  /** Every host's beat; a key that is not a usable beat is skipped (and so never reclaims). */
  async beats(): Promise<StoredBeat[]> {
    const base = `${this.prefix}hosts/`
    const { kvs } = await this.gateway.range(base)
    return kvs.flatMap((entry) => {
      const decoded = decodeBeat(entry.value)
      if ('reason' in decoded || entry.key !== this.beatKey(decoded.beat.host)) return []
      return [{ ...decoded.beat, revision: entry.modRevision }]
    })
  }

  async beat(
    beat: HostBeat,
    expect: number
  ): Promise<{ revision: number } | { current: StoredBeat | undefined }> {
    const name = this.beatKey(beat.host)
    const outcome = await this.gateway.txn(
      { key: name, modRevision: expect },
      { put: { key: name, value: encodeBeat(beat) } }
    )
    if (outcome.succeeded) return { revision: outcome.revision }
    if (!outcome.current) return { current: undefined }
    const decoded = decodeBeat(outcome.current.value)
    if ('reason' in decoded)
      throw new Error(`etcd key ${name} is not a usable heartbeat (${decoded.reason})`)
    return { current: { ...decoded.beat, revision: outcome.current.modRevision } }
  }

  private beatKey(host: string): string {
    if (!BEAT_HOST.test(host))
      throw new Error(`refusing heartbeat key for host ${JSON.stringify(host)}`)
    return `${this.prefix}hosts/${host}`
  }

  /** Keys come from checked names only: a safe space name and a canonical subnet. */
  private locate(key: SubnetKey): { folder: string; subnet: Prefix } {
    const subnet = checkedSubnet(key)
    return { folder: `${this.prefix}ipam/${key.addressSpace}/${subnetSegment(key)}/`, subnet }
  }
}

/**
 * A key of the subnet that is not a valid allocation stops every request on the subnet: carrying
 * on without it would hand out an address that may be in use.
 */
function decodeEntry(
  entry: KeyValue,
  folder: string,
  subnet: Prefix,
  key: SubnetKey
): StoredAllocation {
  const name = entry.key.slice(folder.length)
  if (!isCanonicalAddressOf(subnet, name))
    throw invalidKey(entry.key, key, 'its name is not a canonical address of the subnet')
  const decoded = decodeValue(entry.value)
  if ('newer' in decoded)
    throw new Error(
      `etcd key ${entry.key} holds IPAM allocation format version ${decoded.newer}; this ` +
        `plugin reads up to version ${IPAM_ETCD_VALUE_VERSION}: upgrade the plugin on this ` +
        'host (a newer one on another host wrote it); nothing was changed'
    )
  if ('reason' in decoded) throw invalidKey(entry.key, key, decoded.reason)
  if (decoded.allocation.address !== name)
    throw invalidKey(entry.key, key, `its value is for ${decoded.allocation.address}`)
  return { ...decoded.allocation, revision: entry.modRevision }
}

function invalidKey(name: string, key: SubnetKey, reason: string): Error {
  return new Error(
    `etcd key ${name} is not a valid IPAM allocation (${reason}): no address of ${key.subnet} ` +
      `is handed out or released until it is repaired or removed by hand (etcdctl del ${name} ` +
      'forgets that allocation)'
  )
}
