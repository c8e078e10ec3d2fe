import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { EndpointRecord, NetworkRecord } from '../../src/driver/model.ts'
import { servedView } from '../../src/driver/ipam/served.ts'
import type { SubnetKey } from '../../src/driver/ports/ipam-store.ts'
import { MemoryIpamStore } from '../fakes/ipam-memory-store.ts'
import { MINUTE, testHost } from '../helpers/ipam-hosts.ts'

const SUBNET = '10.0.0.0/24'
const POOL = `lan,${SUBNET}`
const KEY: SubnetKey = { addressSpace: 'lan', subnet: SUBNET }
const GATEWAY = { RequestAddressType: 'com.docker.network.gateway' }

/** Host node-a with a verified heartbeat, on a fresh shared store. */
async function setup(minAgeMs = 10 * MINUTE) {
  const store = new MemoryIpamStore()
  const a = testHost('node-a', store, { minAgeMs })
  assert.equal(await a.liveness.beat(), 'verified')
  return { store, a }
}

const held = (store: MemoryIpamStore) =>
  store
    .entries(KEY)
    .map((e) => `${e.address}:${e.holders.map((h) => h.host).join('+')}`)
    .sort()

describe('IPAM reconciliation of this host’s own allocations', () => {
  test('an orphan is released only once seen unused for IPAM_ORPHAN_AGE; what endpoints use is kept', async () => {
    const { store, a } = await setup()
    const [used, orphan] = [await a.ask(POOL), await a.ask(POOL)]
    assert.deepEqual([used, orphan], ['10.0.0.1/24', '10.0.0.2/24'])
    a.serve(SUBNET, [['e1', '10.0.0.1']])

    let report = await a.reconciler.pass()
    assert.deepEqual(report.released, [])
    assert.deepEqual(report.young, ['10.0.0.2'], 'first seen: too young to release')
    a.clock.mono += 10 * MINUTE - 1
    report = await a.reconciler.pass()
    assert.deepEqual(report.released, [], 'one ms short of the age')
    assert.deepEqual(held(store), ['10.0.0.1:node-a', '10.0.0.2:node-a'])

    a.clock.mono += 1
    report = await a.reconciler.pass()
    assert.deepEqual(report.released, ['10.0.0.2'])
    assert.deepEqual(held(store), ['10.0.0.1:node-a'], 'the used one is kept')
    assert.ok(a.lines.some((l) => /level=warn .*released an allocation .*10\.0\.0\.2/.test(l)))
  })

  test('an allocation whose endpoint appears meanwhile is never released (Docker allocates before CreateEndpoint)', async () => {
    const { store, a } = await setup()
    await a.ask(POOL)
    a.serve(SUBNET, [])
    assert.deepEqual((await a.reconciler.pass()).young, ['10.0.0.1'])
    a.serve(SUBNET, [['e1', '10.0.0.1']])
    a.clock.mono += 60 * MINUTE
    const report = await a.reconciler.pass()
    assert.deepEqual([report.released, report.young], [[], []])
    assert.deepEqual(held(store), ['10.0.0.1:node-a'])
  })

  test('an address released and taken again is a new allocation: its age starts again', async () => {
    const { store, a } = await setup()
    await a.ask(POOL)
    a.serve(SUBNET, [])
    await a.reconciler.pass()
    a.clock.mono += 9 * MINUTE
    await a.ipam.releaseAddress({ poolId: POOL, address: '10.0.0.1' })
    await a.ask(POOL)
    a.clock.mono += 2 * MINUTE
    const report = await a.reconciler.pass()
    assert.deepEqual([report.released, report.young], [[], ['10.0.0.1']])
    assert.deepEqual(held(store), ['10.0.0.1:node-a'])
  })

  test("only this host's dynamic allocations: other hosts', static ones and gateways are never touched", async () => {
    const { store, a } = await setup(1000)
    const b = testHost('node-b', store)
    await a.ask(POOL, '10.0.0.1', GATEWAY)
    await b.ask(POOL, '10.0.0.1', GATEWAY)
    await a.ask(POOL, '10.0.0.50') // --ip or --aux-address: no endpoint record may name it
    await b.ask(POOL) // 10.0.0.2, another host's
    await a.ask(POOL) // 10.0.0.3, this host's orphan
    a.serve(SUBNET, [])
    await a.reconciler.pass()
    a.clock.mono += 1000
    const report = await a.reconciler.pass()
    assert.deepEqual(report.released, ['10.0.0.3'])
    assert.deepEqual(held(store), ['10.0.0.1:node-a+node-b', '10.0.0.2:node-b', '10.0.0.50:node-a'])
  })

  test('subnets this host serves from another IPAM, or not at all, are not judged', async () => {
    const { store, a } = await setup(1000)
    await a.ask(POOL)
    const other: SubnetKey = { addressSpace: 'lan', subnet: '10.9.0.0/24' }
    await a.ask('lan,10.9.0.0/24')
    a.serve(SUBNET, [], 'LocalDefault') // a network on Docker's own IPAM with the same subnet
    await a.reconciler.pass()
    a.clock.mono += 60 * MINUTE
    const report = await a.reconciler.pass()
    assert.deepEqual([report.released, report.retaken], [[], []])
    assert.equal(store.entries(KEY).length, 1)
    assert.equal(store.entries(other).length, 1)
  })

  test('a release that meets a changed entry (compare-and-set) releases nothing', async () => {
    const { store, a } = await setup(1000)
    await a.ask(POOL)
    a.serve(SUBNET, [])
    await a.reconciler.pass()
    a.clock.mono += 1000
    store.beforeCommit = (key, change) => {
      store.beforeCommit = undefined
      // Another writer (a hand edit, a duplicate) rewrites the entry between read and commit.
      const entry = store.entry(key, change.address)
      if (entry)
        store.put(key, {
          ...entry,
          holders: [{ host: 'node-a', poolId: POOL, options: { x: '1' } }],
        })
    }
    const report = await a.reconciler.pass()
    assert.deepEqual(report.released, [])
    assert.deepEqual(store.entry(KEY, '10.0.0.1')?.holders[0]?.options, { x: '1' })
  })

  test('nothing is judged until the heartbeat proved HOST_ID is this process’s', async () => {
    const store = new MemoryIpamStore()
    const a = testHost('node-a', store, { minAgeMs: 1000 })
    await a.ask(POOL)
    a.serve(SUBNET, [])
    const report = await a.reconciler.pass()
    assert.equal(report.skipped, 'heartbeat unverified')
    assert.deepEqual(report.young, [])
  })
})

