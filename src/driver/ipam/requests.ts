import { invalid, printable } from '../../errors.ts'
import {
  containsIp,
  containsPrefix,
  formatIp,
  formatPrefix,
  parseIp,
  parsePrefix,
} from './address.ts'
import type { Ip } from './address.ts'
import { reservedOf } from './pick.ts'
import { ADDRESS_SPACE, ADDRESS_SPACE_RULE, decodePoolId } from './pool-id.ts'
import type { PoolSpec } from './pool-id.ts'

/** RequestPool's fields as Docker sends them ("" when not given). */
export interface PoolRequest {
  addressSpace: string
  pool: string
  subPool: string
  v6: boolean
}

/**
 * The pool a RequestPool asks for. Host bits are cleared ("10.0.0.5/24" is 10.0.0.0/24), as
 * Docker's default IPAM does for older engines that pass them on.
 */
export function parsePoolRequest(request: PoolRequest, defaultSpace: string): PoolSpec {
  const addressSpace = request.addressSpace === '' ? defaultSpace : request.addressSpace
  if (!ADDRESS_SPACE.test(addressSpace))
    throw invalid(`AddressSpace: expected ${ADDRESS_SPACE_RULE}, got "${printable(addressSpace)}"`)
  if (request.pool === '')
    throw invalid(
      'Pool: required: this IPAM driver has no default pools, so every network names its ' +
        'subnet (docker network create --subnet)'
    )
  const pool = parsePrefix(request.pool)
  if (!pool)
    throw invalid(
      'Pool: expected a subnet in CIDR form such as 10.0.0.0/24 or 2001:db8::/64, ' +
        `got "${printable(request.pool)}"`
    )
  // Docker reads an unspecified network (0.0.0.0/n, ::/n) as "pick one for me".
  if (pool.network === 0n)
    throw invalid(
      `Pool: ${formatPrefix(pool)} asks for a default pool, and this IPAM driver has none: ` +
        'expected a real subnet'
    )
  if ((pool.family === 6) !== request.v6)
    throw invalid(`V6: ${request.v6}, but Pool ${formatPrefix(pool)} is IPv${pool.family}`)
  if (request.subPool === '') return { addressSpace, pool }
  const subPool = parsePrefix(request.subPool)
  if (!subPool)
    throw invalid(
      `SubPool: expected an ip-range in CIDR form inside Pool ${formatPrefix(pool)}, ` +
        `got "${printable(request.subPool)}"`
    )
  if (!containsPrefix(pool, subPool))
    throw invalid(`SubPool: ${formatPrefix(subPool)} is not inside Pool ${formatPrefix(pool)}`)
  return { addressSpace, pool, subPool }
}

export function parsePoolId(text: string): PoolSpec {
  const spec = decodePoolId(text)
  if (!spec)
    throw invalid(
      'PoolID: expected an ID this driver returned from RequestPool, such as ' +
        `"lan,10.0.0.0/24", got "${printable(text, 120)}"`
    )
  return spec
}

/**
 * An address named in a request: plain (no prefix length), inside the pool. An --ip-range only
 * bounds the addresses the IPAM picks itself: --aux-address and --gateway may lie outside it
 * (libnetwork tolerates only ErrIPOutOfRange there, which a remote driver cannot send).
 */
export function parseAddress(text: string, spec: PoolSpec): Ip {
  const ip = parseIp(text)
  if (!ip)
    throw invalid(`Address: expected an IP address without prefix length, got "${printable(text)}"`)
  if (!containsIp(spec.pool, ip))
    throw invalid(`Address: ${formatIp(ip)} is not inside Pool ${formatPrefix(spec.pool)}`)
  return ip
}

/** Refuses the network address and the IPv4 broadcast address, which no one can hold. */
export function assertAssignable(ip: Ip, spec: PoolSpec): void {
  const reserved = reservedOf(spec.pool)
  if (!reserved.includes(ip.value)) return
  const what = ip.value === spec.pool.network ? 'network' : 'broadcast'
  throw invalid(
    `Address: ${formatIp(ip)} is the ${what} address of ${formatPrefix(spec.pool)}: ` +
      'expected an address a host can use'
  )
}
