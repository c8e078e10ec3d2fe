import { DriverError, invalid, printable } from '../errors.ts'
import type { DriverContext } from './context.ts'
import { endpointKey, requireNetwork, short, stateFailure } from './context.ts'
import { unrouteEndpoint } from './host-access.ts'
import { parseCidr } from './ipnet.ts'
import type { EndpointRecord } from './model.ts'
import { makeEarlyLink } from './join-leave.ts'
import { endpointLinkName } from './naming.ts'

/**
 * Endpoint lifecycle: CreateEndpoint records the endpoint (answering before the record's fsyncs,
 * which Join waits for: durability.ts) and, once it has answered, starts making its link for Join
 * (early-link.ts); DeleteEndpoint deletes the record, answers, and then the link
 * (link-reaper.ts).
 */

export interface CreateEndpointInput {
  networkId: string
  endpointId: string
  address: string
  addressIPv6: string
  macAddress: string
  /** A MAC given through the endpoint options (com.docker.network.endpoint.macaddress). */
  optionsMacAddress: boolean
}

export async function createEndpoint(
  ctx: DriverContext,
  input: CreateEndpointInput
): Promise<void> {
  if (input.macAddress !== '' || input.optionsMacAddress) {
    throw invalid(
      "Interface.MacAddress: ipvlan links cannot take a MAC address (they share the parent's), so --mac-address is not supported on this network"
    )
  }
  const ipv4 = optionalCidr(input.address, 4, 'Interface.Address')
  const ipv6 = optionalCidr(input.addressIPv6, 6, 'Interface.AddressIPv6')
  const { networkId, endpointId } = input
  const created = await ctx.networkLock.shared(networkId, () =>
    ctx.mutex.run(endpointKey(endpointId), async () => {
      requireNetwork(ctx, networkId)
      const record: EndpointRecord = {
        id: endpointId,
        networkId,
        ifname: endpointLinkName(endpointId),
        ipv4,
        ipv6,
      }
      const known = ctx.state.endpoint(endpointId)
      if (known) {
        if (known.networkId === networkId && known.ipv4 === ipv4 && known.ipv6 === ipv6) {
          return false
        }
        throw new DriverError(
          'conflict',
          `endpoint ${short(endpointId)} already exists with other addresses`
        )
      }
      try {
        const placed = await ctx.store.placeEndpoint(record)
        ctx.durability.track(endpointId, placed.durable)
      } catch (error) {
        throw stateFailure('saving endpoint', error)
      }
      ctx.state.putEndpoint(record)
      ctx.log.debug('endpoint created', { endpoint: short(endpointId), ipv4, ipv6 })
      return true
    })
  )
  // After the record (so start-up reconciliation never sees a link without one), after the
  // answer: the link is made while Docker sets up the container's namespace, ready for Join.
  if (created) ctx.earlyLinks.start(endpointId, () => makeEarlyLink(ctx, networkId, endpointId))
}

export async function deleteEndpoint(
  ctx: DriverContext,
  networkId: string,
  endpointId: string
): Promise<void> {
  // An early link start still running would create the link after its deletion was queued.
  const early = ctx.earlyLinks.running(endpointId)
  if (early) await early
  // Serialise on the network the endpoint really belongs to, whatever the request says.
  const owner = ctx.state.endpoint(endpointId)?.networkId ?? networkId
  await ctx.networkLock.shared(owner, () =>
    ctx.mutex.run(endpointKey(endpointId), async () => {
      const endpoint = ctx.state.endpoint(endpointId)
      if (!endpoint || endpoint.networkId !== owner) {
        ctx.log.debug('delete of unknown endpoint ignored', { endpoint: short(endpointId) })
        return
      }
      await unrouteEndpoint(ctx, ctx.state.network(owner), endpoint)
      try {
        await ctx.store.deleteEndpoint(endpointId)
      } catch (error) {
        throw stateFailure('deleting endpoint', error)
      }
      ctx.state.removeEndpoint(endpointId)
      ctx.earlyLinks.take(endpointId)
      ctx.durability.forget(endpointId)
      // The record goes first, then the link, after this answer: a crash in between leaves a link
      // no record owns, and start-up reconciliation deletes it.
      ctx.reaper.remove(endpoint.ifname)
      ctx.log.debug('endpoint deleted', { endpoint: short(endpointId) })
    })
  )
}

export function endpointOperInfo(
  ctx: DriverContext,
  networkId: string,
  endpointId: string
): Record<string, string> {
  const endpoint = ctx.state.endpoint(endpointId)
  if (!endpoint || endpoint.networkId !== networkId) return {}
  return { 'ipvlan-lan.link': endpoint.ifname }
}

function optionalCidr(text: string, family: 4 | 6, field: string): string | undefined {
  if (text === '') return undefined
  const cidr = parseCidr(text)
  if (!cidr || cidr.family !== family) {
    throw invalid(`${field}: "${printable(text)}" is not an IPv${family} address in CIDR form`)
  }
  return text
}
