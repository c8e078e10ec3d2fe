import { DriverError, invalid, messageOf } from '../errors.ts'
import type { DriverContext } from './context.ts'
import { ALL_NETWORKS, short, stateFailure } from './context.ts'
import type { NetworkRecord } from './model.ts'
import { dummyParentName } from './naming.ts'
import type { IpamInput, NetworkOptionsInput } from './options.ts'
import { createHostLink, planHostAccess } from './host-access.ts'
import { parseNetworkOptions, parseSubnets } from './options.ts'
import { resolveAutoParent } from './auto-parent.ts'
import { assertParentAvailable, prepareParent, removeOwnedParent } from './parent.ts'
import { probe, removeLeftover, removeQuietly } from './setup.ts'

/** Network lifecycle: CreateNetwork, DeleteNetwork and the calls Docker makes around them. */

export interface CreateNetworkInput {
  networkId: string
  options: NetworkOptionsInput
  ipv4: readonly IpamInput[]
  ipv6: readonly IpamInput[]
}

/** No gateway address is reserved where none is used: l3, l3s and internal networks. */
export function gwAllocCheck(options: NetworkOptionsInput): {
  skipIPv4: boolean
  skipIPv6: boolean
} {
  const parsed = parseNetworkOptions(options)
  const skip = parsed.internal || parsed.mode !== 'l2'
  return { skipIPv4: skip, skipIPv6: skip }
}

/** Swarm managers call this for global-scope drivers only; we validate and pass nothing on. */
export function allocateNetwork(options: NetworkOptionsInput): Record<string, string> {
  parseNetworkOptions(options)
  return {}
}

export async function createNetwork(ctx: DriverContext, input: CreateNetworkInput): Promise<void> {
  const options = parseNetworkOptions(input.options)
  const ipv4 = parseSubnets(input.ipv4, 4)
  const ipv6 = parseSubnets(input.ipv6, 6)
  if (input.options.enableIPv4 !== false && ipv4.length === 0) {
    throw invalid('IPv4Data: the ipv4 pool is empty (give --subnet, or disable IPv4)')
  }
  if (input.options.enableIPv6 === true && ipv6.length === 0) {
    throw invalid('IPv6Data: the ipv6 pool is empty (--ipv6 needs an IPv6 --subnet)')
  }
  const { networkId } = input
  const hostAccess = planHostAccess(
    networkId,
    options,
    [...input.ipv4, ...input.ipv6],
    [...ipv4, ...ipv6]
  )
  await ctx.mutex.run(ALL_NETWORKS, () =>
    ctx.networkLock.exclusive(networkId, async () => {
      const requested = options.parent ?? dummyParentName(networkId)
      const known = ctx.state.network(networkId)
      if (known) {
        // `auto` is compared as given: where the default route points now does not matter.
        const same =
          (known.requestedParent ?? known.parent) === requested &&
          known.mode === options.mode &&
          known.flag === options.flag &&
          known.mtu === options.mtu &&
          known.internal === options.internal &&
          (known.sharedParent ?? false) === options.sharedParent &&
          JSON.stringify(known.hostAccess) === JSON.stringify(hostAccess) &&
          JSON.stringify(pools(known)) === JSON.stringify(pools({ ipv4, ipv6 }))
        if (same) return
        throw new DriverError(
          'conflict',
          `network ${short(networkId)} already exists with other options`
        )
      }
      // Resolved here, once: every later operation uses the recorded name.
      const auto = options.auto ? await resolveAutoParent(ctx, requested, options.auto) : undefined
      const parent = auto?.parent ?? requested
      assertParentAvailable(ctx, parent, options, [...ipv4, ...ipv6])
      const prepared = await prepareParent(ctx, networkId, parent, options, auto)
      const record: NetworkRecord = {
        id: networkId,
        parent,
        // Only written for auto, so other records stay as they were.
        ...(auto ? { requestedParent: requested } : {}),
        parentOrigin: prepared.origin,
        vlan: prepared.vlan,
        mode: options.mode,
        flag: options.flag,
        mtu: options.mtu,
        internal: options.internal,
        ipv4,
        ipv6,
        // Only written when set, so records of networks that do not share stay as they were.
        ...(options.sharedParent ? { sharedParent: true } : {}),
        ...(hostAccess ? { hostAccess } : {}),
      }
      try {
        await probe(ctx, record)
        await createHostLink(ctx, record)
        await ctx.store.saveNetwork(record)
      } catch (error) {
        // Only a host link that carries our mark is deleted: never one someone else named so.
        if (hostAccess) await removeLeftover(ctx, hostAccess.link).catch(() => undefined)
        if (prepared.created) await removeQuietly(ctx, parent)
        throw error instanceof DriverError ? error : stateFailure('saving network', error)
      }
      ctx.state.putNetwork(record)
      ctx.log.info('network created', {
        network: short(networkId),
        parent,
        ...(auto ? { requested } : {}),
        origin: prepared.origin,
      })
    })
  )
}

export async function deleteNetwork(ctx: DriverContext, networkId: string): Promise<void> {
  await ctx.mutex.run(ALL_NETWORKS, () =>
    ctx.networkLock.exclusive(networkId, async () => {
      const network = ctx.state.network(networkId)
      if (!network) {
        ctx.log.debug('delete of unknown network ignored', { network: short(networkId) })
        return
      }
      // Deleted endpoints' links may still be queued: none may outlive the network (or block
      // the deletion of a parent we created).
      await ctx.reaper.drain()
      // Links first, records last: if we die in between, the records still name the links.
      // A link we fail to delete keeps its alias, so start-up reconciliation removes it.
      const endpoints = ctx.state.endpointsOf(networkId)
      for (const endpoint of endpoints) await removeQuietly(ctx, endpoint.ifname)
      if (network.hostAccess) {
        // Its host routes go with it.
        await removeLeftover(ctx, network.hostAccess.link).catch((error: unknown) =>
          ctx.log.warn('host access link left in place', { error: messageOf(error) })
        )
      }
      await removeOwnedParent(ctx, network)
      try {
        for (const endpoint of endpoints) await ctx.store.deleteEndpoint(endpoint.id)
        await ctx.store.deleteNetwork(networkId)
      } catch (error) {
        throw stateFailure('deleting network', error)
      }
      for (const endpoint of endpoints) {
        ctx.state.removeEndpoint(endpoint.id)
        ctx.earlyLinks.take(endpoint.id)
        ctx.durability.forget(endpoint.id)
      }
      ctx.state.removeNetwork(networkId)
      ctx.log.info('network deleted', { network: short(networkId) })
    })
  )
}

/**
 * Pools and gateways, without the address space: a record written before the space was recorded
 * is still the same network when Docker sends it again.
 */
function pools(network: Pick<NetworkRecord, 'ipv4' | 'ipv6'>): object {
  const strip = (list: NetworkRecord['ipv4']) =>
    list.map(({ pool, gateway }) => ({ pool, gateway }))
  return [strip(network.ipv4), strip(network.ipv6)]
}
