import type { Context, Hono } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import * as v from 'valibot'
import type { HostReclaimer } from '../driver/ipam/reclaim.ts'
import { DriverError, messageOf } from '../errors.ts'
import type { Logger } from '../log.ts'
import { readBody } from './body.ts'

/**
 * The operator's calls on the plugin socket, beside Docker's protocols (Docker never sends
 * these). POST /IpamAdmin.ReclaimHost {"Host": "node-b", "Force": false} releases every
 * allocation the named host holds, in every subnet:
 *
 *   id=$(docker plugin inspect -f '{{.Id}}' ipvlan-lan:latest)
 *   curl -sS --fail-with-body --unix-socket /run/docker/plugins/$id/ipvlan-lan.sock \
 *     -d '{"Host":"node-b"}' http://plugin/IpamAdmin.ReclaimHost
 *
 * Unlike Docker's calls, failures carry an HTTP error status, so curl --fail sees them.
 */
export const ReclaimHostRequest = v.looseObject({
  Host: v.pipe(
    v.string('expected the HOST_ID of the host whose addresses to reclaim'),
    v.regex(
      /^[A-Za-z0-9][A-Za-z0-9._:-]{0,252}$/,
      'expected a HOST_ID: 1 to 253 letters, digits, ".", "_", ":" or "-"'
    )
  ),
  Force: v.optional(v.boolean('expected true or false'), false),
})

const STATUS: Partial<Record<DriverError['kind'], ContentfulStatusCode>> = {
  'invalid-parameter': 400,
  conflict: 409,
  unavailable: 503,
}

export function mountIpamAdminRoutes(
  app: Hono,
  { reclaimer, log }: { reclaimer: HostReclaimer; log: Logger }
): void {
  app.post('/IpamAdmin.ReclaimHost', async (c: Context) => {
    try {
      const body = await readBody(c, 'ReclaimHost', ReclaimHostRequest)
      const report = await reclaimer.operatorReclaim(body.Host, body.Force)
      const item = (x: { subnet: string; address: string; kind: string }) => ({
        Subnet: x.subnet,
        Address: x.address,
        Kind: x.kind,
      })
      return c.json({
        Host: report.host,
        Released: report.released.map(item),
        // Changed under the reclaim (or the host beat again): left alone; run it again to retry.
        Conflicts: report.conflicts.map(item),
        LastHeartbeat: report.lastBeat ? new Date(report.lastBeat.at).toISOString() : null,
      })
    } catch (error) {
      const message = messageOf(error)
      log.warn('ipam: operator reclaim refused or failed', { error: message })
      const status = (error instanceof DriverError && STATUS[error.kind]) || 500
      return c.json({ Error: message }, status)
    }
  })
}
