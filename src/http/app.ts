import { Hono } from 'hono'

import { bodyLimit } from 'hono/body-limit'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { NetworkOptionsBody } from './schemas.ts'
import * as api from './schemas.ts'
import type { IpvlanDriver } from '../driver/driver.ts'
import type { NetworkOptionsInput } from '../driver/options.ts'
import { DriverError, causesOf, messageOf } from '../errors.ts'
import type { Logger } from '../log.ts'
import { joinResponse } from './responses.ts'
import { readBody } from './body.ts'
import { bodyText, rememberedBody } from './raw-body.ts'

/** Largest request we read: real requests are a few KiB; anything bigger is refused (413). */
export const MAX_BODY_BYTES = 1024 * 1024

/** What a request over the limit gets back, from the app or from the server. */
export const tooLarge = `request body larger than ${MAX_BODY_BYTES} bytes`

export interface AppOptions {
  driver: IpvlanDriver
  log: Logger
  /** Extra numbers for the status call (process counts, store stats). */
  stats?: () => Record<string, unknown>
}

/**
 * The libnetwork remote-driver protocol: POST /<Subsystem>.<Method>, JSON in and out. Maps Docker's
 * PascalCase wire shapes to the driver's inputs and back; the driver never sees Docker's JSON.
 */
export function createApp({ driver, log, stats }: AppOptions): Hono {
  const app = new Hono()

  const limit = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: (c) => c.json({ Err: tooLarge }, 413),
  })
  // The unix-socket server reads bodies itself and enforces the same limit (server.ts).
  app.use('*', (c, next) => (rememberedBody(c) === undefined ? limit(c, next) : next()))
  // At debug only: a middleware costs every request a closure and an async step, about 1 ms a
  // request in the lab VM's emulated CPUs, where the plugin's per-container cost is measured.
  if (log.level === 'debug') {
    app.use('*', async (c, next) => {
      const started = performance.now()
      // What Docker sent and what it got back are logged whole: the lab's protocol fixtures
      // (test/fixtures/requests) are cut from these lines. Hono caches the body it reads.
      const body = jsonOrText(await bodyText(c))
      await next()
      const answer = jsonOrText(await c.res.clone().text())
      log.debug('request', {
        path: c.req.path,
        status: c.res.status,
        ms: Math.round((performance.now() - started) * 10) / 10,
        body,
        answer,
      })
    })
  }

  // The IPAM routes are mounted by the composition root (ipam-routes.ts) on this same app.
  app.post('/Plugin.Activate', (c) => c.json({ Implements: ['NetworkDriver', 'IpamDriver'] }))

  app.post('/NetworkDriver.GetCapabilities', (c) => {
    const caps = driver.capabilities()
    return c.json({
      Scope: caps.scope,
      ConnectivityScope: caps.connectivityScope,
      GwAllocChecker: caps.gwAllocChecker,
    })
  })

  app.post('/NetworkDriver.GwAllocCheck', async (c) => {
    const body = await readBody(c, 'GwAllocCheck', api.GwAllocCheckRequest)
    const skip = driver.gwAllocCheck(networkOptions(body.Options))
    return c.json({ SkipIPv4: skip.skipIPv4, SkipIPv6: skip.skipIPv6 })
  })

  app.post('/NetworkDriver.CreateNetwork', async (c) => {
    const body = await readBody(c, 'CreateNetwork', api.CreateNetworkRequest)
    await driver.createNetwork({
      networkId: body.NetworkID,
      options: networkOptions(body.Options),
      ipv4: ipam(body.IPv4Data),
      ipv6: ipam(body.IPv6Data),
    })
    return c.json({})
  })

  app.post('/NetworkDriver.DeleteNetwork', async (c) => {
    const body = await readBody(c, 'DeleteNetwork', api.NetworkRequest)
    await driver.deleteNetwork(body.NetworkID)
    return c.json({})
  })

  app.post('/NetworkDriver.AllocateNetwork', async (c) => {
    const body = await readBody(c, 'AllocateNetwork', api.AllocateNetworkRequest)
    const options = driver.allocateNetwork({
      generic: toMap(body.Options ?? {}),
      internal: false,
    })
    return c.json({ Options: options })
  })

  app.post('/NetworkDriver.FreeNetwork', async (c) => {
    await readBody(c, 'FreeNetwork', api.NetworkRequest)
    return c.json({})
  })

  app.post('/NetworkDriver.CreateEndpoint', async (c) => {
    const body = await readBody(c, 'CreateEndpoint', api.CreateEndpointRequest)
    const options = body.Options ?? {}
    if (
      options['com.docker.network.portmap'] ||
      options['com.docker.network.endpoint.exposedports']
    ) {
      log.debug('ipvlan does not publish ports; port mappings and exposures are ignored')
    }
    await driver.createEndpoint({
      networkId: body.NetworkID,
      endpointId: body.EndpointID,
      address: body.Interface?.Address ?? '',
      addressIPv6: body.Interface?.AddressIPv6 ?? '',
      macAddress: body.Interface?.MacAddress ?? '',
      optionsMacAddress: present(options['com.docker.network.endpoint.macaddress']),
    })
    // Never echo addresses or a MAC back: libnetwork treats that as a conflicting change.
    return c.json({})
  })

  app.post('/NetworkDriver.EndpointOperInfo', async (c) => {
    const body = await readBody(c, 'EndpointOperInfo', api.EndpointRequest)
    return c.json({ Value: driver.endpointOperInfo(body.NetworkID, body.EndpointID) })
  })

  app.post('/NetworkDriver.DeleteEndpoint', async (c) => {
    const body = await readBody(c, 'DeleteEndpoint', api.EndpointRequest)
    await driver.deleteEndpoint(body.NetworkID, body.EndpointID)
    return c.json({})
  })

  app.post('/NetworkDriver.Join', async (c) => {
    const body = await readBody(c, 'Join', api.JoinRequest)
    return c.json(joinResponse(await driver.join(body.NetworkID, body.EndpointID)))
  })

  app.post('/NetworkDriver.Leave', async (c) => {
    await readBody(c, 'Leave', api.EndpointRequest)
    driver.leave()
    return c.json({})
  })

  // Nothing to program: ipvlan publishes no ports. Answer {} (404 would also be tolerated).
  app.post('/NetworkDriver.ProgramExternalConnectivity', async (c) => {
    await readBody(c, 'ProgramExternalConnectivity', api.ExternalConnectivityRequest)
    return c.json({})
  })

  app.post('/NetworkDriver.RevokeExternalConnectivity', async (c) => {
    await readBody(c, 'RevokeExternalConnectivity', api.EndpointRequest)
    return c.json({})
  })

  // Swarm node discovery: nothing to do for a local-scope driver.
  app.post('/NetworkDriver.DiscoverNew', async (c) => {
    await readBody(c, 'DiscoverNew', api.DiscoveryRequest)
    return c.json({})
  })

  app.post('/NetworkDriver.DiscoverDelete', async (c) => {
    await readBody(c, 'DiscoverDelete', api.DiscoveryRequest)
    return c.json({})
  })

  /** Not part of Docker's protocol: what the plugin holds, for operators and benchmarks. */
  app.post('/IpvlanLan.Status', (c) =>
    c.json({
      Networks: driver.networks().length,
      Endpoints: driver.endpoints().length,
      RssBytes: process.memoryUsage().rss,
      ...stats?.(),
    })
  )

  /**
   * Not part of Docker's protocol: answers once the links of deleted endpoints are deleted (they
   * go right after DeleteEndpoint answers). For benchmarks and tests that count the whole work.
   */
  app.post('/IpvlanLan.DrainLinkDeletes', async (c) => {
    await driver.drainLinkDeletes()
    return c.json({})
  })

  app.notFound((c) => c.json({ Err: `unknown method ${c.req.method} ${c.req.path}` }, 404))

  app.onError((error, c) => {
    const status = statusOf(error)
    const message = messageOf(error)
    if (status >= 500) {
      log.warn('request failed', { path: c.req.path, error: message, causes: causesOf(error) })
    } else log.debug('request rejected', { path: c.req.path, error: message })
    return c.json({ Err: message }, status)
  })

  return app
}

