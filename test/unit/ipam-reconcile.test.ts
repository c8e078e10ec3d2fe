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

describe('servedView: what this host serves, from the network driver’s records', () => {
  const network = (
    id: string,
    pools: { pool: string; addressSpace?: string }[]
  ): NetworkRecord => ({
    id,
    parent: 'eth0',
    parentOrigin: 'existing',
    mode: 'l2',
    flag: 'bridge',
    internal: false,
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
