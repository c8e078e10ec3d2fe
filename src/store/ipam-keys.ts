import { containsIp, formatIp, formatPrefix, parseIp, parsePrefix } from '../driver/ipam/address.ts'
import type { Prefix } from '../driver/ipam/address.ts'
import { ADDRESS_SPACE } from '../driver/ipam/pool-id.ts'
import type { AllocationChange, SubnetKey } from '../driver/ports/ipam-store.ts'

/**
 * The checks both IPAM stores make before a key becomes a path or an etcd key, and before a
 * stored address is believed: only a safe space name, a canonical subnet, canonical addresses.
 */

/** The key's subnet; throws unless the space name is safe and the subnet canonical. */
export function checkedSubnet(key: SubnetKey): Prefix {
  const subnet = parsePrefix(key.subnet)
  if (!ADDRESS_SPACE.test(key.addressSpace) || !subnet || formatPrefix(subnet) !== key.subnet)
    throw new Error(`refusing IPAM table key ${JSON.stringify(key)}`)
  return subnet
}

/** The subnet as one path or key segment ("10.0.0.0_24"). */
export const subnetSegment = (key: SubnetKey): string => key.subnet.replace('/', '_')

/**
 * True if `text` is an address of `subnet` spelt canonically: the core compares spellings, so a
 * hand-edited "10.0.0.05" would not match "10.0.0.5".
 */
export function isCanonicalAddressOf(subnet: Prefix, text: string): boolean {
  const ip = parseIp(text)
  return ip !== undefined && containsIp(subnet, ip) && formatIp(ip) === text
}

/** The subnet a path or key segment names ("10.0.0.0_24" is 10.0.0.0/24); unchecked. */
export const subnetOfSegment = (segment: string): string => {
  const at = segment.lastIndexOf('_')
  return at < 0 ? segment : `${segment.slice(0, at)}/${segment.slice(at + 1)}`
}

/**
 * Throws unless the change is about one canonical address inside the key's subnet: both stores
 * refuse to write an entry that reads would reject (or that lies in another subnet's table).
 */
export function refuseForeignAddress(key: SubnetKey, change: AllocationChange): void {
  const subnet = checkedSubnet(key)
  if (change.next && change.next.address !== change.address)
    throw new Error(`IPAM change of ${change.address} carries ${change.next.address}`)
  if (!isCanonicalAddressOf(subnet, change.address))
    throw new Error(
      `refusing IPAM change of ${JSON.stringify(change.address)}: not a canonical address ` +
        `inside ${key.subnet}`
    )
}
