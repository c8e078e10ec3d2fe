import type { EndpointRecord, NetworkRecord } from '../model.ts'
import { containsIp, formatIp, formatPrefix, parseIp, parsePrefix } from './address.ts'

/**
 * What this host still serves from the IPAM, as the network driver in the same process knows it:
 * its endpoint records (written at CreateEndpoint, deleted at DeleteEndpoint, kept across
 * restarts), and the gateways and aux addresses its network records name. Only subnets of this
 * plugin's own networks whose IPAM is this plugin (the address space Docker passed at
 * CreateNetwork) are judged: an address of a network of another driver, or of a network created
 * before the address space was recorded, is not ours to judge.
 */
export interface ServedEndpoint {
  endpointId: string
  networkId: string
  /** Canonical plain address. */
  address: string
}

/**
 * An address a network of this host holds for as long as the network exists: Docker reserves it
 * before CreateNetwork and releases it after DeleteNetwork.
 */
export interface ServedReservation {
  /** Canonical plain address. */
  address: string
  /** As Docker's RequestAddress held it: the gateway, or a static --aux-address (host_address). */
  kind: 'gateway' | 'static'
  networkId: string
}

export interface ServedSubnet {
  addressSpace: string
  /** Canonical CIDR. */
  subnet: string
  /** Every endpoint of this host with an address in the subnet. */
  endpoints: ServedEndpoint[]
  /** The gateways and aux addresses the records name in the subnet, one per network. */
  reservations: ServedReservation[]
}

/** One entry per (address space, subnet), keyed "space subnet". */
export type ServedView = Map<string, ServedSubnet>

export const servedKey = (addressSpace: string, subnet: string): string =>
  `${addressSpace} ${subnet}`

export function servedView(networks: NetworkRecord[], endpoints: EndpointRecord[]): ServedView {
  const view: ServedView = new Map()
  const byNetwork = new Map<string, ServedSubnet[]>()
  for (const network of networks) {
    for (const subnet of [...network.ipv4, ...network.ipv6]) {
      const prefix = parsePrefix(subnet.pool)
      if (subnet.addressSpace === undefined || !prefix) continue
      const key = servedKey(subnet.addressSpace, formatPrefix(prefix))
      let entry = view.get(key)
      if (!entry) {
        entry = {
          addressSpace: subnet.addressSpace,
          subnet: formatPrefix(prefix),
          endpoints: [],
          reservations: [],
        }
        view.set(key, entry)
      }
      byNetwork.set(network.id, [...(byNetwork.get(network.id) ?? []), entry])
      reserve(entry, network.id, 'gateway', subnet.gateway)
      for (const aux of subnet.auxAddresses ?? []) reserve(entry, network.id, 'static', aux)
    }
    // host_address must be an --aux-address; older records name it here only.
    for (const cidr of network.hostAccess?.addresses ?? [])
      for (const entry of byNetwork.get(network.id) ?? [])
        reserve(entry, network.id, 'static', cidr.split('/')[0])
  }
  for (const endpoint of endpoints) {
    for (const cidr of [endpoint.ipv4, endpoint.ipv6]) {
      const ip = cidr === undefined ? undefined : parseIp(cidr.split('/')[0] ?? '')
      if (!ip) continue
      const address = formatIp(ip)
      for (const entry of byNetwork.get(endpoint.networkId) ?? []) {
        const prefix = parsePrefix(entry.subnet)
        if (prefix && containsIp(prefix, ip))
          entry.endpoints.push({ endpointId: endpoint.id, networkId: endpoint.networkId, address })
      }
    }
  }
  return view
}

/** Adds the address to the subnet's reservations if it lies in the subnet and is not there yet. */
function reserve(
  entry: ServedSubnet,
  networkId: string,
  kind: ServedReservation['kind'],
  text: string | undefined
): void {
  const ip = text === undefined ? undefined : parseIp(text)
  const prefix = parsePrefix(entry.subnet)
  if (!ip || !prefix || !containsIp(prefix, ip)) return
  const address = formatIp(ip)
  const known = entry.reservations.some(
    (r) => r.address === address && r.kind === kind && r.networkId === networkId
  )
  if (!known) entry.reservations.push({ address, kind, networkId })
}
