import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { DriverError } from '../../src/errors.ts'
import { MemoryIpamStore } from '../fakes/ipam-memory-store.ts'
import { testHost } from '../helpers/ipam-hosts.ts'

const POOL = 'lan,10.0.0.0/24'
const EVERY = 30_000

const refusedForHostId = (error: unknown): boolean => {
  assert.ok(error instanceof DriverError, String(error))
  assert.equal(error.kind, 'unavailable')
  assert.match(error.message, /^HOST_ID "node-a" is used by another live plugin process too/)
  assert.match(error.message, /give each host its own HOST_ID/)
  return true
}

describe('heartbeat and duplicate HOST_ID detection', () => {
  test('no beat yet: written at once, HOST_ID ours', async () => {
    const store = new MemoryIpamStore()
    const a = testHost('node-a', store, { everyMs: EVERY })
    assert.equal(await a.liveness.beat(), 'verified')
    const [beat] = await store.beats()
    assert.deepEqual(
      { host: beat?.host, instance: beat?.instance, at: beat?.at, everyMs: beat?.everyMs },
      { host: 'node-a', instance: 'node-a-instance', at: a.clock.wall, everyMs: EVERY }
    )
    a.clock.wall += EVERY
    assert.equal(await a.liveness.beat(), 'verified')
    assert.equal((await store.beats())[0]?.at, a.clock.wall, 'rewritten on every beat')
  })

  test("a previous process's beat that stays still is taken over after two of its intervals", async () => {
    const store = new MemoryIpamStore()
    store.putBeat({ host: 'node-a', instance: 'previous', at: 0, everyMs: 60_000 })
    const a = testHost('node-a', store, { everyMs: EVERY })
    assert.equal(await a.liveness.beat(), 'unverified')
    a.clock.wall += 119_999
    assert.equal(await a.liveness.beat(), 'unverified', 'twice the longer interval not passed')
    a.clock.wall += 1
    assert.equal(await a.liveness.beat(), 'verified')
    assert.equal((await store.beats())[0]?.instance, 'node-a-instance')
    assert.equal(a.ipam.hostId, 'node-a')
    assert.equal(await a.ask(POOL), '10.0.0.1/24')
  })

  test('a beat that moves while this process waits: HOST_ID shared, IPAM requests refused naming it', async () => {
    const store = new MemoryIpamStore()
    store.putBeat({ host: 'node-a', instance: 'twin', at: 0, everyMs: EVERY })
    const a = testHost('node-a', store, { everyMs: EVERY })
    assert.equal(await a.liveness.beat(), 'unverified')
    assert.equal(await a.ask(POOL), '10.0.0.1/24', 'requests are served while it checks')
    store.putBeat({ host: 'node-a', instance: 'twin', at: 1, everyMs: EVERY })
    a.clock.wall += EVERY
    assert.equal(await a.liveness.beat(), 'duplicate')
    await assert.rejects(a.ask(POOL), refusedForHostId)
    await assert.rejects(
      a.ipam.releaseAddress({ poolId: POOL, address: '10.0.0.1' }),
      refusedForHostId
    )
    assert.ok(
      a.lines.some((l) =>
        /^level=error .*ANOTHER LIVE PLUGIN PROCESS WRITES THIS HOST_ID.*"theirs":"twin"/.test(l)
      )
    )
    assert.equal(await a.liveness.beat(), 'duplicate', 'until restarted')
  })

  test('two processes with one HOST_ID, both running: the next beat of one finds the other', async () => {
    const store = new MemoryIpamStore()
    const one = testHost('node-a', store, { instance: 'one' })
    assert.equal(await one.liveness.beat(), 'verified')
    // The second started while the first was cut off from the store, then took over.
    store.putBeat({ host: 'node-a', instance: 'two', at: 5, everyMs: EVERY })
    assert.equal(await one.liveness.beat(), 'duplicate')
    await assert.rejects(one.ask(POOL), refusedForHostId)
    assert.equal((await one.reconciler.pass()).skipped, 'heartbeat duplicate')
  })

  test('a store failure is a warning; the next beat tries again', async () => {
    const store = new MemoryIpamStore()
    const a = testHost('node-a', store)
    const beats = store.beats.bind(store)
    store.beats = () => Promise.reject(new Error('etcd unreachable at http://10.0.0.5:2379'))
    assert.equal(await a.liveness.beat(), 'unverified')
    assert.equal(await a.liveness.beat(), 'unverified')
    const warned = a.lines.filter((l) =>
      /^level=warn .*heartbeat not written.*etcd unreachable/.test(l)
    )
    assert.equal(warned.length, 1, 'said once per outage')
    store.beats = beats
    assert.equal(await a.liveness.beat(), 'verified')
    assert.ok(a.lines.some((l) => /^level=info .*heartbeat written again/.test(l)))
  })
})
