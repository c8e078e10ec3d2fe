import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { IpvlanDriver } from '../../src/driver/driver.ts'
import { MAX_BODY_BYTES, createApp } from '../../src/http/app.ts'
import { isValidIfname } from '../../src/ifname.ts'
import { createIproute2 } from '../../src/link/iproute2.ts'
import type { LinkLayer } from '../../src/driver/ports/link-layer.ts'
import type { IpResult, IpRunner } from '../../src/link/runner.ts'
import { silentLogger } from '../../src/log.ts'
import { FakeLinkLayer } from '../fakes/fake-link-layer.ts'
import { id } from '../fakes/ids.ts'
import { MemoryStore } from '../fakes/memory-store.ts'

/**
 * Property-based fuzzing of every route of the HTTP app with a real driver, over (1) the in-memory
 * kernel and (2) the real iproute2 layer on a fake `ip` that records every argv and batch line.
 * Each run is a sequence of requests: valid set-up steps (so deep paths are reached), fuzzed
 * bodies, valid tear-down steps, then a full clean-up that must leave nothing behind.
 *
 * Reproduce a failure with FUZZ_SEED=<seed printed below>; raise the effort with FUZZ_RUNS=<runs>.
 */
const SEED = Number(process.env['FUZZ_SEED'] ?? 20_240_611)
const RUNS = Math.max(1, Number(process.env['FUZZ_RUNS'] ?? 1100))
const MIN_BODIES = 10_000

// ---------------------------------------------------------------------------------------------
// Routes, IDs and small value pools

const ROUTES = [
  'Plugin.Activate',
  'NetworkDriver.GetCapabilities',
  'NetworkDriver.GwAllocCheck',
  'NetworkDriver.CreateNetwork',
  'NetworkDriver.DeleteNetwork',
  'NetworkDriver.AllocateNetwork',
  'NetworkDriver.FreeNetwork',
  'NetworkDriver.CreateEndpoint',
  'NetworkDriver.EndpointOperInfo',
  'NetworkDriver.DeleteEndpoint',
  'NetworkDriver.Join',
  'NetworkDriver.Leave',
  'NetworkDriver.ProgramExternalConnectivity',
  'NetworkDriver.RevokeExternalConnectivity',
  'NetworkDriver.DiscoverNew',
  'NetworkDriver.DiscoverDelete',
  'IpvlanLan.Status',
] as const
type Route = (typeof ROUTES)[number]
const UNKNOWN_ROUTES = [
  'NetworkDriver.Nope',
  'networkdriver.createnetwork',
  '',
  'Plugin.Activate/x',
]

/** Routes that never read the body (a huge one is still refused). */
const NO_BODY: ReadonlySet<string> = new Set([
  'Plugin.Activate',
  'NetworkDriver.GetCapabilities',
  'IpvlanLan.Status',
])
const NEEDS_NETWORK_ID: ReadonlySet<string> = new Set([
  'NetworkDriver.CreateNetwork',
  'NetworkDriver.DeleteNetwork',
  'NetworkDriver.AllocateNetwork',
  'NetworkDriver.FreeNetwork',
  'NetworkDriver.CreateEndpoint',
  'NetworkDriver.EndpointOperInfo',
  'NetworkDriver.DeleteEndpoint',
  'NetworkDriver.Join',
  'NetworkDriver.Leave',
  'NetworkDriver.ProgramExternalConnectivity',
  'NetworkDriver.RevokeExternalConnectivity',
])
const NEEDS_ENDPOINT_ID: ReadonlySet<string> = new Set([
  'NetworkDriver.CreateEndpoint',
  'NetworkDriver.EndpointOperInfo',
  'NetworkDriver.DeleteEndpoint',
  'NetworkDriver.Join',
  'NetworkDriver.Leave',
  'NetworkDriver.ProgramExternalConnectivity',
  'NetworkDriver.RevokeExternalConnectivity',
])

const NETS = [0, 1, 2, 3].map((i) => id(`fuzz-net-${i}`))
const EPS = [0, 1, 2, 3, 4, 5].map((i) => id(`fuzz-ep-${i}`))
const HEX64 = /^[0-9a-f]{64}$/
const ALIAS_RE = /^ipvlan-lan\/[0-9a-f]{8}:(ep|parent|probe):[0-9a-f]{64}$/
const BASE_LINKS = ['eth0', 'eth1']
const [NET0 = '', NET1 = ''] = NETS
const [EP0 = ''] = EPS

/** Builds an object whose keys are all own data properties, "__proto__" included. */
function obj(entries: readonly (readonly [string, unknown])[]): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, value] of entries) {
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true })
  }
  return out
}

const DANGEROUS_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty']

// ---------------------------------------------------------------------------------------------
// Generators

const jsonAny = fc.jsonValue({ maxDepth: 3 })
/** One value of each JSON type, or anything JSON. */
const wrongType: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(null, true, false, 0, -1, 1.5, 1e308, '', 'x', [], {}, [null], {
    a: 1,
  }),
  jsonAny
)

const badId: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    NET0.toUpperCase(),
    NET0.slice(1),
    NET0 + '0',
    NET0 + '\n',
    ' ' + NET0,
    NET0.slice(0, 63) + 'g',
    NET0.slice(0, 12),
    '',
    '../../../../etc/passwd',
    '..',
    'g'.repeat(64),
    'é'.repeat(32),
    '0'.repeat(64) + '/../x',
    null,
    0,
    123456,
    [NET0],
    { id: NET0 },
    true
  ),
  fc.string({ maxLength: 70 }),
  fc.string({ unit: 'binary', maxLength: 70 })
)
const netId = fc.oneof(
  { arbitrary: fc.constantFrom(...NETS), weight: 8 },
  { arbitrary: badId, weight: 1 }
)
const epId = fc.oneof(
  { arbitrary: fc.constantFrom(...EPS), weight: 8 },
  { arbitrary: badId, weight: 1 }
)

/** Interface names: valid ones, and every way to be invalid or dangerous. */
const ifnameText = fc.oneof(
  fc.constantFrom(
    'eth0',
    'eth1',
    'eth0.10',
    'eth1.4094',
    'eth0.1',
    'eth9.10',
    'eth9',
    'a'.repeat(15),
    'a'.repeat(16),
    'eth0123456789abc',
    '',
    ' ',
    'eth 0',
    'eth0 ',
    ' eth0',
    'eth/0',
    '../eth0',
    '/',
    '-eth0',
    '-n',
    '--help',
    '-batch',
    'é',
    'eth0é',
    'ünïcödé',
    'eth0🙂',
    '\u0000',
    'eth0\n',
    'eth0\nlink del dev eth1',
    'eth0\tx',
    'eth0;reboot',
    '$(reboot)',
    '`id`',
    'eth0"x',
    "eth0'x",
    'eth0#x',
    'eth0\\x',
    '.',
    '..',
    '.eth0',
    'lo',
    'lo.10',
    'eth0.0',
    'eth0.4095',
    'eth0.10.20',
    'eth0.',
    '.10',
    'eth0.00010',
    'eth0:1',
    'eth0@x',
    'eth%d',
    `di-${NET0.slice(0, 12)}`,
    `ivl${EP0.slice(0, 12)}`,
    `ivp${NET1.slice(0, 12)}`
  ),
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 })
)

