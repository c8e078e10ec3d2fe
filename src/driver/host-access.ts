import { DriverError, invalid, messageOf } from '../errors.ts'
import type { DriverContext } from './context.ts'
import { short } from './context.ts'
import type { Cidr } from './ipnet.ts'
import { ipFamily, parseCidr, poolContains } from './ipnet.ts'
import type { EndpointRecord, HostAccess, NetworkRecord, Subnet } from './model.ts'
import { hostLinkName } from './naming.ts'
import type { IpamInput, NetworkOptions } from './options.ts'
import { LinkError } from './ports/link-layer.ts'
import { addClearingLeftover, ipvlanSpec, show } from './setup.ts'

/**
 * Host access (`-o host_address`): the host cannot reach its own ipvlan containers through the
 * parent (the kernel hands a slave's traffic to other slaves, never to the master:
 * moby/moby#21735), so the driver gives the host a slave of its own on the parent, with the
 * operator's reserved address, and one host route per container through it. Host routes, not the
 * subnet: the host often has an address in that subnet on the parent itself, and its own routes
 * are never touched.
 */

const hostCidr = (ip: string, family: 4 | 6): Cidr => ({
  ip,
  prefix: family === 4 ? 32 : 128,
  family,
})

const sameIp = (a: Cidr, text: string): boolean => {
  const b = parseCidr(text.includes('/') ? text : `${text}/${a.prefix}`)
  return b !== undefined && b.family === a.family && poolContains(hostCidr(b.ip, b.family), a)
}

/**
 * Checks `host_address` against the network's pools: each address lies in one of its subnets, is
 * not a gateway, and is reserved with `--aux-address`, so Docker's IPAM never gives it to a
 * container. Returns what the record keeps, or undefined when host access was not asked for.
 */
export function planHostAccess(
  networkId: string,
  options: NetworkOptions,
  pools: readonly IpamInput[],
  subnets: readonly Subnet[]
): HostAccess | undefined {
  if (options.hostAddresses.length === 0) return undefined
  const aux = pools.flatMap((pool) => pool.auxAddresses ?? [])
  const addresses = options.hostAddresses.map((address) => {
    const family = ipFamily(address)
    if (family === undefined) throw invalid(`option "host_address": "${address}" is not an IP`)
    const cidr = hostCidr(address, family)
    const subnet = subnets.find((candidate) => {
      const pool = parseCidr(candidate.pool)
      return pool !== undefined && poolContains(pool, cidr)
    })
    if (!subnet) {
      const ofFamily = subnets.filter((candidate) => parseCidr(candidate.pool)?.family === family)
      throw invalid(
        `option "host_address": ${address} is in none of the network's IPv${family} subnets (${ofFamily.map((candidate) => candidate.pool).join(', ') || 'none'})`
      )
    }
    if (subnet.gateway !== undefined && sameIp(cidr, subnet.gateway)) {
      throw invalid(
        `option "host_address": ${address} is the gateway of ${subnet.pool}; give the host an address of its own`
      )
    }
    if (!aux.some((reserved) => sameIp(cidr, reserved))) {
      throw invalid(
        `option "host_address": ${address} is not reserved; add --aux-address host${family === 6 ? '6' : ''}=${address} so Docker never gives it to a container`
      )
    }
    return `${address}/${cidr.prefix}`
  })
  return { link: hostLinkName(networkId), addresses }
}

/** Creates the host's link with its addresses; one left by a crash (ours) is replaced. */
export async function createHostLink(ctx: DriverContext, network: NetworkRecord): Promise<void> {
  const access = network.hostAccess
  if (!access) return
  const spec = {
    ...ipvlanSpec(ctx, network, access.link, 'host', network.id),
    addresses: access.addresses,
  }
  await addClearingLeftover(ctx, spec, () => ctx.links.addHostLink(spec))
}

const routesOf = (endpoint: EndpointRecord): string[] =>
  [endpoint.ipv4, endpoint.ipv6].flatMap((address) => {
    const cidr = address === undefined ? undefined : parseCidr(address)
    return cidr ? [`${cidr.ip}/${cidr.family === 4 ? 32 : 128}`] : []
  })

/**
 * Routes the endpoint's addresses through the host's link. A missing link (host reboot) is made
 * again with the routes of every endpoint of the network; a route already there through our link
 * is kept; one through another device is the operator's, and an error.
 */
export async function routeToEndpoint(
  ctx: DriverContext,
  network: NetworkRecord,
  endpoint: EndpointRecord
): Promise<void> {
  const access = network.hostAccess
  const routes = routesOf(endpoint)
  if (!access || routes.length === 0) return
  try {
    await ctx.links.addRoutes(access.link, routes)
    return
  } catch (error) {
    if (!(error instanceof LinkError)) throw routeFailure(error, access.link, routes)
    if (error.kind === 'not-found' && !(await show(ctx, access.link))) {
      await restoreHostLink(ctx, network)
      return
    }
    if (error.kind !== 'exists') throw routeFailure(error, access.link, routes)
  }
  for (const route of routes) await addRouteOnce(ctx, access.link, route)
}

async function addRouteOnce(ctx: DriverContext, link: string, route: string): Promise<void> {
  try {
    const devices = await ctx.links.routeDevices(route)
    if (devices.includes(link)) return
    if (devices.length > 0) {
      throw new DriverError(
        'conflict',
        `host access: the host already routes ${route} through ${devices.join(', ')}; that route is not ours, so it is left alone (remove it, or give the container another address)`
      )
    }
    await ctx.links.addRoutes(link, [route])
  } catch (error) {
    throw error instanceof DriverError ? error : routeFailure(error, link, [route])
  }
}

/** Re-makes the host's link and the routes of every endpoint of the network. */
export async function restoreHostLink(ctx: DriverContext, network: NetworkRecord): Promise<void> {
  const access = network.hostAccess
  if (!access) return
  await ctx.mutex.run(`host:${network.id}`, async () => {
    if (await show(ctx, access.link)) return
    ctx.log.warn('re-creating the host access link', {
      network: short(network.id),
      link: access.link,
    })
    await createHostLink(ctx, network)
    for (const endpoint of ctx.state.endpointsOf(network.id)) {
      for (const route of routesOf(endpoint)) await addRouteOnce(ctx, access.link, route)
    }
  })
}

/** Drops the endpoint's host routes; a failure is only logged: the routes go with the link. */
export async function unrouteEndpoint(
  ctx: DriverContext,
  network: NetworkRecord | undefined,
  endpoint: EndpointRecord
): Promise<void> {
  const access = network?.hostAccess
  const routes = routesOf(endpoint)
  if (!access || routes.length === 0) return
  try {
    await ctx.links.removeRoutes(access.link, routes)
  } catch (error) {
    ctx.log.warn('could not remove host access routes', {
      routes: routes.join(' '),
      error: messageOf(error),
    })
  }
}

function routeFailure(error: unknown, link: string, routes: string[]): DriverError {
  return new DriverError(
    'unavailable',
    `host access: could not route ${routes.join(', ')} through ${link}: ${messageOf(error)}`,
    { cause: error }
  )
}
