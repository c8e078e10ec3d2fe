import type { Context, Hono } from 'hono'
import type * as v from 'valibot'
import type { Ipam } from '../driver/ipam/ipam.ts'
import { DriverError, causesOf, messageOf } from '../errors.ts'
import type { Logger } from '../log.ts'
import { readBody } from './body.ts'
import * as api from './ipam-schemas.ts'
import { Empty } from './schemas.ts'

export interface IpamRoutesOptions {
  ipam: Ipam
  log: Logger
}

type AnySchema = v.GenericSchema<unknown, unknown>

/**
 * Adds the remote IPAM protocol (POST /IpamDriver.<Method>) to an app that already serves the
 * network driver: one plugin, one socket, both interfaces. Failures are answered HTTP 200 with
 * {"Error": "..."}, the IPAM protocol's own field (api.go Response), which dockerd reports as
 * "remote: ..."; the network driver's {"Err"} would not be read on a 200.
 */
export function mountIpamRoutes(app: Hono, { ipam, log }: IpamRoutesOptions): void {
  const route = <S extends AnySchema>(
    method: string,
    schema: S,
    handle: (body: v.InferOutput<S>) => Promise<object> | object
  ): void => {
    app.post(`/IpamDriver.${method}`, async (c: Context) => {
      try {
        return c.json(await handle(await readBody(c, method, schema)))
      } catch (error) {
        const message = messageOf(error)
        // Bad input and taken or exhausted addresses are the caller's business; the rest ours.
        if (
          error instanceof DriverError &&
          (error.kind === 'invalid-parameter' || error.kind === 'conflict')
        )
          log.debug('ipam request rejected', { path: c.req.path, error: message })
        else
          log.warn('ipam request failed', {
            path: c.req.path,
            error: message,
            causes: causesOf(error),
          })
        return c.json({ Error: message })
      }
    })
  }

  route('GetCapabilities', Empty, () => {
    const caps = ipam.capabilities()
    return {
      RequiresMACAddress: caps.requiresMacAddress,
      RequiresRequestReplay: caps.requiresRequestReplay,
    }
  })

  route('GetDefaultAddressSpaces', Empty, () => {
    const spaces = ipam.addressSpaces()
    return { LocalDefaultAddressSpace: spaces.local, GlobalDefaultAddressSpace: spaces.global }
  })

  route('RequestPool', api.RequestPoolRequest, (body) => {
    const { poolId, pool } = ipam.requestPool({
      addressSpace: body.AddressSpace,
      pool: body.Pool,
      subPool: body.SubPool,
      v6: body.V6,
    })
    return { PoolID: poolId, Pool: pool, Data: {} }
  })

  route('ReleasePool', api.ReleasePoolRequest, (body) => {
    ipam.releasePool(body.PoolID)
    return {}
  })

  route('RequestAddress', api.RequestAddressRequest, async (body) => {
    const address = await ipam.requestAddress({
      poolId: body.PoolID,
      address: body.Address,
      // Own keys only, into a Map: keys like "__proto__" stay plain data.
      options: new Map(Object.entries(body.Options ?? {})),
    })
    return { Address: address, Data: {} }
  })

  route('ReleaseAddress', api.ReleaseAddressRequest, async (body) => {
    await ipam.releaseAddress({ poolId: body.PoolID, address: body.Address })
    return {}
  })
}
