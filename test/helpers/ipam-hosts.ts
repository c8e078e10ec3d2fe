import { Ipam } from '../../src/driver/ipam/ipam.ts'
import { HostLiveness } from '../../src/driver/ipam/liveness.ts'
import { HostReclaimer } from '../../src/driver/ipam/reclaim.ts'
import { IpamReconciler } from '../../src/driver/ipam/reconciler.ts'
import type { ServedView } from '../../src/driver/ipam/served.ts'
import { servedKey } from '../../src/driver/ipam/served.ts'
import type { IpamStore } from '../../src/driver/ports/ipam-store.ts'
import { createLogger } from '../../src/log.ts'

/**
 * One IPAM host over a shared store, as main.ts wires it, with hand-driven clocks, a hand-made
 * served view and its log lines kept: the unit tests of reconciliation, reclaim and liveness.
 */
export interface TestHost {
  name: string
  ipam: Ipam
  liveness: HostLiveness
  reclaimer: HostReclaimer
  reconciler: IpamReconciler
  lines: string[]
  /** Endpoints this host "serves": subnet -> [endpointId, address][]. */
  serve: (subnet: string, endpoints: [string, string][], addressSpace?: string) => void
  clock: { wall: number; mono: number }
  ask: (poolId: string, address?: string, options?: Record<string, string>) => Promise<string>
}

export const MINUTE = 60_000

export function testHost(
  name: string,
  store: IpamStore,
  opts: {
    graceMs?: number | undefined
    minAgeMs?: number
    everyMs?: number
    instance?: string
  } = {}
): TestHost {
  const lines: string[] = []
  const log = createLogger('debug', (_level, line) => lines.push(line))
  const clock = { wall: Date.UTC(2026, 0, 1), mono: 1000 }
  const view: ServedView = new Map()
  const liveness = new HostLiveness({
    store,
    host: name,
    instance: opts.instance ?? `${name}-instance`,
    everyMs: opts.everyMs ?? 30_000,
    log,
    now: () => clock.wall,
  })
  const ipam = new Ipam({ store, host: name, log, refusal: () => liveness.refusal() })
  const reclaimer = new HostReclaimer({
    ipam,
    store,
    log,
    now: () => clock.wall,
    graceMs: opts.graceMs,
  })
  const reconciler = new IpamReconciler({
    ipam,
    store,
    log,
    served: () => view,
    liveness,
    reclaimer,
    minAgeMs: opts.minAgeMs ?? 10 * MINUTE,
    monotonic: () => clock.mono,
  })
  return {
    name,
    ipam,
    liveness,
    reclaimer,
    reconciler,
    lines,
    clock,
    serve: (subnet, endpoints, addressSpace = 'lan') =>
      view.set(servedKey(addressSpace, subnet), {
        addressSpace,
        subnet,
        endpoints: endpoints.map(([endpointId, address]) => ({
          endpointId,
          networkId: 'n'.repeat(64),
          address,
        })),
      }),
    ask: (poolId, address = '', options = {}) =>
      ipam.requestAddress({ poolId, address, options: new Map(Object.entries(options)) }),
  }
}
