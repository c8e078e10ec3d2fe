import { DriverError, invalid, printable } from '../errors.ts'
import type { AutoParent } from './auto-parent.ts'
import type { DriverContext } from './context.ts'
import { hostLabel, short } from './context.ts'
import { parseCidr, poolsOverlap } from './ipnet.ts'
import type { NetworkRecord, ParentOrigin, Subnet } from './model.ts'
import { parseOwnerAlias, parseVlanParent } from './naming.ts'
import type { NetworkOptions } from './options.ts'
import { createParent, removeQuietly, setUp, show } from './setup.ts'

/**
 * Parent ownership policy: which parent a network uses, whether we made it (and so delete it with
 * the network, and re-create it when it vanished), and never touching a parent that is not ours.
 */

export interface PreparedParent {
  origin: ParentOrigin
  vlan?: { master: string; id: number }
  /** True when this call created the link: a failed network creation deletes it again. */
  created: boolean
}

/**
 * One network per parent, as with the built-in driver (moby/libnetwork#1535), unless every network
 * on it opted in with `-o shared_parent=true`. The kernel keeps the ipvlan mode and flag per parent
 * (a new slave with another mode switches every slave on it), and one address table per parent, so
 * sharers must agree on mode and flag and hold disjoint subnets.
 */
export function assertParentAvailable(
  ctx: DriverContext,
  parent: string,
  options: NetworkOptions,
  subnets: readonly Subnet[]
): void {
  for (const holder of ctx.state.networksByParent(parent)) {
    const held = `network ${short(holder.id)} is already using parent interface "${parent}"`
    if (!options.sharedParent) {
      throw new DriverError(
        'conflict',
        `option "parent": ${held} (one network per parent, as with the built-in ipvlan driver; give -o shared_parent=true to every network that shares it)`
      )
    }
    if (!holder.sharedParent) {
      throw new DriverError(
        'conflict',
        `option "shared_parent": ${held} and was not created with -o shared_parent=true`
      )
    }
    if (holder.mode !== options.mode) {
      throw new DriverError(
        'conflict',
        `option "ipvlan_mode": ${held} in mode ${holder.mode}, not ${options.mode}; networks sharing a parent need the same mode (the kernel keeps one per parent)`
      )
    }
    if (holder.flag !== options.flag) {
      throw new DriverError(
        'conflict',
        `option "ipvlan_flag": ${held} with flag ${holder.flag}, not ${options.flag}; networks sharing a parent need the same flag (the kernel keeps one per parent)`
      )
    }
    const overlap = firstOverlap(subnets, [...holder.ipv4, ...holder.ipv6])
    if (overlap) {
      throw new DriverError(
        'conflict',
        `--subnet ${overlap[0]} overlaps ${overlap[1]} of network ${short(holder.id)} on parent interface "${parent}"; networks sharing a parent need disjoint subnets`
      )
    }
  }
}

function firstOverlap(
  ours: readonly Subnet[],
  theirs: readonly Subnet[]
): [string, string] | undefined {
  for (const mine of ours) {
    for (const other of theirs) {
      const a = parseCidr(mine.pool)
      const b = parseCidr(other.pool)
      if (a && b && poolsOverlap(a, b)) return [mine.pool, other.pool]
    }
  }
  return undefined
}

/**
 * Finds or makes the parent. A parent we made earlier (our alias, no owner left) is adopted
 * rather than mistaken for the operator's, so it is still deleted with its network. `auto`: what
 * `-o parent=auto[.VID]` resolved to; auto.VID's master is the default route's interface, not read
 * back from the name (that interface may itself be a name.VID), and plain `auto` creates nothing.
 */
export async function prepareParent(
  ctx: DriverContext,
  networkId: string,
  parent: string,
  options: NetworkOptions,
  auto?: AutoParent
): Promise<PreparedParent> {
  const existing = await show(ctx, parent)
  const vlan = parseVlanParent(parent)
  const named = 'problem' in vlan ? undefined : { master: vlan.master, id: vlan.vlanId }
  const vlanSpec = auto?.vlan ?? named
  if (existing) {
    const mark = parseOwnerAlias(existing.alias)
    const ours = mark?.instanceId === ctx.instanceId && mark.kind === 'parent'
    if (ours && existing.kind === 'dummy') {
      await setUp(ctx, parent)
      return { origin: 'dummy', created: false }
    }
    if (ours && existing.kind === 'vlan' && vlanSpec) {
      await setUp(ctx, parent)
      return { origin: 'vlan', vlan: vlanSpec, created: false }
    }
    if (options.parent === undefined) {
      throw new DriverError('conflict', `a link named "${parent}" already exists and is not ours`)
    }
    return { origin: 'existing', created: false }
  }
  if (options.parent === undefined) {
    await createParent(ctx, networkId, parent, undefined)
    return { origin: 'dummy', created: true }
  }
  // Plain auto creates nothing: the default route's interface was there a moment ago.
  if (!vlanSpec || (auto && !auto.vlan)) {
    const why = auto
      ? `it is the interface of this host's default route, gone since it was looked up`
      : `it is not a name.VLAN sub-interface we could create (${'problem' in vlan ? vlan.problem : ''})`
    throw invalid(
      `option "parent": interface "${printable(parent)}" does not exist on the host ${hostLabel(ctx.hostId)}, and ${why}`
    )
  }
  await createParent(ctx, networkId, parent, vlanSpec)
  return { origin: 'vlan', vlan: vlanSpec, created: true }
}

/**
 * A parent we made is gone (host reboot, someone deleted it): make it again. Joins on two networks
 * that share the parent may both find it missing, so the re-check and the re-creation run under
 * one lock per parent, and the second finds it made.
 */
export async function repairParent(ctx: DriverContext, network: NetworkRecord): Promise<void> {
  await ctx.mutex.run(`parent:${network.parent}`, async () => {
    if (await show(ctx, network.parent)) return
    ctx.log.warn('re-creating missing parent', {
      network: short(network.id),
      parent: network.parent,
    })
    if (network.parentOrigin === 'vlan' && !network.vlan) {
      throw new DriverError('internal', `network ${short(network.id)} lost its VLAN settings`)
    }
    await createParent(
      ctx,
      network.id,
      network.parent,
      network.parentOrigin === 'vlan' ? network.vlan : undefined
    )
  })
}

/**
 * Deletes a parent we created, unless another network still uses it or someone replaced it with a
 * link that is not ours.
 */
export async function removeOwnedParent(ctx: DriverContext, network: NetworkRecord): Promise<void> {
  if (network.parentOrigin === 'existing') return
  // A shared parent goes with the last network on it.
  if (ctx.state.networksByParent(network.parent).some((other) => other.id !== network.id)) return
  const link = await show(ctx, network.parent).catch(() => undefined)
  if (!link) return
  if (parseOwnerAlias(link.alias)?.instanceId !== ctx.instanceId) {
    ctx.log.warn('parent is no longer ours; left in place', { parent: network.parent })
    return
  }
  await removeQuietly(ctx, network.parent)
}