describe('IPAM reconciliation: a host that comes back to find an address reclaimed', () => {
  test('an endpoint’s address free in the IPAM: an error naming address and endpoint, and taken back', async () => {
    const { store, a } = await setup()
    a.serve(SUBNET, [['c0ffee00112233445566', '10.0.0.7']])
    const report = await a.reconciler.pass()
    assert.deepEqual(report.retaken, ['10.0.0.7'])
    assert.deepEqual(held(store), ['10.0.0.7:node-a'])
    const line = a.lines.find((l) => l.startsWith('level=error'))
    assert.match(line ?? '', /ADDRESS RECLAIMED: 10\.0\.0\.7 of endpoint c0ffee001122 .*taken back/)
    // Taken back as dynamic, so the orphan rule frees it once the endpoint is gone.
    assert.equal(store.entry(KEY, '10.0.0.7')?.kind, 'dynamic')
    a.clock.mono += 60 * MINUTE
    assert.deepEqual((await a.reconciler.pass()).retaken, [], 'said once it is fixed')
  })

  test('an endpoint’s address now held by another host: an error naming that host; nothing changed', async () => {
    const { store, a } = await setup()
    const b = testHost('node-b', store)
    await b.ask(POOL, '10.0.0.7')
    a.serve(SUBNET, [['c0ffee00112233445566', '10.0.0.7']])
    const report = await a.reconciler.pass()
    assert.deepEqual([report.retaken, report.heldElsewhere], [[], ['10.0.0.7']])
    assert.deepEqual(held(store), ['10.0.0.7:node-b'])
    assert.match(
      a.lines.find((l) => l.startsWith('level=error')) ?? '',
      /ADDRESS RECLAIMED: 10\.0\.0\.7 of endpoint c0ffee001122 on this host is now held by host node-b/
    )
  })
})

/** A network record on eth0 (l2, bridge), with `extra` over the defaults. */
const record = (id: string, extra: Partial<NetworkRecord>): NetworkRecord => ({
  id,
  parent: 'eth0',
  parentOrigin: 'existing',
  mode: 'l2',
  flag: 'bridge',
  internal: false,
  ipv4: [],
  ipv6: [],
  ...extra,
})