/** Bad input is a 400; everything else a 500. Never 404: for ExternalConnectivity it means "not implemented". */
function statusOf(error: unknown): ContentfulStatusCode {
  if (error instanceof DriverError && error.kind === 'invalid-parameter') return 400
  return 500
}

function networkOptions(options: NetworkOptionsBody): NetworkOptionsInput {
  return {
    generic: toMap(options?.['com.docker.network.generic'] ?? {}),
    internal: options?.['com.docker.network.internal'] === true,
    enableIPv4: options?.['com.docker.network.enable_ipv4'],
    enableIPv6: options?.['com.docker.network.enable_ipv6'],
  }
}

function ipam(
  list:
    | readonly {
        AddressSpace?: string | undefined
        Pool: string
        Gateway?: string | undefined
        AuxAddresses?: Record<string, unknown> | null | undefined
      }[]
    | null
) {
  return (list ?? []).map((entry) => ({
    pool: entry.Pool,
    gateway: entry.Gateway,
    addressSpace: entry.AddressSpace,
    // Only string values can be addresses; anything else cannot match a host_address.
    auxAddresses: Object.values(entry.AuxAddresses ?? {}).filter(
      (value): value is string => typeof value === 'string'
    ),
  }))
}

/** Own keys only, into a Map: keys like "__proto__" stay plain data. */
function toMap(record: Record<string, string>): Map<string, string> {
  return new Map(Object.entries(record))
}

function present(value: unknown): boolean {
  return value !== undefined && value !== null && value !== ''
}

/** A body as logged: its JSON value, or the text itself when it is not JSON (or empty). */
function jsonOrText(text: string): unknown {
  if (text.trim() === '') return ''
  try {
    return JSON.parse(text) as unknown
  } catch {
    return text
  }
}
