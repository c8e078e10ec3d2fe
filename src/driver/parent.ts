import { DriverError, invalid, printable } from '../errors.ts'
import type { DriverContext } from './context.ts'
import { short } from './context.ts'
import type { NetworkRecord, ParentOrigin } from './model.ts'
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

/** One network per parent, as with the built-in driver (moby/libnetwork#1535). */
export function assertParentFree(ctx: DriverContext, parent: string): void {
  const user = ctx.state.networkByParent(parent)
  if (user) {
    throw new DriverError(
      'conflict',
      `option "parent": network ${short(user.id)} is already using parent interface "${parent}" (one network per parent, as with the built-in ipvlan driver)`
    )
  }
}

/**
 * Finds or makes the parent. A parent we made earlier (our alias, no owner left) is adopted
 * rather than mistaken for the operator's, so it is still deleted with its network.
 */
export async function prepareParent(
  ctx: DriverContext,
  networkId: string,
  parent: string,
  options: NetworkOptions
): Promise<PreparedParent> {
  const existing = await show(ctx, parent)
  const vlan = parseVlanParent(parent)
  const vlanSpec = 'problem' in vlan ? undefined : { master: vlan.master, id: vlan.vlanId }
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
  if (!vlanSpec) {
    throw invalid(
      `option "parent": interface "${printable(parent)}" does not exist on the host, and it is not a name.VLAN sub-interface we could create (${'problem' in vlan ? vlan.problem : ''})`
    )
  }
  await createParent(ctx, networkId, parent, vlanSpec)
  return { origin: 'vlan', vlan: vlanSpec, created: true }
}

/** A parent we made is gone (host reboot, someone deleted it): make it again. */
export async function repairParent(ctx: DriverContext, network: NetworkRecord): Promise<void> {
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
}

/** Deletes a parent we created, unless someone replaced it with a link that is not ours. */
export async function removeOwnedParent(ctx: DriverContext, network: NetworkRecord): Promise<void> {
  if (network.parentOrigin === 'existing') return
  const link = await show(ctx, network.parent).catch(() => undefined)
  if (!link) return
  if (parseOwnerAlias(link.alias)?.instanceId !== ctx.instanceId) {
    ctx.log.warn('parent is no longer ours; left in place', { parent: network.parent })
    return
  }
  await removeQuietly(ctx, network.parent)
}
