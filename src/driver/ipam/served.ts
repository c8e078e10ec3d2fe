import type { EndpointRecord, NetworkRecord } from '../model.ts'
import { containsIp, formatIp, formatPrefix, parseIp, parsePrefix } from './address.ts'

/**
 * What this host still serves from the IPAM, as the network driver in the same process knows it:
 * its endpoint records (written at CreateEndpoint, deleted at DeleteEndpoint, kept across
 * restarts). Only subnets of this plugin's own networks whose IPAM is this plugin (the address
 * space Docker passed at CreateNetwork) are judged: an address of a network of another driver, or
 * of a network created before the address space was recorded, is not ours to judge.
 */
export interface ServedEndpoint {
  endpointId: string
  networkId: string
  /** Canonical plain address. */
  address: string
}

export interface ServedSubnet {
  addressSpace: string
  /** Canonical CIDR. */
  subnet: string
  /** Every endpoint of this host with an address in the subnet. */
  endpoints: ServedEndpoint[]
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
        entry = { addressSpace: subnet.addressSpace, subnet: formatPrefix(prefix), endpoints: [] }
        view.set(key, entry)
      }
      byNetwork.set(network.id, [...(byNetwork.get(network.id) ?? []), entry])
    }
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
