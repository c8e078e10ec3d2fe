import { DriverError, printable } from '../../errors.ts'
import type { Logger } from '../../log.ts'
import { KeyedMutex } from '../lock.ts'
import type {
  AllocationChange,
  IpamStore,
  StoredAllocation,
  SubnetAllocations,
  SubnetKey,
} from '../ports/ipam-store.ts'
import { formatIp, formatPrefix, parseIp } from './address.ts'
import type { Ip } from './address.ts'
import { ENDPOINT_NAME, GATEWAY_REQUEST, REQUEST_ADDRESS_TYPE } from './model.ts'
import type { Allocation, Holder } from './model.ts'
import { firstFree, firstUsable } from './pick.ts'
import { encodePoolId } from './pool-id.ts'
import type { PoolSpec } from './pool-id.ts'
import { assertAssignable, parseAddress, parsePoolId, parsePoolRequest } from './requests.ts'
import type { PoolRequest } from './requests.ts'

/**
 * The only address space, for local and swarm networks alike: an address is unique on its LAN
 * whatever Docker's scope for the network.
 */
export const ADDRESS_SPACE_NAME = 'lan'

/** Compare-and-set attempts per request before giving up (conflicts come from other hosts). */
export const DEFAULT_MAX_ATTEMPTS = 8

export interface IpamOptions {
  store: IpamStore
  /** Recorded as the holder of every allocation made here; releases touch only this host's. */
  host: string
  log: Logger
  maxAttempts?: number
  /** Why requests are refused right now (a HOST_ID another live process uses), or undefined. */
  refusal?: (() => DriverError | undefined) | undefined
}

export interface AddressRequest {
  poolId: string
  /** "" to let the IPAM pick. */
  address: string
  options: ReadonlyMap<string, string>
}

export interface AddressRelease {
  poolId: string
  address: string
}

/** What one attempt decided from the table it read: a change to commit, if any, and the answer. */
interface Decision<T> {
  change?: AllocationChange
  result: T
}

/**
 * The remote IPAM driver's core (libnetwork IpamDriver.*). Pools are computed, not stored: the
 * PoolID spells the pool out (pool-id.ts). Addresses live in the store, one table per subnet;
 * every allocation or release is one compare-and-set on one address, read again and retried
 * when another host got there first.
 */
export class Ipam {
  private readonly store: IpamStore
  private readonly host: string
  private readonly log: Logger
  private readonly maxAttempts: number
  private readonly lock = new KeyedMutex()
  private readonly refusal: () => DriverError | undefined

