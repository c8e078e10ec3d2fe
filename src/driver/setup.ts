import { DriverError, messageOf } from '../errors.ts'
import type { DriverContext } from './context.ts'
import { linkFailure } from './link-failure.ts'
import type { NetworkRecord } from './model.ts'
import type { AliasKind } from './naming.ts'
import { ownerAlias, parseOwnerAlias, probeLinkName } from './naming.ts'
import type { IpvlanSpec, LinkInfo } from './ports/link-layer.ts'
import { LinkError } from './ports/link-layer.ts'

/**
 * The kernel work of every phase, through the LinkLayer port: each wrapper turns a failed `ip` run
 * into an error that names what was being done. No policy here about whose link is whose beyond
 * the alias check that guards every delete of a link in our way.
 */

export function ipvlanSpec(
  ctx: DriverContext,
  network: NetworkRecord,
  name: string,
  kind: Exclude<AliasKind, 'parent'>,
  id: string
): IpvlanSpec {
  return {
    name,
    parent: network.parent,
    mode: network.mode,
    flag: network.flag,
    mtu: network.mtu,
    alias: ownerAlias(ctx.instanceId, kind, id),
  }
}

export async function show(ctx: DriverContext, name: string): Promise<LinkInfo | undefined> {
  try {
    return await ctx.links.show(name)
  } catch (error) {
    throw linkFailure(error, { op: 'show', name })
  }
}

export async function setUp(ctx: DriverContext, name: string): Promise<void> {
  try {
    await ctx.links.setUp(name)
  } catch (error) {
    throw linkFailure(error, { op: 'up', name })
  }
}

/** Makes a parent we own: an 802.1Q sub-interface when `vlan` is given, else a dummy link. */
export async function createParent(
  ctx: DriverContext,
  networkId: string,
  name: string,
  vlan: { master: string; id: number } | undefined
): Promise<void> {
  const alias = ownerAlias(ctx.instanceId, 'parent', networkId)
  try {
    if (vlan) await ctx.links.addVlan({ name, master: vlan.master, vlanId: vlan.id, alias })
    else await ctx.links.addDummy({ name, alias })
  } catch (error) {
    throw linkFailure(
      error,
      vlan ? { op: 'vlan', name, master: vlan.master, host: ctx.hostId } : { op: 'dummy', name }
    )
  }
}

/**
 * Creates and deletes a throw-away ipvlan link: a kernel without ipvlan, or a parent that refuses
 * one, fails here, plainly, before anything is recorded. The probe's name carries this instance's
 * id, so one stranded by a crash is recognised as ours by reconciliation even before its alias is set.
 */
export async function probe(ctx: DriverContext, network: NetworkRecord): Promise<void> {
  const spec = ipvlanSpec(
    ctx,
    network,
    probeLinkName(ctx.instanceId, network.id),
    'probe',
    network.id
  )
  // A probe link left by a crash mid-probe is cleared and the probe tried once more.
  await addClearingLeftover(ctx, spec, () => ctx.links.probeIpvlan(spec))
}

/**
 * Runs `add` for the ipvlan link `spec`; when a link of that name is in the way and ours (left by a
 * crash), deletes it and runs `add` once more. Failures name the link and its parent.
 */
export async function addClearingLeftover(
  ctx: DriverContext,
  spec: { name: string; parent: string },
  add: () => Promise<void>
): Promise<void> {
  const fail = (error: unknown): DriverError =>
    linkFailure(error, { op: 'ipvlan', parent: spec.parent, name: spec.name, host: ctx.hostId })
  try {
    await add()
    return
  } catch (error) {
    if (!(error instanceof LinkError && error.kind === 'exists')) throw fail(error)
    await removeLeftover(ctx, spec.name)
  }
  try {
    await add()
  } catch (error) {
    throw fail(error)
  }
}

/** Deletes a link in our way only if it carries our mark; someone else's link is an error. */
export async function removeLeftover(ctx: DriverContext, name: string): Promise<void> {
  const link = await show(ctx, name)
  const marked = parseOwnerAlias(link?.alias)?.instanceId === ctx.instanceId
  // An `ip -batch` killed between "link add" and "link set alias" leaves an unmarked ipvlan link
  // under the very name we derive from the ID: that one is ours.
  const halfMade = link?.alias === undefined && link?.kind === 'ipvlan'
  if (link && !marked && !halfMade) {
    throw new DriverError(
      'conflict',
      `a link named "${name}" already exists on the host and was not created by this plugin; remove or rename it`
    )
  }
  await removeQuietly(ctx, name)
}

/** Deletes a link, logging instead of failing: used on rollback and cleanup paths. */
export async function removeQuietly(ctx: DriverContext, name: string): Promise<void> {
  try {
    await ctx.links.remove(name)
  } catch (error) {
    ctx.log.warn('could not delete link', { link: name, error: messageOf(error) })
  }
}
