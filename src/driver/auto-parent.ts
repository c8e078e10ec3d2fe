import { DriverError, invalid, messageOf, printable } from '../errors.ts'
import { ifnameProblem } from '../ifname.ts'
import type { DriverContext } from './context.ts'
import { hostLabel } from './context.ts'
import type { DefaultRoute } from './ports/link-layer.ts'
import { LinkError } from './ports/link-layer.ts'

/**
 * `-o parent=auto` and `auto.VID`: one value for a fleet whose uplinks have different names. As
 * CNI's ipvlan plugin does without `master`, it takes the interface of the default route, but it
 * does not guess: IPv4 first, IPv6 only when there is no IPv4 default route, and a route in use
 * that leaves by several interfaces is an error. Resolved once, at CreateNetwork: the record keeps
 * the name, so a later change of default route never moves a network.
 */

export interface AutoParent {
  /** The interface the network uses: the default route's, or its sub-interface `name.VID`. */
  parent: string
  /** For auto.VID: the 802.1Q sub-interface to find or make, exactly as for `-o parent=eth0.10`. */
  vlan: { master: string; id: number } | undefined
}

/** `requested` is the option as given ("auto", "auto.10"): every error starts with it. */
export async function resolveAutoParent(
  ctx: DriverContext,
  requested: string,
  auto: { vlanId: number | undefined }
): Promise<AutoParent> {
  const uplink = await defaultRouteInterface(ctx, requested)
  if (auto.vlanId === undefined) return { parent: uplink, vlan: undefined }
  const parent = `${uplink}.${auto.vlanId}`
  const problem = ifnameProblem(parent)
  if (problem !== undefined) {
    throw invalid(
      `option "parent": ${requested}: "${parent}", VLAN ${auto.vlanId} of the default route's interface "${uplink}" on this host ${hostLabel(ctx.hostId)}, ${problem}; create that sub-interface under a shorter name and give it with -o parent=NAME`
    )
  }
  return { parent, vlan: { master: uplink, id: auto.vlanId } }
}

async function defaultRouteInterface(ctx: DriverContext, requested: string): Promise<string> {
  const host = hostLabel(ctx.hostId)
  for (const family of [4, 6] as const) {
    let routes: DefaultRoute[]
    try {
      routes = await ctx.links.defaultRoutes(family)
    } catch (error) {
      throw lookupFailure(requested, host, error)
    }
    if (routes.length === 0) continue
    // The kernel sends by the route of the lowest metric; the others are fallbacks.
    const best = Math.min(...routes.map((route) => route.metric))
    const inUse = routes.filter((route) => route.metric === best)
    const route = `the IPv${family} default route of this host ${host}`
    const advice = 'give the interface with -o parent=NAME'
    if (inUse.some((entry) => entry.devices.length === 0)) {
      throw invalid(
        `option "parent": ${requested}: ${route} names no interface (ip printed no "dev" for it); ${advice}`
      )
    }
    const devices = [...new Set(inUse.flatMap((entry) => entry.devices))]
    const [uplink] = devices
    if (devices.length > 1 || uplink === undefined) {
      throw invalid(
        `option "parent": ${requested}: ${route} leaves by several interfaces (${devices.map((d) => printable(d)).join(', ')}: a multipath route, or routes of equal metric), so which one is meant is ambiguous; ${advice}`
      )
    }
    const problem = uplink === 'lo' ? 'cannot be an ipvlan parent' : ifnameProblem(uplink)
    if (problem !== undefined) {
      throw invalid(
        `option "parent": ${requested}: ${route} leaves by "${printable(uplink)}", which ${problem}; ${advice}`
      )
    }
    return uplink
  }
  throw new DriverError(
    'not-found',
    `option "parent": ${requested}: this host ${host} has no default route, IPv4 or IPv6, to take the interface from; add one, or give the interface with -o parent=NAME`
  )
}

/** A failed `ip` run: the message names the command, so the operator can run it by hand. */
function lookupFailure(requested: string, host: string, error: unknown): DriverError {
  const message = messageOf(error)
  const command = error instanceof LinkError ? error.command : undefined
  const ran = command === undefined || message.includes(command) ? '' : ` ("${command}")`
  const kind = error instanceof LinkError && error.kind === 'timeout' ? 'unavailable' : 'internal'
  return new DriverError(
    kind,
    `option "parent": ${requested}: looking up the default route of this host ${host} failed${ran}: ${message}`,
    { cause: error }
  )
}
