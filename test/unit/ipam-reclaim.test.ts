import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Hono } from 'hono'
import type { SubnetKey } from '../../src/driver/ports/ipam-store.ts'
import { DriverError } from '../../src/errors.ts'
import { mountIpamAdminRoutes } from '../../src/http/ipam-admin-routes.ts'
import { silentLogger } from '../../src/log.ts'
import { MemoryIpamStore } from '../fakes/ipam-memory-store.ts'
import { MINUTE, testHost } from '../helpers/ipam-hosts.ts'

const POOL = 'lan,10.0.0.0/24'
const V6POOL = 'lan,2001:db8::/64'
const KEY: SubnetKey = { addressSpace: 'lan', subnet: '10.0.0.0/24' }
const V6KEY: SubnetKey = { addressSpace: 'lan', subnet: '2001:db8::/64' }
const GATEWAY = { RequestAddressType: 'com.docker.network.gateway' }
const DAY = 24 * 60 * MINUTE

/** node-a (alive) and node-b (about to die) on one store; b holds addresses in two subnets. */
async function cluster(graceMs?: number) {
  const store = new MemoryIpamStore()
  const a = testHost('node-a', store, { graceMs, minAgeMs: 1000 })
  const b = testHost('node-b', store)
  b.clock.wall = a.clock.wall
  assert.equal(await a.liveness.beat(), 'verified')
  assert.equal(await b.liveness.beat(), 'verified')
  await a.ask(POOL, '10.0.0.1', GATEWAY)
  await b.ask(POOL, '10.0.0.1', GATEWAY)
  await a.ask(POOL) // 10.0.0.2
  await b.ask(POOL) // 10.0.0.3
  await b.ask(POOL, '10.0.0.40') // static
  await b.ask(V6POOL) // 2001:db8::1
  return { store, a, b }
}

const holders = (store: MemoryIpamStore, key = KEY) =>
  Object.fromEntries(store.entries(key).map((e) => [e.address, e.holders.map((h) => h.host)]))

describe('dead-host reclaim after IPAM_RECLAIM_AFTER', () => {
  test('before the grace period nothing; after it every allocation of the silent host, in every subnet, and only its', async () => {
    const { store, a } = await cluster(7 * DAY)
    a.clock.wall += 7 * DAY - 1
    let report = await a.reconciler.pass()
    assert.deepEqual(report.reclaims, [])
    assert.deepEqual(holders(store)['10.0.0.3'], ['node-b'])

    a.clock.wall += 1
    report = await a.reconciler.pass()
    const [reclaim] = report.reclaims
    assert.equal(reclaim?.host, 'node-b')
    assert.deepEqual(reclaim.released.map((x) => x.address).sort(), [
      '10.0.0.1',
      '10.0.0.3',
      '10.0.0.40',
      '2001:db8::1',
    ])
    assert.deepEqual(holders(store), { '10.0.0.1': ['node-a'], '10.0.0.2': ['node-a'] })
    assert.deepEqual(holders(store, V6KEY), {})
    const line = a.lines.find((l) => /RECLAIMED/.test(l)) ?? ''
    assert.match(line, /^level=warn msg="ipam: RECLAIMED 4 address\(es\) of host node-b"/)
    assert.match(line, /"host":"node-b"/)
    assert.match(line, /"addresses":\[[^\]]*"10\.0\.0\.3"/)
    assert.match(line, /"ageSeconds":604800/)
    assert.match(line, /"lastHeartbeat":"2026-01-01T00:00:00.000Z"/)
  })

  test('off (no IPAM_RECLAIM_AFTER): a host silent for a year keeps its addresses', async () => {
    const { store, a } = await cluster(undefined)
    a.clock.wall += 365 * DAY
    assert.deepEqual((await a.reconciler.pass()).reclaims, [])
    assert.deepEqual(holders(store)['10.0.0.3'], ['node-b'])
  })

  test('compare-and-set: an entry changed since it was read is left alone', async () => {
    const { store, a } = await cluster(DAY)
    a.clock.wall += DAY
    store.beforeCommit = (key, change) => {
      if (change.address !== '10.0.0.3') return
      const entry = store.entry(key, change.address)
      if (entry) store.put(key, { ...entry, kind: 'static' })
    }
    const [reclaim] = (await a.reconciler.pass()).reclaims
    assert.deepEqual(
      reclaim?.conflicts.map((x) => x.address),
      ['10.0.0.3']
    )
    assert.deepEqual(holders(store)['10.0.0.3'], ['node-b'])
    assert.equal(store.entry(KEY, '10.0.0.3')?.kind, 'static')
  })

  test('compare-and-set on the heartbeat: the host beating again mid-reclaim stops it', async () => {
    const { store, a, b } = await cluster(DAY)
    a.clock.wall += DAY
    b.clock.wall += DAY
    let first = true
    store.beforeCommit = () => {
      if (!first) return
      first = false
      // node-b is back: its beat lands between the reclaim's read and its first commit.
      store.putBeat({
        host: 'node-b',
        instance: 'node-b-instance',
        at: b.clock.wall,
        everyMs: 30_000,
      })
    }
    const [reclaim] = (await a.reconciler.pass()).reclaims
    assert.deepEqual(reclaim?.released, [])
    assert.equal(reclaim?.conflicts.length, 4)
    assert.deepEqual(holders(store)['10.0.0.3'], ['node-b'])
  })
})