const modeText = fc.constantFrom('l2', 'l3', 'l3s', 'L2', 'l4', '', 'bridge', 'passthru', ' l2')
const flagText = fc.constantFrom('bridge', 'private', 'vepa', 'Bridge', '', 'l2', 'source')
const mtuText = fc.constantFrom(
  '1500',
  '68',
  '67',
  '65535',
  '65536',
  '0',
  '-1',
  '1e3',
  '1500.0',
  ' 1500',
  '0x5dc',
  '9999999999',
  '',
  '0068'
)

/** A generic (-o) options map: known keys with good and bad values, unknown and dangerous keys. */
const genericMap: fc.Arbitrary<unknown> = fc
  .array(
    fc.oneof(
      fc.tuple(fc.constant('parent'), ifnameText),
      fc.tuple(fc.constant('ipvlan_mode'), modeText),
      fc.tuple(fc.constant('ipvlan_flag'), flagText),
      fc.tuple(fc.constantFrom('mtu', 'com.docker.network.driver.mtu'), mtuText),
      fc.tuple(
        fc.constantFrom(
          'com.docker.network.whatever',
          'macvlan_mode',
          'Parent',
          ' parent',
          '',
          ...DANGEROUS_KEYS
        ),
        fc.oneof(ifnameText, wrongType)
      ),
      fc.tuple(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 })),
      fc.tuple(fc.constantFrom('parent', 'ipvlan_mode', 'mtu'), wrongType)
    ),
    { maxLength: 5 }
  )
  .map(obj)

const cidrText = fc.oneof(
  fc.constantFrom(
    '<nil>',
    '',
    '10.0.0.0',
    '10.0.0.0/33',
    '10.0.0.0/-1',
    '10.0.0.0/024',
    '10.0.0.0/24 ',
    ' 10.0.0.0/24',
    '300.1.1.1/24',
    '10.0.0/24',
    '::/129',
    'fe80::1%eth0/64',
    '2001:db8::/64',
    '2001:db8::1/64',
    '10.0.0.0/24',
    '10.0.0.1/24',
    '10.1.0.0/16',
    '0.0.0.0/0',
    '::/0',
    '192.168.1.0/24\n',
    '1.2.3.4/8/8',
    'a.b.c.d/8',
    '١٠.0.0.0/8',
    '10.0.0.0/2\u0000'
  ),
  fc.string({ maxLength: 24 })
)

const ipamEntry: fc.Arbitrary<unknown> = fc
  .record(
    {
      AddressSpace: fc.oneof(fc.constantFrom('LocalDefault', 'GlobalDefault', ''), wrongType),
      Pool: fc.oneof({ arbitrary: cidrText, weight: 4 }, { arbitrary: wrongType, weight: 1 }),
      Gateway: fc.oneof({ arbitrary: cidrText, weight: 4 }, { arbitrary: wrongType, weight: 1 }),
      AuxAddresses: fc.oneof(
        fc.constant(null),
        fc.array(fc.tuple(fc.string({ maxLength: 6 }), cidrText), { maxLength: 3 }).map(obj),
        fc.constant({ rtr: '<nil>' }),
        wrongType
      ),
      Extra: wrongType,
    },
    { requiredKeys: [] }
  )
  .map((entry) => entry as unknown)

const ipamList: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.constant([]),
  fc.array(ipamEntry, { maxLength: 3 }),
  wrongType
)

const networkOptions: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  wrongType,
  fc
    .record(
      {
        generic: fc.oneof({ arbitrary: genericMap, weight: 5 }, fc.constant(null), wrongType),
        internal: fc.oneof(fc.boolean(), wrongType),
        v4: fc.oneof(fc.boolean(), wrongType),
        v6: fc.oneof(fc.boolean(), wrongType),
        extra: fc.tuple(fc.constantFrom('x', ...DANGEROUS_KEYS), wrongType),
      },
      { requiredKeys: [] }
    )
    .map((o) => {
      const entries: [string, unknown][] = []
      if ('generic' in o) entries.push(['com.docker.network.generic', o.generic])
      if ('internal' in o) entries.push(['com.docker.network.internal', o.internal])
      if ('v4' in o) entries.push(['com.docker.network.enable_ipv4', o.v4])
      if ('v6' in o) entries.push(['com.docker.network.enable_ipv6', o.v6])
      if (o.extra) entries.push(o.extra)
      return obj(entries)
    })
)

/** Endpoint / Join Options: values of every JSON type, including the MAC and port keys. */
const endpointOptions: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  wrongType,
  fc
    .array(
      fc.tuple(
        fc.constantFrom(
          'com.docker.network.endpoint.macaddress',
          'com.docker.network.portmap',
          'com.docker.network.endpoint.exposedports',
          'com.docker.network.endpoint.dnsservers',
          'x',
          ...DANGEROUS_KEYS
        ),
        wrongType
      ),
      { maxLength: 4 }
    )
    .map(obj)
)

const interfaceBody: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  wrongType,
  fc
    .record(
      {
        Address: fc.oneof(cidrText, wrongType),
        AddressIPv6: fc.oneof(cidrText, wrongType),
        MacAddress: fc.oneof(fc.constantFrom('', '02:42:ac:11:00:02', 'AkKsEQAC'), wrongType),
      },
      { requiredKeys: [] }
    )
    .map((o) => o as unknown)
)

