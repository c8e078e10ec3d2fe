import { parseCidr, poolContains } from './ipnet.ts'
import type { EndpointRecord, JoinResult, NetworkRecord, StaticRoute, Subnet } from './model.ts'

const CONNECTED = 1

/**
 * What the built-in driver tells libnetwork at Join (moby ipvlan_joinleave.go):
 * - internal networks: no gateway, no routes;
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
  if (network.internal) return result
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
