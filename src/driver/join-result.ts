import { parseCidr, poolContains } from './ipnet.ts'
import type { EndpointRecord, JoinResult, NetworkRecord, StaticRoute, Subnet } from './model.ts'

const CONNECTED = 1

/**
 * What the built-in driver tells libnetwork at Join (moby ipvlan_joinleave.go):
 * - internal networks: no gateway, no default route; in l3/l3s, an on-link route to each of the
 *   network's other subnets, because the parent routes between them (Docker 20.10's built-in
 *   reaches across the subnets of a parent-less l3 network, and moby's integration suite expects
 *   it for --internal l3 too: testIpvlanL3InternalMode);
 * - l2: the gateway of the subnet holding the endpoint's address becomes the default route;
 * - l3/l3s: no gateway, a connected default route ("default dev eth0") per address family.
 * DisableGatewayService always: no docker_gwbridge leg (moby/libnetwork#759, #775).
 */
export function joinResult(network: NetworkRecord, endpoint: EndpointRecord): JoinResult {
  const result: JoinResult = {
    srcName: endpoint.ifname,
    dstPrefix: 'eth',
    staticRoutes: [],
    disableGatewayService: true,
  }
  if (network.internal) {
    if (network.mode !== 'l2') result.staticRoutes = peerSubnetRoutes(network, endpoint)
    return result
  }
  if (network.mode === 'l2') {
    const gateway = gatewayFor(network.ipv4, endpoint.ipv4)
    const gatewayIPv6 = gatewayFor(network.ipv6, endpoint.ipv6)
    if (gateway !== undefined) result.gateway = gateway
    if (gatewayIPv6 !== undefined) result.gatewayIPv6 = gatewayIPv6
    return result
  }
  const routes: StaticRoute[] = []
  if (endpoint.ipv4 !== undefined) routes.push({ destination: '0.0.0.0/0', routeType: CONNECTED })
  if (endpoint.ipv6 !== undefined) routes.push({ destination: '::/0', routeType: CONNECTED })
  result.staticRoutes = routes
  return result
}

/** The gateway of the most specific subnet that holds `address`. */
function gatewayFor(subnets: readonly Subnet[], address: string | undefined): string | undefined {
  const ip = address === undefined ? undefined : parseCidr(address)
  if (!ip) return undefined
  let best: { prefix: number; gateway: string } | undefined
  for (const subnet of subnets) {
    const pool = parseCidr(subnet.pool)
    if (!pool || subnet.gateway === undefined || !poolContains(pool, ip)) continue
    if (!best || pool.prefix > best.prefix) best = { prefix: pool.prefix, gateway: subnet.gateway }
  }
  return best?.gateway
}

/**
 * Connected routes to the network's subnets other than the endpoint's own (the kernel already
 * has that one: adding it again would fail the join with "file exists").
 */
function peerSubnetRoutes(network: NetworkRecord, endpoint: EndpointRecord): StaticRoute[] {
  const routes: StaticRoute[] = []
  for (const [subnets, address] of [
    [network.ipv4, endpoint.ipv4],
    [network.ipv6, endpoint.ipv6],
  ] as const) {
    const ip = address === undefined ? undefined : parseCidr(address)
    if (!ip) continue
    for (const subnet of subnets) {
      const pool = parseCidr(subnet.pool)
      if (!pool || poolContains(pool, ip)) continue
      routes.push({ destination: subnet.pool, routeType: CONNECTED })
    }
  }
  return routes
}