/** A body for `route` built field by field from the junk generators above. */
function junkBody(route: string): fc.Arbitrary<unknown> {
  const record = (fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<unknown> =>
    fc.record(fields, { requiredKeys: [] }).map((o) => o as unknown)
  switch (route) {
    case 'NetworkDriver.CreateNetwork':
    case 'NetworkDriver.AllocateNetwork':
      return record({
        NetworkID: netId,
        Options: route === 'NetworkDriver.AllocateNetwork' ? genericMap : networkOptions,
        IPv4Data: ipamList,
        IPv6Data: ipamList,
      })
    case 'NetworkDriver.GwAllocCheck':
      return record({ Options: networkOptions })
    case 'NetworkDriver.CreateEndpoint':
      return record({
        NetworkID: netId,
        EndpointID: epId,
        Interface: interfaceBody,
        Options: endpointOptions,
      })
    case 'NetworkDriver.Join':
      return record({
        NetworkID: netId,
        EndpointID: epId,
        SandboxKey: fc.oneof(fc.constant('/var/run/docker/netns/x'), wrongType),
        Options: endpointOptions,
      })
    case 'NetworkDriver.DiscoverNew':
    case 'NetworkDriver.DiscoverDelete':
      return record({ DiscoveryType: wrongType, DiscoveryData: wrongType })
    default:
      return record({ NetworkID: netId, EndpointID: epId, Options: endpointOptions })
  }
}

// Valid requests ------------------------------------------------------------------------------

const validNetworkOptions = fc.record(
  {
    parent: fc.constantFrom('eth0', 'eth1', 'eth0.10', 'eth1.4094'),
    ipvlan_mode: fc.constantFrom('l2', 'l3', 'l3s'),
    ipvlan_flag: fc.constantFrom('bridge', 'private', 'vepa'),
    mtu: fc.constantFrom('1500', '9000', '68'),
  },
  { requiredKeys: [] }
)

const createNetworkBody = (net: string): fc.Arbitrary<unknown> =>
  fc
    .record({
      generic: validNetworkOptions,
      internal: fc.boolean(),
      v6: fc.boolean(),
      gateway: fc.boolean(),
    })
    .map(({ generic, internal, v6, gateway }) => ({
      NetworkID: net,
      Options: {
        'com.docker.network.enable_ipv4': true,
        'com.docker.network.enable_ipv6': v6,
        'com.docker.network.generic': generic,
        ...(internal ? { 'com.docker.network.internal': true } : {}),
      },
      IPv4Data: [
        {
          AddressSpace: 'LocalDefault',
          Pool: '10.20.0.0/16',
          ...(gateway ? { Gateway: '10.20.0.1/16' } : {}),
          AuxAddresses: { rtr: '<nil>' },
        },
      ],
      IPv6Data: v6 ? [{ AddressSpace: 'LocalDefault', Pool: '2001:db8::/64' }] : null,
    }))

const createEndpointBody = (net: string, ep: string): fc.Arbitrary<unknown> =>
  fc.record({ host: fc.integer({ min: 2, max: 250 }), v6: fc.boolean() }).map(({ host, v6 }) => ({
    NetworkID: net,
    EndpointID: ep,
    Interface: {
      Address: `10.20.0.${host}/16`,
      AddressIPv6: v6 ? `2001:db8::${host.toString(16)}/64` : '',
      MacAddress: '',
    },
    Options: { 'com.docker.network.endpoint.exposedports': [], 'com.docker.network.portmap': [] },
  }))

/** A well-formed body for `route`, naming IDs from the pools (so it often hits real state). */
function validBody(route: string): fc.Arbitrary<unknown> {
  const net = fc.constantFrom(...NETS)
  const ep = fc.constantFrom(...EPS)
  switch (route) {
    case 'NetworkDriver.CreateNetwork':
      return net.chain(createNetworkBody)
    case 'NetworkDriver.CreateEndpoint':
      return fc.tuple(net, ep).chain(([n, e]) => createEndpointBody(n, e))
    case 'NetworkDriver.GwAllocCheck':
      return validNetworkOptions.map((generic) => ({
        Options: { 'com.docker.network.generic': generic },
      }))
    case 'NetworkDriver.AllocateNetwork':
      return net.map((n) => ({ NetworkID: n, Options: {}, IPv4Data: [], IPv6Data: [] }))
    case 'NetworkDriver.DeleteNetwork':
    case 'NetworkDriver.FreeNetwork':
      return net.map((n) => ({ NetworkID: n }))
    case 'NetworkDriver.Join':
      return fc
        .tuple(net, ep)
        .map(([n, e]) => ({ NetworkID: n, EndpointID: e, SandboxKey: '/x', Options: {} }))
    case 'NetworkDriver.DiscoverNew':
    case 'NetworkDriver.DiscoverDelete':
      return fc.constant({ DiscoveryType: 1, DiscoveryData: { Address: '10.0.0.1', self: true } })
    case 'Plugin.Activate':
    case 'NetworkDriver.GetCapabilities':
    case 'IpvlanLan.Status':
      return fc.constant({})
    default:
      return fc.tuple(net, ep).map(([n, e]) => ({ NetworkID: n, EndpointID: e, Options: {} }))
  }
}

interface Mutation {
  pick: number
  op: 'replace' | 'delete' | 'add'
  key: string
  value: unknown
}

/** Replaces, deletes or adds one field anywhere in a copy of a valid body. */
function mutate(body: unknown, m: Mutation): unknown {
  const root = JSON.parse(JSON.stringify(body)) as unknown
  const slots: { holder: Record<string, unknown> | unknown[]; key: string | number }[] = []
  const holders: Record<string, unknown>[] = []
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      node.forEach((child, index) => {
        slots.push({ holder: node, key: index })
        walk(child)
      })
    } else if (node !== null && typeof node === 'object') {
      const record = node as Record<string, unknown>
      holders.push(record)
      for (const key of Object.keys(record)) {
        slots.push({ holder: record, key })
        walk(record[key])
      }
    }
  }
  walk(root)
  if (m.op === 'add' || slots.length === 0) {
    const holder = holders[m.pick % Math.max(1, holders.length)]
    if (!holder) return m.value
    Object.defineProperty(holder, m.key, {
      value: m.value,
      enumerable: true,
      writable: true,
      configurable: true,
    })
    return root
  }
  const slot = slots[m.pick % slots.length]
  if (!slot) return root
  if (Array.isArray(slot.holder)) {
    if (m.op === 'delete') slot.holder.splice(Number(slot.key), 1)
    else slot.holder[Number(slot.key)] = m.value
  } else if (m.op === 'delete') {
    Reflect.deleteProperty(slot.holder, String(slot.key))
  } else {
    slot.holder[String(slot.key)] = m.value
  }
  return root
}

const mutation: fc.Arbitrary<Mutation> = fc.record({
  pick: fc.nat(),
  op: fc.constantFrom('replace', 'delete', 'add'),
  key: fc.oneof(fc.constantFrom('Extra', 'Options', ...DANGEROUS_KEYS), fc.string()),
  value: fc.oneof(wrongType, badId, ifnameText, cidrText, genericMap),
})

const invalidJsonText = (route: string): fc.Arbitrary<string> =>
  fc.oneof(
    fc.constantFrom(
      '{',
      '}',
      '[',
      'nul',
      'tru',
      '{"NetworkID":}',
      "{'NetworkID':'x'}",
      '{"a":1,}',
      '\u0000',
      '\uFEFF{}',
      'NaN',
      'undefined',
      '{"a":"\\x41"}',
      '/* */{}',
      '{}{}',
      '{} x',
      '"unterminated',
      '{"NetworkID":"' + NET0 + '"',
      '\t\n  ',
      '[]',
      '"x"',
      '1e400',
      'null',
      '['.repeat(3000) + ']'.repeat(3000)
    ),
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.tuple(validBody(route), fc.nat()).map(([body, cut]) => {
      const text = JSON.stringify(body)
      return text.slice(0, cut % Math.max(1, text.length - 1))
    })
  )