describe('servedView: what this host serves, from the network driver’s records', () => {
  const network = (id: string, pools: { pool: string; addressSpace?: string }[]) =>
    record(id, {
      ipv4: pools.filter((p) => !p.pool.includes(':')),
      ipv6: pools.filter((p) => p.pool.includes(':')),
    })
  const endpoint = (
    id: string,
    networkId: string,
    ipv4?: string,
    ipv6?: string
  ): EndpointRecord => ({
    id,
    networkId,
    ifname: `ep${id}`,
    ipv4,
    ipv6,
  })

  test('endpoints by subnet, canonical spellings; subnets without a recorded address space left out', () => {
    const view = servedView(
      [
        network('n1', [
          { pool: '10.0.0.0/24', addressSpace: 'lan' },
          { pool: '2001:DB8::/64', addressSpace: 'lan' },
        ]),
        network('n2', [{ pool: '10.1.0.0/24' }]),
      ],
      [
        endpoint('e1', 'n1', '10.0.0.5/24', '2001:db8:0::5/64'),
        endpoint('e2', 'n2', '10.1.0.5/24'),
        endpoint('e3', 'gone', '10.0.0.6/24'),
      ]
    )
    assert.deepEqual([...view.keys()], ['lan 10.0.0.0/24', 'lan 2001:db8::/64'])
    assert.deepEqual(view.get('lan 10.0.0.0/24')?.endpoints, [
      { endpointId: 'e1', networkId: 'n1', address: '10.0.0.5' },
    ])
    assert.deepEqual(view.get('lan 2001:db8::/64')?.endpoints, [
      { endpointId: 'e1', networkId: 'n1', address: '2001:db8::5' },
    ])
  })
})

describe('servedView: the gateways and aux addresses the network records name', () => {
  test('per subnet, canonical, one per network; host_address of older records too; outside the subnet or without an address space left out', () => {
    const view = servedView(
      [
        record('n1', {
          ipv4: [
            {
              pool: '10.0.0.0/24',
              gateway: '10.0.0.1',
              addressSpace: 'lan',
              auxAddresses: ['10.0.0.250', '10.0.0.251', '10.0.0.250', '10.9.9.9'],
            },
          ],
          ipv6: [
            {
              pool: '2001:DB8::/64',
              gateway: '2001:db8:0::1',
              addressSpace: 'lan',
              auxAddresses: ['2001:db8::00fa'],
            },
          ],
          hostAccess: { link: 'ivh0', addresses: ['10.0.0.250/32', '2001:db8::fa/128'] },
        }),
        // Older record: no aux addresses recorded, host_address only.
        record('n2', {
          ipv4: [{ pool: '10.0.0.0/24', gateway: '10.0.0.1', addressSpace: 'lan' }],
          hostAccess: { link: 'ivh1', addresses: ['10.0.0.252/32'] },
        }),
        record('n3', { ipv4: [{ pool: '10.1.0.0/24', gateway: '10.1.0.1' }] }),
      ],
      []
    )
    assert.deepEqual([...view.keys()], ['lan 10.0.0.0/24', 'lan 2001:db8::/64'])
    assert.deepEqual(view.get('lan 10.0.0.0/24')?.reservations, [
      { address: '10.0.0.1', kind: 'gateway', networkId: 'n1' },
      { address: '10.0.0.250', kind: 'static', networkId: 'n1' },
      { address: '10.0.0.251', kind: 'static', networkId: 'n1' },
      { address: '10.0.0.1', kind: 'gateway', networkId: 'n2' },
      { address: '10.0.0.252', kind: 'static', networkId: 'n2' },
    ])
    assert.deepEqual(view.get('lan 2001:db8::/64')?.reservations, [
      { address: '2001:db8::1', kind: 'gateway', networkId: 'n1' },
      { address: '2001:db8::fa', kind: 'static', networkId: 'n1' },
    ])
  })
})

