import { Ipam } from '../../src/driver/ipam/ipam.ts'
import { HostLiveness } from '../../src/driver/ipam/liveness.ts'
import { HostReclaimer } from '../../src/driver/ipam/reclaim.ts'
import { IpamReconciler } from '../../src/driver/ipam/reconciler.ts'
import type { ServedReservation, ServedView } from '../../src/driver/ipam/served.ts'
import { servedKey } from '../../src/driver/ipam/served.ts'
import type { IpamStore, IpamTableReader } from '../../src/driver/ports/ipam-store.ts'
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
  /**
   * Endpoints this host "serves": subnet -> [endpointId, address][]; and the gateways and aux
   * addresses its networks name there: [kind, address, networkId?][].
   */
  serve: (
    subnet: string,
    endpoints: [string, string][],
    addressSpace?: string,
    reservations?: [ServedReservation['kind'], string, string?][]
  ) => void
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
    /** This host's embedded tables, as after a switch to etcd. */
    embedded?: IpamTableReader
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
    embedded: opts.embedded,
  })
  return {
    name,
    ipam,
    liveness,
    reclaimer,
    reconciler,
    lines,
    clock,
    serve: (subnet, endpoints, addressSpace = 'lan', reservations = []) =>
      view.set(servedKey(addressSpace, subnet), {
        addressSpace,
        subnet,
        endpoints: endpoints.map(([endpointId, address]) => ({
          endpointId,
          networkId: 'n'.repeat(64),
          address,
        })),
        reservations: reservations.map(([kind, address, networkId = 'n'.repeat(64)]) => ({
          kind,
          address,
          networkId,
        })),
      }),
    ask: (poolId, address = '', options = {}) =>
      ipam.requestAddress({ poolId, address, options: new Map(Object.entries(options)) }),
  }
}