/** Bodies above the limit, built once; `exact` is exactly MAX_BODY_BYTES and must be accepted. */
const HUGE = (() => {
  const valid = JSON.stringify({ NetworkID: NET0, EndpointID: EP0 })
  const pad = (text: string, size: number): string => text + ' '.repeat(size - text.length)
  return {
    padded: pad(valid, MAX_BODY_BYTES + 1),
    longId: `{"NetworkID":"${'a'.repeat(MAX_BODY_BYTES)}"}`,
    array: `[${'0,'.repeat(MAX_BODY_BYTES / 2)}0]`,
    exact: pad(valid, MAX_BODY_BYTES),
  }
})()

// Steps --------------------------------------------------------------------------------------

interface Step {
  kind: 'valid' | 'junk' | 'mutated' | 'badjson' | 'huge' | 'unknown'
  route: string
  body: string | undefined
  method: 'POST' | 'GET'
  headers?: Record<string, string>
  expect413?: boolean
}

const serialise = (body: unknown, style: number): string =>
  style === 0
    ? JSON.stringify(body) + '\n'
    : style === 1
      ? JSON.stringify(body, null, 2)
      : JSON.stringify(body)

const route = fc.constantFrom(...ROUTES)

const validStep = (r: Route, body: unknown): Step => ({
  kind: 'valid',
  route: r,
  body: JSON.stringify(body) + '\n',
  method: 'POST',
})

const fuzzStep: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 3,
    arbitrary: route.chain((r) =>
      fc.tuple(validBody(r), fc.nat(2)).map(([b, s]): Step => ({
        kind: 'valid',
        route: r,
        body: serialise(b, s),
        method: 'POST',
      }))
    ),
  },
  {
    weight: 5,
    arbitrary: route.chain((r) =>
      fc.tuple(validBody(r), mutation, fc.nat(2)).map(([b, m, s]): Step => ({
        kind: 'mutated',
        route: r,
        body: serialise(mutate(b, m), s),
        method: 'POST',
      }))
    ),
  },
  {
    weight: 5,
    arbitrary: route.chain((r) =>
      fc.tuple(junkBody(r), fc.nat(2)).map(([b, s]): Step => ({
        kind: 'junk',
        route: r,
        body: serialise(b, s),
        method: 'POST',
      }))
    ),
  },
  {
    weight: 2,
    arbitrary: route.chain((r) =>
      invalidJsonText(r).map((text): Step => ({
        kind: 'badjson',
        route: r,
        body: text,
        method: 'POST',
      }))
    ),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.constantFrom(...ROUTES, ...UNKNOWN_ROUTES),
        fc.constantFrom('padded', 'longId', 'array', 'exact') as fc.Arbitrary<keyof typeof HUGE>,
        fc.boolean()
      )
      .map(([r, which, withLength]): Step => {
        const body = HUGE[which]
        return {
          kind: 'huge',
          route: r,
          body,
          method: 'POST',
          expect413: which !== 'exact',
          ...(withLength ? { headers: { 'Content-Length': String(Buffer.byteLength(body)) } } : {}),
        }
      }),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.constantFrom(...UNKNOWN_ROUTES, ...ROUTES),
        fc.constantFrom('POST', 'GET'),
        wrongType
      )
      .map(([r, method, b]): Step => {
        const unknown = UNKNOWN_ROUTES.includes(r) || method === 'GET'
        return {
          kind: unknown ? 'unknown' : 'junk',
          route: r,
          body: method === 'GET' ? undefined : JSON.stringify(b),
          method: method as 'POST' | 'GET',
        }
      }),
  }
)

/** Valid set-up (networks, endpoints, joins) and tear-down around the fuzzed steps. */
const scenario: fc.Arbitrary<{ setup: Step[]; teardown: Step[] }> = fc
  .record({
    nets: fc.uniqueArray(fc.nat(NETS.length - 1), { minLength: 0, maxLength: 2 }),
    eps: fc.uniqueArray(fc.nat(EPS.length - 1), { minLength: 0, maxLength: 3 }),
    join: fc.boolean(),
    teardown: fc.nat(3),
  })
  .chain(({ nets, eps, join, teardown }) => {
    const netIds = nets.map((i) => NETS[i] ?? NET0)
    const pairs = eps.map((e, index) => [netIds[index % Math.max(1, netIds.length)], EPS[e]])
    return fc
      .tuple(
        fc.tuple(...netIds.map((n) => createNetworkBody(n))),
        fc.tuple(...pairs.flatMap(([n, e]) => (n && e ? [createEndpointBody(n, e)] : [])))
      )
      .map(([netBodies, epBodies]) => {
        const setup: Step[] = [
          ...netBodies.map((b) => validStep('NetworkDriver.CreateNetwork', b)),
          ...epBodies.map((b) => validStep('NetworkDriver.CreateEndpoint', b)),
        ]
        const pairBodies = pairs.flatMap(([n, e]) =>
          n && e ? [{ NetworkID: n, EndpointID: e }] : []
        )
        if (join) {
          for (const b of pairBodies)
            setup.push(validStep('NetworkDriver.Join', { ...b, SandboxKey: '/x', Options: {} }))
        }
        const down: Step[] = []
        if (teardown >= 1)
          for (const b of pairBodies) down.push(validStep('NetworkDriver.Leave', b))
        if (teardown >= 2)
          for (const b of pairBodies) down.push(validStep('NetworkDriver.DeleteEndpoint', b))
        if (teardown >= 3)
          for (const n of netIds)
            down.push(validStep('NetworkDriver.DeleteNetwork', { NetworkID: n }))
        return { setup, teardown: down }
      })
  })

const runArb = fc
  .tuple(scenario, fc.array(fuzzStep, { minLength: 1, maxLength: 6 }))
  .map(([{ setup, teardown }, fuzz]) => [...setup, ...fuzz, ...teardown])

// ---------------------------------------------------------------------------------------------
// Environments: the driver over the fake kernel, or over iproute2 on a fake `ip`

interface LinkCall {
  method: string
  args: unknown[]
}

/** Wraps a LinkLayer so every call and every argument is recorded. */
function recordLinks(inner: LinkLayer, log: LinkCall[]): LinkLayer {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver)
      if (typeof value !== 'function' || typeof prop !== 'string') return value
      return (...args: unknown[]) => {
        log.push({ method: prop, args })
        return (value as (...a: unknown[]) => unknown).apply(target, args)
      }
    },
  })
}

