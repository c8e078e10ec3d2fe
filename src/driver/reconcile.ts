import { messageOf } from '../errors.ts'
import type { DriverContext } from './context.ts'
import { ALL_NETWORKS, short } from './context.ts'
import { restoreHostLink } from './host-access.ts'
import { linkFailure } from './link-failure.ts'
import { repairParent } from './parent.ts'
import { show } from './setup.ts'
import { isProbeLinkOf, parseOwnerAlias } from './naming.ts'
import type { LinkInfo } from './ports/link-layer.ts'

export interface ReconcileReport {
  removed: string[]
}

/**
 * Deletes links this instance made that no record owns: leftovers of a crash between a kernel
 * change and the state write, of a network whose delete failed half-way, or of a network
 * creation killed mid-probe. Links of other instances and the operator's are never touched.
 */
export async function reconcile(ctx: DriverContext): Promise<ReconcileReport> {
  return ctx.mutex.run(ALL_NETWORKS, async () => {
    let links: LinkInfo[]
    try {
      links = await ctx.links.list()
    } catch (error) {
      throw linkFailure(error, { op: 'list' })
    }
    const removed: string[] = []
    for (const link of links) {
      if (!isOurs(ctx, link)) continue
      // Ownership is checked now, not when the list was taken: a Join may have run meanwhile,
      // and an endpoint record is always written before its link is created.
      if (isOwned(ctx, link.name)) continue
      try {
        await ctx.links.remove(link.name)
        removed.push(link.name)
        ctx.log.info('removed leftover link', { link: link.name, alias: link.alias })
      } catch (error) {
        ctx.log.warn('could not remove leftover link', {
          link: link.name,
          error: messageOf(error),
        })
      }
    }
    await restoreHostAccess(ctx)
    return { removed }
  })
}

/**
 * Host access links are the host's, not a container's: nothing rejoins them after a reboot or a
 * deleted link, so start-up makes them again (the parent first, when it is ours and gone).
 */
async function restoreHostAccess(ctx: DriverContext): Promise<void> {
  for (const network of ctx.state.allNetworks()) {
    if (!network.hostAccess) continue
    try {
      if (!(await show(ctx, network.parent))) {
        if (network.parentOrigin === 'existing') {
          ctx.log.warn('host access waits for the parent', { parent: network.parent })
          continue
        }
        await repairParent(ctx, network)
      }
      await restoreHostLink(ctx, network)
    } catch (error) {
      ctx.log.error('could not restore host access', {
        network: short(network.id),
        error: messageOf(error),
      })
    }
  }
}

function isOurs(ctx: DriverContext, link: LinkInfo): boolean {
  if (parseOwnerAlias(link.alias)?.instanceId === ctx.instanceId) return true
  // A probe killed between "link add" and "link set alias" has no alias yet; its name says whose it is.
  return (
    link.alias === undefined && link.kind === 'ipvlan' && isProbeLinkOf(ctx.instanceId, link.name)
  )
}

function isOwned(ctx: DriverContext, linkName: string): boolean {
  // Any parent a network uses is kept, whatever its origin: never sweep a live network's uplink.
  if (ctx.state.networkByParent(linkName)) return true
  if (ctx.state.allNetworks().some((network) => network.hostAccess?.link === linkName)) return true
  return ctx.state.allEndpoints().some((endpoint) => endpoint.ifname === linkName)
}