describe('IPAM reconciliation after a switch to etcd: gateways and aux addresses copied from the embedded tables', () => {
  const RANGED = `lan,${SUBNET},10.0.0.64/26`
  const V6 = '2001:db8::/64'
  const V6_KEY: SubnetKey = { addressSpace: 'lan', subnet: V6 }
  const V6_POOL = `lan,${V6}`
  const NETWORK = 'f'.repeat(64)

  /** The embedded era: host-1 (the host name, before HOST_ID was set) on its own tables. */
  async function embeddedEra() {
    const embedded = new MemoryIpamStore()
    const before = testHost('host-1', embedded)
    assert.equal(await before.liveness.beat(), 'verified')
    return { embedded, before }
  }

  /** Node-a on the shared store, reading `embedded` as its old tables. */
  async function switched(store: MemoryIpamStore, embedded: MemoryIpamStore) {
    const a = testHost('node-a', store, { embedded })
    assert.equal(await a.liveness.beat(), 'verified')
    return a
  }

  const plain = (entry: { address: string; kind: string; holders: unknown[] } | undefined) =>
    entry && { address: entry.address, kind: entry.kind, holders: entry.holders }
  const linesOf = (lines: string[], pattern: RegExp) => lines.filter((l) => pattern.test(l))

  test('gateways and aux addresses (IPv4, IPv6) are copied once, as RequestAddress made them, under this HOST_ID; a second pass changes nothing', async () => {
    const { embedded, before } = await embeddedEra()
    assert.equal(await before.ask(RANGED, '10.0.0.1', GATEWAY), '10.0.0.1/24')
    assert.equal(await before.ask(RANGED, '10.0.0.250'), '10.0.0.250/24')
    assert.equal(await before.ask(RANGED), '10.0.0.64/24') // a container's
    assert.equal(await before.ask(V6_POOL, '2001:db8::1', GATEWAY), '2001:db8::1/64')
    assert.equal(await before.ask(V6_POOL, '2001:db8::5'), '2001:db8::5/64')
    const store = new MemoryIpamStore()
    const a = await switched(store, embedded)
    a.serve(SUBNET, [['e1', '10.0.0.64']], 'lan', [
      ['gateway', '10.0.0.1', NETWORK],
      ['static', '10.0.0.250', NETWORK],
    ])
    a.serve(V6, [], 'lan', [
      ['gateway', '2001:db8::1', NETWORK],
      ['static', '2001:db8::5', NETWORK],
    ])

    const report = await a.reconciler.pass()
    assert.deepEqual(report.copied.sort(), ['10.0.0.1', '10.0.0.250', '2001:db8::1', '2001:db8::5'])
    assert.deepEqual(report.reservationsHeldElsewhere, [])
    assert.deepEqual(report.retaken, ['10.0.0.64'], 'the endpoint’s address, as before')
    assert.deepEqual(plain(store.entry(KEY, '10.0.0.1')), {
      address: '10.0.0.1',
      kind: 'gateway',
      holders: [{ host: 'node-a', poolId: RANGED, options: GATEWAY }],
    })
    assert.deepEqual(plain(store.entry(KEY, '10.0.0.250')), {
      address: '10.0.0.250',
      kind: 'static',
      holders: [{ host: 'node-a', poolId: RANGED }],
    })
    assert.deepEqual(plain(store.entry(V6_KEY, '2001:db8::1'))?.kind, 'gateway')
    assert.deepEqual(plain(store.entry(V6_KEY, '2001:db8::5'))?.holders, [
      { host: 'node-a', poolId: V6_POOL },
    ])
    const copiedLines = linesOf(a.lines, /^level=info msg="ipam: copied the /)
    assert.equal(copiedLines.length, 4, a.lines.join('\n'))
    assert.ok(
      copiedLines.some((l) =>
        /copied the gateway 10\.0\.0\.1 of network ffffffffffff from this host's embedded IPAM table into etcd".*"poolIds":\["lan,10\.0\.0\.0\/24,10\.0\.0\.64\/26"\]/.test(
          l
        )
      ),
      copiedLines.join('\n')
    )
    assert.ok(copiedLines.some((l) => /copied the aux address 2001:db8::5 of network/.test(l)))

    const entries = [store.entries(KEY), store.entries(V6_KEY)]
    const commits = store.commits
    const again = await a.reconciler.pass()
    assert.deepEqual([again.copied, again.retaken], [[], []])
    assert.equal(store.commits, commits, 'nothing written')
    assert.deepEqual([store.entries(KEY), store.entries(V6_KEY)], entries)
    assert.equal(linesOf(a.lines, /msg="ipam: copied the /).length, 4, 'each copy said once')
    assert.equal(linesOf(a.lines, /^level=(warn|error)/).length, 1, 'only the endpoint’s error')
  })

  test('a copy is released by Docker’s own ReleaseAddress (same PoolID), and once the network is gone it is never copied back from the tables left behind', async () => {
    const { embedded, before } = await embeddedEra()
    await before.ask(RANGED, '10.0.0.1', GATEWAY)
    await before.ask(RANGED, '10.0.0.250')
    const store = new MemoryIpamStore()
    const a = await switched(store, embedded)
    a.serve(SUBNET, [], 'lan', [
      ['gateway', '10.0.0.1'],
      ['static', '10.0.0.250'],
    ])
    assert.deepEqual((await a.reconciler.pass()).copied.sort(), ['10.0.0.1', '10.0.0.250'])
    // docker network rm: DeleteNetwork (the record goes), then the IPAM releases.
    a.serve(SUBNET, [])
    await a.ipam.releaseAddress({ poolId: RANGED, address: '10.0.0.250' })
    await a.ipam.releaseAddress({ poolId: RANGED, address: '10.0.0.1' })
    assert.deepEqual(store.entries(KEY), [])
    assert.equal(embedded.entries(KEY).length, 2, 'the old tables still hold them')
    const report = await a.reconciler.pass()
    assert.deepEqual([report.copied, store.entries(KEY)], [[], []])
  })

  test('a gateway other hosts hold for the same network gets this host’s share; an aux address another host’s container was given is an error naming address, network and holder, at every pass, and is left alone', async () => {
    const { embedded, before } = await embeddedEra()
    await before.ask(POOL, '10.0.0.1', GATEWAY)
    await before.ask(POOL, '10.0.0.2')
    const store = new MemoryIpamStore()
    const b = testHost('node-b', store)
    await b.ask(POOL, '10.0.0.1', GATEWAY) // node-b made the same network on etcd
    assert.equal(await b.ask(POOL), '10.0.0.2/24') // and one of its containers got the aux address
    const a = await switched(store, embedded)
    a.serve(SUBNET, [], 'lan', [
      ['gateway', '10.0.0.1', NETWORK],
      ['static', '10.0.0.2', NETWORK],
    ])

    let report = await a.reconciler.pass()
    assert.deepEqual(report.copied, ['10.0.0.1'])
    assert.deepEqual(report.reservationsHeldElsewhere, ['10.0.0.2'])
    assert.deepEqual(plain(store.entry(KEY, '10.0.0.1')), {
      address: '10.0.0.1',
      kind: 'gateway',
      holders: [
        { host: 'node-b', poolId: POOL, options: GATEWAY },
        { host: 'node-a', poolId: POOL, options: GATEWAY },
      ],
    })
    const taken = plain(store.entry(KEY, '10.0.0.2'))
    assert.deepEqual(taken, {
      address: '10.0.0.2',
      kind: 'dynamic',
      holders: [{ host: 'node-b', poolId: POOL }],
    })
    const errors = () =>
      linesOf(
        a.lines,
        /^level=error msg="ipam: NOT COPIED INTO ETCD: the aux address 10\.0\.0\.2 of network ffffffffffff on this host is held by host node-b as a dynamic address; a container there was given it/
      )
    assert.equal(errors().length, 1, a.lines.join('\n'))
    assert.match(errors()[0] ?? '', /"networks":\["ffffffffffff"\],"holders":\["node-b"\]/)

    report = await a.reconciler.pass()
    assert.deepEqual([report.copied, report.reservationsHeldElsewhere], [[], ['10.0.0.2']])
    assert.equal(errors().length, 2, 'said again while it lasts')
    assert.deepEqual(plain(store.entry(KEY, '10.0.0.2')), taken)

    // The container there goes: the reservation is copied at the next pass.
    await b.ipam.releaseAddress({ poolId: POOL, address: '10.0.0.2' })
    report = await a.reconciler.pass()
    assert.deepEqual([report.copied, report.reservationsHeldElsewhere], [['10.0.0.2'], []])
    assert.deepEqual(store.entry(KEY, '10.0.0.2')?.holders, [{ host: 'node-a', poolId: POOL }])
  })

  test('the gateway held by another host as a static address, or an aux address as its gateway: not shared, an error', async () => {
    const { embedded, before } = await embeddedEra()
    await before.ask(POOL, '10.0.0.1', GATEWAY)
    await before.ask(POOL, '10.0.0.9')
    const store = new MemoryIpamStore()
    const b = testHost('node-b', store)
    await b.ask(POOL, '10.0.0.1') // an --ip there
    await b.ask(POOL, '10.0.0.9', GATEWAY) // another network's --gateway there
    const a = await switched(store, embedded)
    a.serve(SUBNET, [], 'lan', [
      ['gateway', '10.0.0.1'],
      ['static', '10.0.0.9'],
    ])
    const report = await a.reconciler.pass()
    assert.deepEqual(report.copied, [])
    assert.deepEqual(report.reservationsHeldElsewhere.sort(), ['10.0.0.1', '10.0.0.9'])
    assert.deepEqual(held(store), ['10.0.0.1:node-b', '10.0.0.9:node-b'])
    const errors = linesOf(a.lines, /^level=error msg="ipam: NOT COPIED INTO ETCD/)
    assert.equal(errors.length, 2)
    assert.ok(
      errors.some((l) =>
        /the gateway 10\.0\.0\.1 .*held by host node-b as a static address; it is reserved twice/.test(
          l
        )
      )
    )
    assert.ok(
      errors.some((l) => /the aux address 10\.0\.0\.9 .*held by host node-b as its gateway/.test(l))
    )
  })

  test('records without aux addresses (older plugin): gateway and host_address copied; the other static entries of the old table named once in a warning, not copied; an endpoint’s --ip is not among them', async () => {
    const { embedded, before } = await embeddedEra()
    await before.ask(POOL, '10.0.0.1', GATEWAY)
    await before.ask(POOL, '10.0.0.250') // --aux-address host=… with -o host_address
    await before.ask(POOL, '10.0.0.251') // --aux-address router=…, not recorded
    await before.ask(POOL, '10.0.0.70') // a container's --ip
    const store = new MemoryIpamStore()
    const a = await switched(store, embedded)
    // As servedView makes it from such a record: gateway and hostAccess only.
    a.serve(SUBNET, [['e1', '10.0.0.70']], 'lan', [
      ['gateway', '10.0.0.1'],
      ['static', '10.0.0.250'],
    ])
    const report = await a.reconciler.pass()
    assert.deepEqual(report.copied.sort(), ['10.0.0.1', '10.0.0.250'])
    assert.equal(store.entry(KEY, '10.0.0.251'), undefined)
    const warned = () =>
      linesOf(
        a.lines,
        /^level=warn msg="ipam: static addresses of this host's embedded IPAM table that no network record names/
      )
    assert.equal(warned().length, 1, a.lines.join('\n'))
    assert.match(warned()[0] ?? '', /"addresses":\["10\.0\.0\.251"\]/)
    await a.reconciler.pass()
    assert.equal(warned().length, 1, 'said once')
    assert.equal(store.entry(KEY, '10.0.0.251'), undefined)
  })

  test('a reservation held in neither store: a warning once, nothing written; an unreadable old table: a warning once, and the endpoints are still reconciled', async () => {
    const store = new MemoryIpamStore()
    const a = await switched(store, new MemoryIpamStore())
    a.serve(SUBNET, [], 'lan', [['gateway', '10.0.0.1', NETWORK]])
    await a.reconciler.pass()
    await a.reconciler.pass()
    const missing = linesOf(
      a.lines,
      /^level=warn msg="ipam: the gateway 10\.0\.0\.1 of network ffffffffffff is held by this host neither in etcd nor, as a gateway, in its embedded IPAM table/
    )
    assert.equal(missing.length, 1, a.lines.join('\n'))
    assert.deepEqual(store.entries(KEY), [])

    const broken = {
      read: () => Promise.reject(new Error('IPAM state file /x is invalid (schema mismatch)')),
    }
    const c = testHost('node-c', store, { embedded: broken })
    assert.equal(await c.liveness.beat(), 'verified')
    c.serve(SUBNET, [['e1', '10.0.0.7']], 'lan', [['gateway', '10.0.0.1']])
    let report = await c.reconciler.pass()
    assert.deepEqual([report.copied, report.failed, report.retaken], [[], [], ['10.0.0.7']])
    report = await c.reconciler.pass()
    const unreadable = linesOf(
      c.lines,
      /^level=warn msg="ipam: this host's embedded IPAM table .*cannot be read.*schema mismatch/
    )
    assert.equal(unreadable.length, 1, c.lines.join('\n'))
  })

  test('on the embedded backend itself (no old tables to read) nothing is copied or read', async () => {
    const { store, a } = await setup()
    a.serve(SUBNET, [], 'lan', [
      ['gateway', '10.0.0.1'],
      ['static', '10.0.0.250'],
    ])
    const report = await a.reconciler.pass()
    assert.deepEqual(report.copied, [])
    assert.equal(store.commits, 0)
    assert.deepEqual(store.entries(KEY), [])
  })
})