const MODES = new Set(['l2', 'l3', 'l3s'])
const FLAGS = new Set(['bridge', 'private', 'vepa'])
const int = (value: unknown, min: number, max: number): boolean =>
  typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max

/** Why a LinkLayer call carries an argument that must never reach `ip`, or undefined. */
function linkCallProblem(call: LinkCall): string | undefined {
  const ifname = (value: unknown): boolean => typeof value === 'string' && isValidIfname(value)
  const alias = (value: unknown): boolean => typeof value === 'string' && ALIAS_RE.test(value)
  const keys = (value: unknown, allowed: string[]): boolean =>
    value !== null &&
    typeof value === 'object' &&
    Object.keys(value).every((key) => allowed.includes(key))
  const [first] = call.args
  const spec = (first ?? {}) as Record<string, unknown>
  const ipvlanSpecOk = (value: unknown): boolean => {
    const one = (value ?? {}) as Record<string, unknown>
    return (
      keys(value, ['name', 'parent', 'mode', 'flag', 'mtu', 'alias']) &&
      ifname(one['name']) &&
      ifname(one['parent']) &&
      MODES.has(String(one['mode'])) &&
      FLAGS.has(String(one['flag'])) &&
      (one['mtu'] === undefined || int(one['mtu'], 68, 65535)) &&
      alias(one['alias'])
    )
  }
  let ok: boolean
  switch (call.method) {
    case 'list':
      ok = call.args.length === 0
      break
    case 'show':
    case 'setUp':
    case 'remove':
      ok = call.args.length === 1 && ifname(first)
      break
    case 'removeAll':
      ok =
        call.args.length === 1 &&
        Array.isArray(first) &&
        first.length > 0 &&
        first.every((name) => ifname(name))
      break
    case 'addIpvlan':
    case 'probeIpvlan':
      ok = call.args.length === 1 && ipvlanSpecOk(first)
      break
    case 'addIpvlans':
      ok =
        call.args.length === 1 &&
        Array.isArray(first) &&
        first.length > 0 &&
        first.every((one) => ipvlanSpecOk(one))
      break
    case 'addVlan':
      ok =
        call.args.length === 1 &&
        keys(first, ['name', 'master', 'vlanId', 'alias']) &&
        ifname(spec['name']) &&
        ifname(spec['master']) &&
        int(spec['vlanId'], 1, 4094) &&
        alias(spec['alias'])
      break
    case 'addDummy':
      ok =
        call.args.length === 1 &&
        keys(first, ['name', 'alias']) &&
        ifname(spec['name']) &&
        alias(spec['alias'])
      break
    default:
      ok = false
  }
  return ok ? undefined : `${call.method}(${JSON.stringify(call.args)})`
}

// The fake `ip`: a grammar of every command the link layer may run, and a tiny kernel ----------

type Matcher = string | ((token: string) => boolean)
const IF: Matcher = (t) => isValidIfname(t)
const MODE: Matcher = (t) => MODES.has(t)
const FLAG: Matcher = (t) => FLAGS.has(t)
const ALIAS: Matcher = (t) => ALIAS_RE.test(t)
const NUM =
  (min: number, max: number): Matcher =>
  (t) =>
    /^[1-9][0-9]*$/.test(t) && Number(t) >= min && Number(t) <= max
const ARGV_SHAPES: Matcher[][] = [
  ['-j', '-d', 'link', 'show'],
  ['-j', '-d', 'link', 'show', 'dev', IF],
  ['-batch', '-'],
  ['link', 'set', 'dev', IF, 'up'],
  ['link', 'del', 'dev', IF],
]
const BATCH_SHAPES: Matcher[][] = [
  ['link', 'add', 'name', IF, 'link', IF, 'type', 'ipvlan', 'mode', MODE, FLAG],
  [
    'link',
    'add',
    'name',
    IF,
    'link',
    IF,
    'mtu',
    NUM(68, 65535),
    'type',
    'ipvlan',
    'mode',
    MODE,
    FLAG,
  ],
  ['link', 'set', 'dev', IF, 'alias', ALIAS],
  ['link', 'set', 'dev', IF, 'up'],
  ['link', 'del', 'dev', IF],
  ['link', 'add', 'link', IF, 'name', IF, 'type', 'vlan', 'id', NUM(1, 4094)],
  ['link', 'add', 'name', IF, 'type', 'dummy'],
]
/** iproute2 keywords, modes and flags: the only tokens that are neither names nor aliases. */
const VOCABULARY = new Set([
  '-j',
  '-d',
  '-batch',
  '-',
  'link',
  'show',
  'dev',
  'add',
  'name',
  'type',
  'ipvlan',
  'mode',
  'mtu',
  'vlan',
  'id',
  'dummy',
  'set',
  'alias',
  'up',
  'del',
  ...MODES,
  ...FLAGS,
])
const tokenOk = (t: string): boolean =>
  isValidIfname(t) || VOCABULARY.has(t) || ALIAS_RE.test(t) || /^[1-9][0-9]{0,4}$/.test(t)
const matches = (tokens: readonly string[], shape: Matcher[]): boolean =>
  tokens.length === shape.length &&
  shape.every((m, i) => {
    const t = tokens[i] ?? ''
    return typeof m === 'string' ? t === m : m(t)
  })

interface KernelLink {
  alias: string | undefined
  kind: string | undefined
  up: boolean
}

/** Answers like `ip` on a kernel with ipvlan, 802.1Q and dummy; records every argv and stdin. */
class FakeIp {
  readonly links = new Map<string, KernelLink>()
  readonly calls: { args: string[]; input: string | undefined }[] = []
  readonly problems: string[] = []

  constructor(existing: string[]) {
    for (const name of existing)
      this.links.set(name, { alias: undefined, kind: undefined, up: true })
  }

  readonly run: IpRunner = async (args, input) => {
    const argv = [...args]
    this.calls.push({ args: argv, input })
    await Promise.resolve()
    for (const token of argv)
      if (!tokenOk(token)) this.problems.push(`argv token ${JSON.stringify(token)}`)
    if (!ARGV_SHAPES.some((shape) => matches(argv, shape))) {
      this.problems.push(`argv ${JSON.stringify(argv)}`)
      return fail('Command line is not complete.', 1)
    }
    if (argv[0] === '-batch') {
      if (input === undefined || !input.endsWith('\n')) {
        this.problems.push(`batch stdin ${JSON.stringify(input)}`)
        return fail('no input', 1)
      }
      const lines = input.slice(0, -1).split('\n')
      for (const [index, line] of lines.entries()) {
        const tokens = line.split(' ')
        for (const token of tokens)
          if (!tokenOk(token)) this.problems.push(`batch token ${JSON.stringify(token)}`)
        if (!BATCH_SHAPES.some((shape) => matches(tokens, shape))) {
          this.problems.push(`batch line ${JSON.stringify(line)}`)
          return fail(`Command failed -:${index + 1}`, 1)
        }
        const failed = this.apply(tokens)
        if (failed) return { ...failed, stderr: `${failed.stderr}\nCommand failed -:${index + 1}` }
      }
      return ok('')
    }
    if (argv[0] === '-j') {
      const dev = argv[5]
      if (dev === undefined)
        return ok(JSON.stringify([...this.links.keys()].map((n) => this.json(n))))
      if (!this.links.has(dev)) return fail(`Device "${dev}" does not exist.`, 1)
      return ok(JSON.stringify([this.json(dev)]))
    }
    return this.apply(argv) ?? ok('')
  }