  constructor({ store, host, log, maxAttempts = DEFAULT_MAX_ATTEMPTS, refusal }: IpamOptions) {
    if (host === '') throw new Error('Ipam: host must not be empty')
    if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1)
      throw new Error(`Ipam: maxAttempts must be a positive integer, got ${maxAttempts}`)
    this.store = store
    this.host = host
    this.log = log
    this.maxAttempts = maxAttempts
    this.refusal = refusal ?? (() => undefined)
  }

  /** This host's name on its allocations. */
  get hostId(): string {
    return this.host
  }

  /**
   * Runs `work` while no request of this process touches the subnet: reconciliation and reclaims
   * then meet compare-and-set conflicts only from other hosts.
   */
  exclusive<T>(key: SubnetKey, work: () => Promise<T>): Promise<T> {
    return this.lock.run(`${key.addressSpace} ${key.subnet}`, work)
  }

  /**
   * No MAC: ipvlan slaves share the parent's MAC, and asking for one makes libnetwork put a
   * random MAC on CreateEndpoint. No replay: allocations are durable in the store, and a replay
   * at Docker's start would ask again for addresses already held for the same endpoints.
   */
  capabilities(): { requiresMacAddress: boolean; requiresRequestReplay: boolean } {
    return { requiresMacAddress: false, requiresRequestReplay: false }
  }

  addressSpaces(): { local: string; global: string } {
    return { local: ADDRESS_SPACE_NAME, global: ADDRESS_SPACE_NAME }
  }

  /** Same request, same answer, on any host: nothing is stored. */
  requestPool(request: PoolRequest): { poolId: string; pool: string } {
    const spec = parsePoolRequest(request, ADDRESS_SPACE_NAME)
    return { poolId: encodePoolId(spec), pool: formatPrefix(spec.pool) }
  }

  /**
   * Nothing to free: pools are not stored, and Docker releases the gateway, aux and endpoint
   * addresses one by one before it releases the pool. The ID is still checked.
   */
  releasePool(poolId: string): void {
    parsePoolId(poolId)
  }

  /** The address in CIDR form with the pool's prefix length ("10.0.0.5/24"). */
  async requestAddress(request: AddressRequest): Promise<string> {
    const refused = this.refusal()
    if (refused) throw refused
    const spec = parsePoolId(request.poolId)
    let wanted: Ip | undefined
    if (request.address !== '') {
      wanted = parseAddress(request.address, spec)
      assertAssignable(wanted, spec)
    }
    const holder: Holder = { host: this.host, poolId: request.poolId }
    if (request.options.size > 0) holder.options = Object.fromEntries(request.options)
    const gateway = request.options.get(REQUEST_ADDRESS_TYPE) === GATEWAY_REQUEST
    const address = await this.transact(spec, (table, attempt) => {
      if (gateway) return this.gateway(table, spec, wanted, holder)
      if (wanted) return this.reserve(table, spec, wanted, holder)
      return this.pick(table, spec, request.poolId, holder, attempt)
    })
    return `${address}/${spec.pool.bits}`
  }

  /** Already free, or held by another host: nothing to do, and no error (Docker only logs). */
  async releaseAddress(request: AddressRelease): Promise<void> {
    // With a shared HOST_ID the address may be the other process's container's.
    const refused = this.refusal()
    if (refused) throw refused
    const spec = parsePoolId(request.poolId)
    const address = formatIp(parseAddress(request.address, spec))
    await this.transact(spec, (table): Decision<void> => {
      const entry = find(table, address)
      if (!entry) return { result: undefined }
      const mine = entry.holders.findIndex(
        (holder) => holder.host === this.host && holder.poolId === request.poolId
      )
      if (mine < 0) {
        this.log.warn('ipam: release of an address this host does not hold; left alone', {
          poolId: request.poolId,
          address,
          holders: entry.holders.map((holder) => holder.host),
        })
        return { result: undefined }
      }
      const holders = entry.holders.filter((_, index) => index !== mine)
      const next = holders.length > 0 ? { ...plain(entry), holders } : undefined
      return { change: { address, expect: entry.revision, next }, result: undefined }
    })
  }

  /** The named address or the subnet's first usable one, shared with other gateway holders. */
  private gateway(
    table: SubnetAllocations,
    spec: PoolSpec,
    wanted: Ip | undefined,
    holder: Holder
  ): Decision<string> {
    const address = formatIp(wanted ?? { family: spec.pool.family, value: firstUsable(spec.pool) })
    const entry = find(table, address)
    if (entry && entry.kind !== 'gateway') throw taken(address, entry, spec)
    const next: Allocation = {
      address,
      kind: 'gateway',
      holders: [...(entry?.holders ?? []), holder],
    }
    return { change: { address, expect: entry?.revision ?? 0, next }, result: address }
  }

  /** A static address (--ip, --aux-address): anywhere in the pool, if no one holds it. */
  private reserve(
    table: SubnetAllocations,
    spec: PoolSpec,
    wanted: Ip,
    holder: Holder
  ): Decision<string> {
    const address = formatIp(wanted)
    const entry = find(table, address)
    if (entry) throw taken(address, entry, spec)
    const next: Allocation = { address, kind: 'static', holders: [holder] }
    return { change: { address, expect: 0, next }, result: address }
  }

  /**
   * The lowest free address of the ip-range (or the pool). On the n-th attempt the n-th lowest:
   * the host that just won the lowest one tends to go for the next lowest again at once, and two
   * hosts in step would otherwise collide on every attempt.
   */
  private pick(
    table: SubnetAllocations,
    spec: PoolSpec,
    poolId: string,
    holder: Holder,
    attempt: number
  ): Decision<string> {
    const held = new Set<bigint>()
    for (const allocation of table.allocations) {
      const ip = parseIp(allocation.address)
      if (ip?.family === spec.pool.family) held.add(ip.value)
    }
    const range = spec.subPool ?? spec.pool
    const value = firstFree(range, spec.pool, held, attempt - 1)
    if (value === undefined) {
      const where = spec.subPool
        ? `ip-range ${formatPrefix(range)} of pool ${formatPrefix(spec.pool)}`
        : `pool ${formatPrefix(spec.pool)}`
      throw new DriverError(
        'conflict',
        `no free address left in ${where} (PoolID ${poolId}): every address is held or reserved`
      )
    }
    const address = formatIp({ family: spec.pool.family, value })
    const next: Allocation = { address, kind: 'dynamic', holders: [holder] }
    return { change: { address, expect: 0, next }, result: address }
  }

  /**
   * Read, decide, compare-and-set; again from a fresh read when the entry moved meanwhile.
   * Requests of this process take turns per subnet, so they never spoil each other's
   * compare-and-set: conflicts only come from other hosts sharing the store.
   */
  private transact<T>(
    spec: PoolSpec,
    decide: (table: SubnetAllocations, attempt: number) => Decision<T>
  ): Promise<T> {
    const key: SubnetKey = { addressSpace: spec.addressSpace, subnet: formatPrefix(spec.pool) }
    return this.exclusive(key, async () => {
      for (let attempt = 1; ; attempt++) {
        const table = await this.store.read(key)
        const { change, result } = decide(table, attempt)
        if (!change || (await this.store.commit(key, change))) return result
        if (attempt >= this.maxAttempts)
          throw new DriverError(
            'unavailable',
            `${key.subnet}: address ${change.address} kept changing under this request ` +
              `(${attempt} compare-and-set conflicts in a row, last read at revision ` +
              `${table.revision}): try again`
          )
        this.log.debug('ipam: address changed since it was read; reading again', {
          subnet: key.subnet,
          address: change.address,
          attempt,
        })
      }
    })
  }
}

function find(table: SubnetAllocations, address: string): StoredAllocation | undefined {
  return table.allocations.find((allocation) => allocation.address === address)
}

function plain({ address, kind, holders }: StoredAllocation): Allocation {
  return { address, kind, holders }
}

/** Names who holds the address, so the operator knows which host and container to look at. */
function taken(address: string, entry: Allocation, spec: PoolSpec): DriverError {
  const who = (holder: Holder): string => {
    const endpoint = holder.options?.[ENDPOINT_NAME]
    return (
      `host ${printable(holder.host)}` +
      (endpoint === undefined ? '' : ` for endpoint ${printable(endpoint)}`)
    )
  }
  const holders = entry.holders.slice(0, 3).map(who).join(', ')
  const more = entry.holders.length > 3 ? ` and ${entry.holders.length - 3} more` : ''
  const as =
    entry.kind === 'gateway'
      ? 'as the gateway'
      : `as a ${entry.kind} address (PoolID ${entry.holders[0]?.poolId ?? '?'})`
  return new DriverError(
    'conflict',
    `Address: ${address} is already taken in ${formatPrefix(spec.pool)}: held by ` +
      `${holders}${more} ${as}`
  )
}
