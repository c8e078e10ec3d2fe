import { DriverError, messageOf } from '../errors.ts'
import type { DriverContext } from './context.ts'
import { endpointKey, requireNetwork, short, stateFailure } from './context.ts'
import { routeToEndpoint } from './host-access.ts'
import { joinResult } from './join-result.ts'
import { linkFailure } from './link-failure.ts'
import type { JoinResult, NetworkRecord } from './model.ts'
import { repairParent } from './parent.ts'
import type { IpvlanSpec } from './ports/link-layer.ts'
import { LinkError } from './ports/link-layer.ts'
import { ipvlanSpec, removeLeftover } from './setup.ts'

/**
 * Join creates the endpoint's ipvlan link in the host namespace; libnetwork moves it into the
 * container, addresses it and applies the routes we return.
 */
export async function join(
  ctx: DriverContext,
  networkId: string,
  endpointId: string
): Promise<JoinResult> {
  // The link was started when CreateEndpoint answered; that start takes the locks below itself.
  const early = ctx.earlyLinks.running(endpointId)
  if (early) await early
  const result = await ctx.networkLock.shared(networkId, () =>
    ctx.mutex.run(endpointKey(endpointId), async () => {
      const network = requireNetwork(ctx, networkId)
      const endpoint = ctx.state.endpoint(endpointId)
      if (!endpoint || endpoint.networkId !== networkId) {
        throw new DriverError(
          'not-found',
          `endpoint ${short(endpointId)} not found on network ${short(networkId)}`
        )
      }
      if (!ctx.earlyLinks.take(endpointId)) {
        await addEndpointLink(
          ctx,
          network,
          ipvlanSpec(ctx, network, endpoint.ifname, 'ep', endpointId)
        )
      }
      await routeToEndpoint(ctx, network, endpoint)
      return joinResult(network, endpoint)
    })
  )
  // CreateEndpoint answered before its record's fsyncs: no container gets an endpoint a power
  // loss could forget. Waited for last, so they overlap the link work above.
  try {
    await ctx.durability.wait(endpointId)
  } catch (error) {
    throw stateFailure('saving endpoint', error)
  }
  return result
}

/**
 * The early start of an endpoint's link, run after CreateEndpoint answered, under the same locks as
 * Join. False when there is nothing to make (the endpoint or its network is gone) or it failed:
 * Join then makes the link itself and reports any failure to Docker.
 */
export function makeEarlyLink(
  ctx: DriverContext,
  networkId: string,
  endpointId: string
): Promise<boolean> {
  return ctx.networkLock.shared(networkId, () =>
    ctx.mutex.run(endpointKey(endpointId), async () => {
      const network = ctx.state.network(networkId)
      const endpoint = ctx.state.endpoint(endpointId)
      if (!network || endpoint?.networkId !== networkId) return false
      try {
        await addEndpointLink(
          ctx,
          network,
          ipvlanSpec(ctx, network, endpoint.ifname, 'ep', endpointId)
        )
        return true
      } catch (error) {
        ctx.log.debug('early endpoint link failed; Join makes it', {
          endpoint: short(endpointId),
          error: messageOf(error),
        })
        return false
      }
    })
  )
}

/** Nothing to undo: libnetwork has already moved the link back; DeleteEndpoint deletes it. */
export function leave(): void {}

/** Creates the link, clearing what a crash left in its way or re-making a parent we own, once. */
async function addEndpointLink(
  ctx: DriverContext,
  network: NetworkRecord,
  spec: IpvlanSpec
): Promise<void> {
  try {
    await ctx.ipvlans.add(spec)
    return
  } catch (error) {
    if (!(error instanceof LinkError))
      throw linkFailure(error, { op: 'ipvlan', ...spec, host: ctx.hostId })
    if (error.kind === 'exists') {
      // Left in the host namespace by an earlier Join that failed later on: start afresh.
      await removeLeftover(ctx, spec.name)
    } else if (error.kind === 'not-found' && network.parentOrigin !== 'existing') {
      await repairParent(ctx, network)
    } else {
      throw linkFailure(error, { op: 'ipvlan', ...spec, host: ctx.hostId })
    }
  }
  try {
    await ctx.ipvlans.add(spec)
  } catch (error) {
    throw linkFailure(error, { op: 'ipvlan', ...spec, host: ctx.hostId })
  }
}