  private json(name: string): Record<string, unknown> {
    const link = this.links.get(name)
    return {
      ifindex: 1,
      ifname: name,
      flags: link?.up ? ['BROADCAST', 'UP'] : ['BROADCAST'],
      ...(link?.alias === undefined ? {} : { ifalias: link.alias }),
      ...(link?.kind === undefined ? {} : { linkinfo: { info_kind: link.kind } }),
    }
  }

  /** Applies one `link ...` command; returns the failure `ip` would print, if any. */
  private apply(t: string[]): IpResult | undefined {
    const missing = (name: string): IpResult => fail(`Cannot find device "${name}"`, 1)
    const add = (name: string, kind: string, parent: string | undefined): IpResult | undefined => {
      if (parent !== undefined && !this.links.has(parent)) return missing(parent)
      if (this.links.has(name)) return fail('RTNETLINK answers: File exists', 2)
      this.links.set(name, { alias: undefined, kind, up: false })
      return undefined
    }
    const [, verb] = t
    if (verb === 'add' && t[2] === 'name' && t.includes('ipvlan'))
      return add(t[3] ?? '', 'ipvlan', t[5])
    if (verb === 'add' && t[2] === 'name') return add(t[3] ?? '', 'dummy', undefined)
    if (verb === 'add' && t[2] === 'link') return add(t[5] ?? '', 'vlan', t[3])
    const name = t[3] ?? ''
    const link = this.links.get(name)
    if (!link) return missing(name)
    if (verb === 'del') this.links.delete(name)
    else if (t[4] === 'alias') link.alias = t[5]
    else if (t[4] === 'up') link.up = true
    return undefined
  }
}

const ok = (stdout: string): IpResult => ({ stdout, stderr: '', exitCode: 0, timedOut: false })
const fail = (stderr: string, exitCode: number): IpResult => ({
  stdout: '',
  stderr,
  exitCode,
  timedOut: false,
})

interface Env {
  app: ReturnType<typeof createApp>
  driver: IpvlanDriver
  store: MemoryStore
  linkCalls: LinkCall[]
  kernel: () => unknown
  ipProblems: () => string[]
}

async function fakeKernelEnv(): Promise<Env> {
  const fake = new FakeLinkLayer(BASE_LINKS)
  const linkCalls: LinkCall[] = []
  const store = new MemoryStore()
  const driver = await IpvlanDriver.open({
    hostId: 'node-a',
    links: recordLinks(fake, linkCalls),
    store,
    log: silentLogger,
  })
  return {
    app: createApp({ driver, log: silentLogger }),
    driver,
    store,
    linkCalls,
    kernel: () => [...fake.links.values()].sort((a, b) => a.name.localeCompare(b.name)),
    ipProblems: () => [],
  }
}

async function iproute2Env(): Promise<Env & { ip: FakeIp }> {
  const ip = new FakeIp(BASE_LINKS)
  const linkCalls: LinkCall[] = []
  const store = new MemoryStore()
  const links = recordLinks(createIproute2({ run: ip.run, timeoutMs: 1000 }), linkCalls)
  const driver = await IpvlanDriver.open({ hostId: 'node-a', links, store, log: silentLogger })
  return {
    app: createApp({ driver, log: silentLogger }),
    driver,
    store,
    linkCalls,
    ip,
    kernel: () => [...ip.links.entries()].sort(([a], [b]) => a.localeCompare(b)),
    ipProblems: () => ip.problems,
  }
}

// ---------------------------------------------------------------------------------------------
// The properties

const byId = <T extends { id: string }>(records: Iterable<T>): T[] =>
  [...records].sort((a, b) => a.id.localeCompare(b.id))

function stateOf(env: Env): string {
  return JSON.stringify({
    networks: byId(env.driver.networks()),
    endpoints: byId(env.driver.endpoints()),
    storedNetworks: byId(env.store.networks.values()),
    storedEndpoints: byId(env.store.endpoints.values()),
    kernel: env.kernel(),
  })
}

const PROTO_KEYS = Object.getOwnPropertyNames(Object.prototype).sort().join(',')

interface Stats {
  bodies: number
  cleanup: number
  byKind: Record<string, number>
  byRoute: Record<string, Record<number, number>>
  linkCalls: Record<string, number>
  ipCalls: number
  /** Error replies whose Err text was examined (the denominator of longOrControlErr). */
  errReplies: number
  /** Soft findings (known bug classes) checked in their own test under 'fuzz findings'. */
  longOrControlErr: string[]
}

const newStats = (): Stats => ({
  bodies: 0,
  cleanup: 0,
  byKind: {},
  byRoute: {},
  linkCalls: {},
  ipCalls: 0,
  errReplies: 0,
  longOrControlErr: [],
})

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value)

async function send(
  env: Env,
  step: Pick<Step, 'route' | 'body' | 'method' | 'headers'>
): Promise<{ status: number; body: Record<string, unknown>; text: string }> {
  const init: RequestInit = { method: step.method }
  if (step.body !== undefined) init.body = step.body
  if (step.headers) init.headers = step.headers
  const res = await env.app.request(`/${step.route}`, init)
  const text = await res.text()
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/, 'reply is JSON')
  let parsed: unknown
  assert.doesNotThrow(
    () => {
      parsed = JSON.parse(text)
    },
    `reply is not JSON: ${text.slice(0, 200)}`
  )
  assert.ok(isObject(parsed), `reply is not a JSON object: ${text.slice(0, 200)}`)
  return { status: res.status, body: parsed, text }
}

