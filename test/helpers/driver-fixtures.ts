import assert from 'node:assert/strict'
import type { CreateEndpointInput, CreateNetworkInput } from '../../src/driver/driver.ts'
import { IpvlanDriver } from '../../src/driver/driver.ts'
import type { ErrorKind } from '../../src/errors.ts'
import { DriverError } from '../../src/errors.ts'
import { silentLogger } from '../../src/log.ts'
import { FakeLinkLayer } from '../fakes/fake-link-layer.ts'
import { id } from '../fakes/ids.ts'
import { MemoryStore } from '../fakes/memory-store.ts'

/** Fixtures of the driver-core unit tests: a driver over the fake link layer and memory store. */

export const INSTANCE = 'feedf00d'
/** HOST_ID of the driver under test: errors about this host's interfaces name it. */
export const HOST = 'node-a'
export const NET = id('network one')
export const NET2 = id('network two')
export const EP = id('endpoint one')
export const EP2 = id('endpoint two')
export const short = (value: string): string => value.slice(0, 12)

export async function setup(
  existing: string[] = ['eth0', 'eth1'],
  store = new MemoryStore(INSTANCE),
  { earlyLinks = true }: { earlyLinks?: boolean } = {}
) {
  const links = new FakeLinkLayer(existing)
  const driver = await IpvlanDriver.open({
    hostId: HOST,
    links,
    store,
    log: silentLogger,
    earlyLinks,
  })
  return { links, store, driver }
}

export function network(
  networkId: string,
  generic: Record<string, string>,
  extra: Partial<CreateNetworkInput> & { internal?: boolean; enableIPv6?: boolean } = {}
): CreateNetworkInput {
  const { internal = false, enableIPv6 = false, ...rest } = extra
  return {
    networkId,
    options: {
      generic: new Map(Object.entries(generic)),
      internal,
      enableIPv4: true,
      enableIPv6,
    },
    ipv4: [{ pool: '192.168.10.0/24', gateway: '192.168.10.1/24' }],
    ipv6: [],
    ...rest,
  }
}

export function endpoint(
  networkId: string,
  endpointId: string,
  extra: Partial<CreateEndpointInput> = {}
): CreateEndpointInput {
  return {
    networkId,
    endpointId,
    address: '192.168.10.5/24',
    addressIPv6: '',
    macAddress: '',
    optionsMacAddress: false,
    ...extra,
  }
}

/** Awaits a rejection with a DriverError of `kind` whose message matches every pattern. */
export async function rejectsWith(
  promise: Promise<unknown>,
  kind: ErrorKind,
  ...patterns: RegExp[]
): Promise<DriverError> {
  let caught: unknown
  await promise.then(
    () => assert.fail(`expected a ${kind} DriverError`),
    (error: unknown) => {
      caught = error
    }
  )
  assert.ok(caught instanceof DriverError, `expected a DriverError, got ${String(caught)}`)
  assert.equal(caught.kind, kind, caught.message)
  for (const pattern of patterns) assert.match(caught.message, pattern)
  return caught
}

export const linkNames = (links: FakeLinkLayer): string[] => [...links.links.keys()].sort()

export const callsOf = (links: FakeLinkLayer, method: string): unknown[] =>
  links.calls.filter((call) => call.method === method).map((call) => call.args)

/** Puts a link into the fake kernel as if someone (or a crashed run) had made it. */
export function plant(
  links: FakeLinkLayer,
  name: string,
  kind: string,
  alias?: string,
  up = true
): void {
  links.links.set(name, { name, alias, kind, up })
}