test('two hosts reclaiming the same dead one at once: each address released once, no conflict reported', async () => {
  const { store, a } = await cluster(DAY)
  const c = testHost('node-c', store, { graceMs: DAY })
  a.clock.wall += DAY
  c.clock.wall = a.clock.wall
  assert.equal(await c.liveness.beat(), 'verified')
  assert.equal(await a.liveness.beat(), 'verified') // node-a is alive too: only node-b is silent
  const before = store.conflicts
  const [ra, rc] = await Promise.all([a.reconciler.pass(), c.reconciler.pass()])
  const reports = [...ra.reclaims, ...rc.reclaims]
  const released = reports.flatMap((r) => r.released.map((x) => x.address)).sort()
  assert.deepEqual(released, ['10.0.0.1', '10.0.0.3', '10.0.0.40', '2001:db8::1'])
  assert.deepEqual(
    reports.flatMap((r) => r.conflicts),
    []
  )
  assert.ok(store.conflicts > before, 'the two reclaims did collide')
  assert.deepEqual(holders(store), { '10.0.0.1': ['node-a'], '10.0.0.2': ['node-a'] })
})

describe('operator reclaim (IpamAdmin.ReclaimHost)', () => {
  test('refuses this host itself, and a host that beat recently unless forced', async () => {
    const { a } = await cluster()
    await assert.rejects(a.reclaimer.operatorReclaim('node-a', true), (e: unknown) => {
      assert.ok(e instanceof DriverError && e.kind === 'invalid-parameter')
      assert.match(e.message, /^Host: "node-a" is this host \(HOST_ID\)/)
      return true
    })
    a.clock.wall += 89_000
    await assert.rejects(a.reclaimer.operatorReclaim('node-b', false), (e: unknown) => {
      assert.ok(e instanceof DriverError && e.kind === 'conflict')
      assert.match(e.message, /node-b" wrote its heartbeat 89 s ago .*looks alive.*"Force": true/)
      return true
    })
    const report = await a.reclaimer.operatorReclaim('node-b', true)
    assert.equal(report.released.length, 4)
  })

  test('a host silent for three of its intervals, or that never beat, is reclaimed on request', async () => {
    const { store, a } = await cluster()
    a.clock.wall += 90_000
    assert.equal((await a.reclaimer.operatorReclaim('node-b', false)).released.length, 4)
    // An old plugin (no heartbeat) or a renamed host: its allocations are reclaimable by hand.
    await store.commit(KEY, {
      address: '10.0.0.9',
      expect: 0,
      next: { address: '10.0.0.9', kind: 'dynamic', holders: [{ host: 'old-name', poolId: POOL }] },
    })
    const report = await a.reclaimer.operatorReclaim('old-name', false)
    assert.deepEqual(
      report.released.map((x) => x.address),
      ['10.0.0.9']
    )
    assert.equal(report.lastBeat, undefined)
  })

  test('over HTTP: the report, and error statuses curl --fail sees', async () => {
    const { a } = await cluster()
    a.clock.wall += 90_000
    const app = new Hono()
    mountIpamAdminRoutes(app, { reclaimer: a.reclaimer, log: silentLogger })
    const post = async (body: string) => {
      const response = await app.request('/IpamAdmin.ReclaimHost', { method: 'POST', body })
      return { status: response.status, json: (await response.json()) as Record<string, unknown> }
    }
    let reply = await post('{"Host":"node-a"}')
    assert.equal(reply.status, 400)
    assert.match(String(reply.json['Error']), /is this host/)
    reply = await post('{"Host":"no/slash"}')
    assert.equal(reply.status, 400)
    assert.match(String(reply.json['Error']), /^ReclaimHost: Host: expected a HOST_ID/)
    reply = await post('{"Host":"node-b","Force":"yes"}')
    assert.equal(reply.status, 400)
    assert.match(String(reply.json['Error']), /Force: expected true or false/)
    reply = await post('{"Host":"node-b"}')
    assert.equal(reply.status, 200)
    assert.equal(reply.json['Host'], 'node-b')
    assert.deepEqual(reply.json['Conflicts'], [])
    assert.equal((reply.json['Released'] as unknown[]).length, 4)
    assert.deepEqual((reply.json['Released'] as unknown[])[0], {
      Subnet: '10.0.0.0/24',
      Address: '10.0.0.1',
      Kind: 'gateway',
    })
    assert.equal(reply.json['LastHeartbeat'], '2026-01-01T00:00:00.000Z')
  })
})