/** Checks one request/reply against every property; returns whether it was rejected. */
async function check(env: Env, step: Step, stats: Stats): Promise<void> {
  const before = stateOf(env)
  const callsBefore = env.linkCalls.length
  const reply = await send(env, step)
  const { status, body } = reply
  stats.bodies++
  stats.byKind[step.kind] = (stats.byKind[step.kind] ?? 0) + 1
  const perRoute = (stats.byRoute[step.route] ??= {})
  perRoute[status] = (perRoute[status] ?? 0) + 1
  const where = `${step.method} /${step.route} (${step.kind}) ${JSON.stringify(step.body?.slice(0, 300))} -> ${status} ${reply.text.slice(0, 300)}`

  assert.ok([200, 400, 404, 413, 500].includes(status), `unexpected status: ${where}`)
  if (status === 200) {
    assert.ok(!('Err' in body), `200 with an Err: ${where}`)
  } else {
    assert.deepEqual(Object.keys(body), ['Err'], `error reply is not exactly {Err}: ${where}`)
    const err = body['Err']
    assert.ok(typeof err === 'string' && err.length > 0, `Err is not a non-empty string: ${where}`)
    assert.doesNotMatch(err, /\n\s+at /, `Err carries a stack trace: ${where}`)
    stats.errReplies++
    if (err.length > 1000 || /[\u0000-\u001f\u007f]/.test(err))
      stats.longOrControlErr.push(where.slice(0, 400))
    // A rejected request changes nothing: records, store and kernel are as they were.
    const afterState = stateOf(env)
    if (afterState !== before)
      assert.deepEqual(
        JSON.parse(afterState),
        JSON.parse(before),
        `state changed by a rejected request: ${where}`
      )
  }

  // Oracles for the request shapes whose answer is known without a model.
  if (step.expect413) {
    assert.equal(status, 413, `huge body not refused: ${where}`)
    assert.deepEqual(body, { Err: `request body larger than ${MAX_BODY_BYTES} bytes` })
  } else if (step.kind === 'unknown') {
    assert.equal(status, 404, `unknown route: ${where}`)
  } else if (step.method === 'POST' && !NO_BODY.has(step.route)) {
    // The body is decoded like TextDecoder does: a leading byte-order mark is dropped.
    const text = (step.body ?? '').replace(/^\uFEFF/, '')
    let json: unknown = {}
    let parses = true
    if (text.trim() !== '') {
      try {
        json = JSON.parse(text)
      } catch {
        parses = false
      }
    }
    if (!parses) {
      assert.equal(status, 400, `invalid JSON not a 400: ${where}`)
      assert.match(String(body['Err']), /not valid JSON/)
    } else if (json === null || typeof json !== 'object') {
      // (valibot's looseObject lets an array through: GwAllocCheck, all optional, answers [].)
      assert.equal(status, 400, `non-object body not a 400: ${where}`)
    } else {
      const fields = json as Record<string, unknown>
      const hex = (value: unknown): boolean => typeof value === 'string' && HEX64.test(value)
      const badNet = NEEDS_NETWORK_ID.has(step.route) && !hex(fields['NetworkID'])
      const badEp = NEEDS_ENDPOINT_ID.has(step.route) && !hex(fields['EndpointID'])
      if (badNet || badEp) assert.equal(status, 400, `bad ID not a 400: ${where}`)
    }
  } else if (step.method === 'POST' && NO_BODY.has(step.route)) {
    assert.equal(status, 200, `body-less route failed: ${where}`)
  }

  assert.equal(
    Object.getOwnPropertyNames(Object.prototype).sort().join(','),
    PROTO_KEYS,
    `Object.prototype polluted by ${where}`
  )
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined)

  for (const call of env.linkCalls.slice(callsBefore)) {
    stats.linkCalls[call.method] = (stats.linkCalls[call.method] ?? 0) + 1
    const problem = linkCallProblem(call)
    assert.equal(problem, undefined, `unvalidated link-layer argument ${problem} after ${where}`)
  }
  assert.deepEqual(env.ipProblems(), [], `ip run with an invalid argument after ${where}`)
}

/** Deletes everything the driver knows through the API; nothing may be left anywhere. */
async function cleanUp(env: Env, stats: Stats, baseKernel: string): Promise<void> {
  for (const endpoint of env.driver.endpoints()) {
    const reply = await send(env, {
      route: 'NetworkDriver.DeleteEndpoint',
      method: 'POST',
      body: JSON.stringify({ NetworkID: endpoint.networkId, EndpointID: endpoint.id }),
    })
    stats.cleanup++
    assert.equal(reply.status, 200, `clean-up DeleteEndpoint: ${reply.text}`)
  }
  for (const network of env.driver.networks()) {
    const reply = await send(env, {
      route: 'NetworkDriver.DeleteNetwork',
      method: 'POST',
      body: JSON.stringify({ NetworkID: network.id }),
    })
    stats.cleanup++
    assert.equal(reply.status, 200, `clean-up DeleteNetwork: ${reply.text}`)
  }
  assert.deepEqual(env.driver.networks(), [])
  assert.deepEqual(env.driver.endpoints(), [])
  assert.equal(env.store.networks.size + env.store.endpoints.size, 0, 'store empty')
  assert.equal(JSON.stringify(env.kernel()), baseKernel, 'kernel back to its initial links')
  for (const call of env.linkCalls) assert.equal(linkCallProblem(call), undefined)
  assert.deepEqual(env.ipProblems(), [])
}

async function fuzz(
  makeEnv: () => Promise<Env>,
  seed: number,
  stats: Stats,
  extra?: (env: Env) => void
): Promise<void> {
  const baseKernel = JSON.stringify((await makeEnv()).kernel())
  await fc.assert(
    fc.asyncProperty(runArb, async (steps) => {
      const env = await makeEnv()
      for (const step of steps) await check(env, step, stats)
      await cleanUp(env, stats, baseKernel)
      extra?.(env)
    }),
    { numRuns: RUNS, seed, includeErrorInReport: true }
  )
}

interface Campaign {
  stats: Stats
  ms: number
  /** Unhandled rejections and uncaught exceptions seen while the campaign ran. */
  unhandled: unknown[]
}

/** Memoises an async computation: whichever caller comes first starts it, the others await it. */
function once<T>(make: () => Promise<T>): () => Promise<T> {
  let promise: Promise<T> | undefined
  return () => (promise ??= make())
}

/** One fuzz campaign over one environment, with its own statistics. */
async function runCampaign(
  label: string,
  makeEnv: () => Promise<Env>,
  seed: number,
  extra?: (env: Env, stats: Stats) => void
): Promise<Campaign> {
  const stats = newStats()
  const unhandled: unknown[] = []
  const onUnhandled = (error: unknown): void => {
    unhandled.push(error)
  }
  process.on('unhandledRejection', onUnhandled)
  process.on('uncaughtException', onUnhandled)
  process.stdout.write(
    `# fuzz campaign "${label}": seed=${seed}, runs=${RUNS}; set FUZZ_SEED / FUZZ_RUNS\n`
  )
  const started = Date.now()
  try {
    await fuzz(makeEnv, seed, stats, extra && ((env) => extra(env, stats)))
    // Let a rejection left unhandled by the last run surface before the listeners go.
    await new Promise((resolve) => setImmediate(resolve))
  } finally {
    process.off('unhandledRejection', onUnhandled)
    process.off('uncaughtException', onUnhandled)
  }
  return { stats, ms: Date.now() - started, unhandled }
}

// Each campaign runs at most once per process, started by whichever test needs it first, so every
// test below works alone (--test-name-pattern) and the whole file still fuzzes each variant once.
const fakeCampaign = once(() => runCampaign('fake kernel', fakeKernelEnv, SEED))
const ipCampaign = once(() =>
  runCampaign('iproute2', iproute2Env, SEED + 1, (env, stats) => {
    stats.ipCalls += (env as Env & { ip: FakeIp }).ip.calls.length
  })
)

const KINDS: readonly Step['kind'][] = ['valid', 'mutated', 'junk', 'badjson', 'huge', 'unknown']

/** The statistics a test reads must come from a campaign that really ran. */
function assertCampaignRan(label: string, stats: Stats): void {
  assert.ok(stats.bodies >= RUNS, `${label}: only ${stats.bodies} bodies for ${RUNS} runs`)
  assert.deepEqual(
    Object.keys(stats.byKind).sort(),
    [...KINDS].sort(),
    `${label}: every kind of body was sent`
  )
  assert.deepEqual(
    ROUTES.filter((r) => stats.byRoute[r] === undefined),
    [],
    `${label}: every route was called`
  )
  assert.ok(stats.errReplies > 0, `${label}: no error reply was examined`)
}

// ---------------------------------------------------------------------------------------------

describe('HTTP fuzzing (fast-check)', () => {
  test('every route over the in-memory kernel: JSON replies, {Err} errors, no change on rejection, no leaks', async (t) => {
    const { stats, ms, unhandled } = await fakeCampaign()
    t.diagnostic(
      `fake kernel: ${stats.bodies} bodies (+${stats.cleanup} clean-up) in ${ms} ms, by kind ${JSON.stringify(stats.byKind)}`
    )
    t.diagnostic(`statuses by route ${JSON.stringify(stats.byRoute)}`)
    t.diagnostic(`link calls ${JSON.stringify(stats.linkCalls)}`)
    assertCampaignRan('fake kernel', stats)
    // The valid steps must reach the deep paths, or the fuzzing proves little.
    for (const method of [
      'addIpvlan',
      'probeIpvlan',
      'addVlan',
      'addDummy',
      'remove',
      'removeAll',
      'show',
    ])
      assert.ok((stats.linkCalls[method] ?? 0) > RUNS / 25, `too few ${method} calls`)
    for (const r of [
      'CreateNetwork',
      'CreateEndpoint',
      'Join',
      'DeleteEndpoint',
      'DeleteNetwork',
    ]) {
      const ok200 = stats.byRoute[`NetworkDriver.${r}`]?.[200] ?? 0
      assert.ok(ok200 > RUNS / 25, `too few successful ${r}: ${ok200}`)
    }
    assert.deepEqual(unhandled, [], 'no unhandled rejection or exception')
  })

  test('every route over the real iproute2 layer: every ip argv and batch token is validated', async (t) => {
    const { stats, ms, unhandled } = await ipCampaign()
    t.diagnostic(
      `iproute2: ${stats.bodies} bodies (+${stats.cleanup} clean-up), ${stats.ipCalls} ip runs checked, in ${ms} ms`
    )
    t.diagnostic(`link calls ${JSON.stringify(stats.linkCalls)}`)
    assertCampaignRan('iproute2', stats)
    assert.ok(stats.ipCalls > RUNS, `too few ip runs: ${stats.ipCalls}`)
    assert.deepEqual(unhandled, [], 'no unhandled rejection or exception')
  })

  test(`at least ${MIN_BODIES} generated bodies in total`, async (t) => {
    const fake = (await fakeCampaign()).stats
    const ip = (await ipCampaign()).stats
    assertCampaignRan('fake kernel', fake)
    assertCampaignRan('iproute2', ip)
    const total = fake.bodies + ip.bodies
    t.diagnostic(`total fuzzed bodies: ${total}`)
    process.stdout.write(`# fuzz total bodies: ${total}\n`)
    assert.ok(total >= MIN_BODIES, `only ${total} bodies`)
  })
})

describe('fuzz findings', () => {
  test('generic option keys "__proto__", "constructor", "prototype" are refused as unknown options', async () => {
    const env = await fakeKernelEnv()
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      for (const generic of [`{"${key}":"x","parent":"eth0"}`, `{"parent":"eth0","${key}":"x"}`]) {
        const body = `{"NetworkID":"${NET0}","Options":{"com.docker.network.generic":${generic}},"IPv4Data":[{"Pool":"10.0.0.0/24"}]}`
        const reply = await send(env, {
          route: 'NetworkDriver.CreateNetwork',
          method: 'POST',
          body,
        })
        assert.equal(reply.status, 400, `${key}: ${reply.text}`)
        assert.match(String(reply.body['Err']), new RegExp(`unknown option "${key}"`))
      }
    }
    assert.deepEqual(env.driver.networks(), [])
    assert.equal(({} as Record<string, unknown>)['parent'], undefined)
  })

  test('IPv6 addresses with a zone index are not accepted as CIDRs', {}, async () => {
    const env = await fakeKernelEnv()
    const reply = await send(env, {
      route: 'NetworkDriver.CreateNetwork',
      method: 'POST',
      body: JSON.stringify({
        NetworkID: NET0,
        Options: {
          'com.docker.network.generic': { parent: 'eth0' },
          'com.docker.network.enable_ipv6': true,
        },
        IPv4Data: [{ Pool: '10.0.0.0/24' }],
        IPv6Data: [{ Pool: 'fe80::%eth0/64', Gateway: 'fe80::1%eth0/64' }],
      }),
    })
    assert.equal(reply.status, 400, reply.text)
  })

  test(
    'error messages stay short and free of raw control characters under fuzzing',
    {},
    async (t) => {
      const fake = (await fakeCampaign()).stats
      const ip = (await ipCampaign()).stats
      // Without this, an empty list would pass whether or not any Err was looked at.
      assertCampaignRan('fake kernel', fake)
      assertCampaignRan('iproute2', ip)
      const checked = fake.errReplies + ip.errReplies
      t.diagnostic(
        `Err texts checked: ${checked} (${fake.errReplies}+${ip.errReplies}, ${fake.bodies}+${ip.bodies}) of ${fake.bodies + ip.bodies} fuzzed bodies`
      )
      process.stdout.write(`# fuzz findings: ${checked} Err texts checked\n`)
      const all = [...fake.longOrControlErr, ...ip.longOrControlErr]
      assert.deepEqual(
        all.slice(0, 5),
        [],
        `${all.length} replies with a long or control-character Err`
      )
    }
  )
})
