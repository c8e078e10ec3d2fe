import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { describe, test } from 'node:test'
import type { TestContext } from 'node:test'
import { Ipam } from '../../src/driver/ipam/ipam.ts'
import type { Allocation } from '../../src/driver/ipam/model.ts'
import type { SubnetKey } from '../../src/driver/ports/ipam-store.ts'
import { createLogger, silentLogger } from '../../src/log.ts'
import { prefixEnd } from '../../src/store/etcd-gateway.ts'
import { IpamEtcdStore } from '../../src/store/ipam-etcd-store.ts'
import { FakeEtcdData, startFakeEtcd } from '../fakes/fake-etcd.ts'
import type { FakeEtcd } from '../fakes/fake-etcd.ts'

const KEY: SubnetKey = { addressSpace: 'lan', subnet: '10.0.0.0/24' }
const POOL = 'lan,10.0.0.0/24'
const FOLDER = '/ipvlan-lan/ipam/lan/10.0.0.0_24/'

const allocation = (address: string, host = 'node-a'): Allocation => ({
  address,
  kind: 'dynamic',
  holders: [{ host, poolId: POOL }],
})

async function fake(t: TestContext, data?: FakeEtcdData): Promise<FakeEtcd> {
  const server = await startFakeEtcd(data)
  t.after(() => server.close())
  return server
}

/** A URL where nothing listens: connections are refused at once. */
async function deadUrl(): Promise<string> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return `http://127.0.0.1:${port}`
}

const storeOn = (endpoints: string[], timeoutMs = 2000, prefix = '/ipvlan-lan/') =>
  new IpamEtcdStore({ endpoints, timeoutMs, prefix })

async function elapsed<T>(run: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const started = performance.now()
  const result = await run()
  return { ms: performance.now() - started, result }
}

describe('IpamEtcdStore', () => {
  test('key layout: <prefix>ipam/<space>/<subnet>/<address>, the allocation JSON with a format version', async (t) => {
    const etcd = await fake(t)
    const store = storeOn([etcd.url], 2000, '/lab/x/')
    const a = allocation('10.0.0.5')
    const v6key = { addressSpace: 'lan', subnet: '2001:db8::/64' }
    assert.equal(await store.commit(KEY, { address: a.address, expect: 0, next: a }), true)
    const b = allocation('2001:db8::1')
    assert.equal(await store.commit(v6key, { address: b.address, expect: 0, next: b }), true)
    assert.deepEqual(etcd.data.keys(), [
      '/lab/x/ipam/lan/10.0.0.0_24/10.0.0.5',
      '/lab/x/ipam/lan/2001:db8::_64/2001:db8::1',
    ])
    const value = JSON.parse(etcd.data.get('/lab/x/ipam/lan/10.0.0.0_24/10.0.0.5')?.value ?? '')
    assert.equal(value.version, 1)
    assert.equal(typeof value.write, 'string')
    assert.ok(value.write.length > 0)
    assert.deepEqual(
      { address: value.address, kind: value.kind, holders: value.holders },
      { address: '10.0.0.5', kind: 'dynamic', holders: [{ host: 'node-a', poolId: POOL }] }
    )
  })

  test('read: one range over the subnet, header revision, each entry at its mod_revision; other subnets and prefixes left out', async (t) => {
    const etcd = await fake(t)
    const store = storeOn([etcd.url])
    assert.deepEqual(await store.read(KEY), { revision: 1, allocations: [] })
    const narrow = { addressSpace: 'lan', subnet: '10.0.0.0/25' }
    await store.commit(KEY, { address: '10.0.0.9', expect: 0, next: allocation('10.0.0.9') })
    await store.commit(narrow, { address: '10.0.0.9', expect: 0, next: allocation('10.0.0.9') })
    await store.commit(KEY, { address: '10.0.0.10', expect: 0, next: allocation('10.0.0.10') })
    etcd.data.put('/other/ipam/lan/10.0.0.0_24/10.0.0.11', 'not ours')
    etcd.requests.length = 0
    const table = await store.read(KEY)
    assert.deepEqual(etcd.requests, ['/v3/kv/range'], 'one request per read')
    assert.equal(table.revision, 5)
    assert.deepEqual(table.allocations.map(({ address, revision }) => [address, revision]).sort(), [
      ['10.0.0.10', 4],
      ['10.0.0.9', 2],
    ])
    assert.deepEqual(
      (await store.read(narrow)).allocations.map((x) => x.address),
      ['10.0.0.9']
    )
  })

  test('prefixEnd: the key after every key starting with the prefix', () => {
    const end = (p: string) => Buffer.from(prefixEnd(p), 'base64').toString('latin1')
    assert.equal(end('/a/'), '/a0')
    assert.equal(end('/ipam/lan/10.0.0.0_24/'), '/ipam/lan/10.0.0.0_240')
    assert.equal(Buffer.from(prefixEnd('a\xff'), 'base64').toString('hex'), '61c3c0') // UTF-8 c3 bf
  })

  test('compare-and-set: create, update, delete; a stale revision writes nothing', async (t) => {
    const etcd = await fake(t)
    const store = storeOn([etcd.url])
    const a = allocation('10.0.0.5')
    assert.equal(await store.commit(KEY, { address: a.address, expect: 0, next: a }), true)
    const rev = (await store.read(KEY)).allocations[0]?.revision ?? -1
    assert.equal(rev, 2)
    const before = etcd.data.get(FOLDER + a.address)
    const shared: Allocation = { ...a, kind: 'gateway', holders: [...a.holders, ...a.holders] }
    assert.equal(await store.commit(KEY, { address: a.address, expect: 0, next: a }), false)
    assert.equal(await store.commit(KEY, { address: a.address, expect: 7, next: shared }), false)
    assert.equal(await store.commit(KEY, { address: a.address, expect: 9, next: undefined }), false)
    assert.deepEqual(etcd.data.get(FOLDER + a.address), before, 'nothing written on a conflict')
    assert.equal(await store.commit(KEY, { address: a.address, expect: rev, next: shared }), true)
    const [updated] = (await store.read(KEY)).allocations
    assert.deepEqual(updated, { ...shared, revision: 3 })
    assert.equal(await store.commit(KEY, { address: a.address, expect: 3, next: undefined }), true)
    assert.deepEqual(etcd.data.keys(), [])
    assert.equal(await store.commit(KEY, { address: a.address, expect: 3, next: undefined }), false)
  })

  test('two hosts on two members of one cluster: 80 concurrent requests, no address twice, each held by its host', async (t) => {
    const data = new FakeEtcdData()
    const [m1, m2] = [await fake(t, data), await fake(t, data)]
    const hosts = [
      new Ipam({ store: storeOn([m1.url, m2.url]), host: 'node-a', log: silentLogger }),
      new Ipam({ store: storeOn([m2.url, m1.url]), host: 'node-b', log: silentLogger }),
    ] as const
    const asked = Array.from({ length: 80 }, (_, i) => (i % 2 === 0 ? 'node-a' : 'node-b'))
    const got = await Promise.all(
      asked.map((host) =>
        hosts[host === 'node-a' ? 0 : 1].requestAddress({
          poolId: POOL,
          address: '',
          options: new Map(),
        })
      )
    )
    assert.equal(new Set(got).size, 80)
    assert.ok(m1.requests.length > 0 && m2.requests.length > 0, 'both members were used')
    const table = await storeOn([m1.url]).read(KEY)
    assert.equal(table.allocations.length, 80)
    const holder = new Map(table.allocations.map((a) => [`${a.address}/24`, a.holders[0]?.host]))
    got.forEach((address, i) => assert.equal(holder.get(address), asked[i]))
  })

  test('a member that never answers: an error within the timeout naming it, not a hang', async (t) => {
    const etcd = await fake(t)
    etcd.mode = 'hang'
    const store = storeOn([etcd.url], 300)
    for (const run of [
      () => store.read(KEY),
      () => store.commit(KEY, { address: '10.0.0.5', expect: 0, next: allocation('10.0.0.5') }),
    ]) {
      const started = performance.now()
      await assert.rejects(run(), (error: Error) => {
        assert.equal(error.message, `etcd unreachable at ${etcd.url} (no answer within 300 ms)`)
        return true
      })
      const ms = performance.now() - started
      assert.ok(ms >= 250 && ms < 2000, `failed after ${Math.round(ms)} ms`)
    }
    assert.equal(etcd.requests.length, 2, 'the requests did reach the member')
  })

  test('a member down: the next one is used, and first from then on', async (t) => {
    const etcd = await fake(t)
    const hanging = await fake(t, etcd.data)
    hanging.mode = 'hang'
    const dead = await deadUrl()
    const warnings: string[] = []
    const log = createLogger('warn', (_, line) => warnings.push(line))
    const failing = new IpamEtcdStore({
      endpoints: [dead, etcd.url],
      timeoutMs: 2000,
      prefix: '/ipvlan-lan/',
      log,
    })
    assert.deepEqual(await failing.read(KEY), { revision: 1, allocations: [] })
    assert.equal(etcd.requests.length, 1)
    assert.equal(warnings.length, 1, 'the failed member is logged')
    assert.match(warnings[0] ?? '', /etcd member failed; the next one answered/)
    assert.ok(warnings[0]?.includes(dead) && warnings[0].includes(etcd.url), warnings[0])
    // A member that hangs costs its timeout once: the one that answered is asked first after.
    const store = storeOn([hanging.url, etcd.url], 300)
    const first = await elapsed(() => store.read(KEY))
    const second = await elapsed(() => store.read(KEY))
    assert.ok(first.ms >= 250, `first read took ${Math.round(first.ms)} ms`)
    assert.ok(second.ms < 250, `second read took ${Math.round(second.ms)} ms`)
    assert.equal(hanging.requests.length, 1)
    assert.equal(etcd.requests.length, 3)
  })

  test('every member down: one error naming each and what happened', async (t) => {
    const hanging = await fake(t)
    hanging.mode = 'hang'
    const dead = await deadUrl()
    await assert.rejects(storeOn([dead, hanging.url], 300).read(KEY), (error: Error) => {
      assert.match(
        error.message,
        new RegExp(
          `^etcd unreachable at ${dead} \\(.*ECONNREFUSED.*\\), ${hanging.url} \\(no answer within 300 ms\\)$`
        )
      )
      return true
    })
  })

  test('a commit whose answer was lost after it was applied: retried on the next member, recognised as done', async (t) => {
    const data = new FakeEtcdData()
    const [dropping, good] = [await fake(t, data), await fake(t, data)]
    dropping.mode = 'apply-then-drop'
    const store = storeOn([dropping.url, good.url])
    const a = allocation('10.0.0.5')
    assert.equal(await store.commit(KEY, { address: a.address, expect: 0, next: a }), true)
    assert.deepEqual([dropping.requests.length, good.requests.length], [1, 1])
    assert.deepEqual(
      (await store.read(KEY)).allocations.map((x) => x.holders),
      [a.holders],
      'written once'
    )
    // Control: another write of the same allocation is a conflict, not taken for its own.
    assert.equal(await store.commit(KEY, { address: a.address, expect: 0, next: a }), false)
  })

  test('an unusable value stops the subnet with an error naming the key and the way out', async (t) => {
    const etcd = await fake(t)
    const store = storeOn([etcd.url])
    const good = JSON.parse(JSON.stringify({ version: 1, ...allocation('10.0.0.7'), write: 'x' }))
    for (const [name, value, message] of [
      ['10.0.0.7', '{"version":1,', /\(invalid JSON: .*\)/],
      ['10.0.0.7', JSON.stringify({ ...good, kind: 'borrowed' }), /schema mismatch/],
      ['10.0.0.7', JSON.stringify({ ...good, holders: [] }), /schema mismatch/],
      ['10.0.0.7', JSON.stringify({ ...good, address: '10.0.0.8' }), /its value is for 10.0.0.8/],
      ['10.0.0.07', JSON.stringify(good), /not a canonical address of the subnet/],
      ['10.0.1.7', JSON.stringify(good), /not a canonical address of the subnet/],
      ['sub/10.0.0.7', JSON.stringify(good), /not a canonical address of the subnet/],
    ] as const) {
      const data = new FakeEtcdData()
      data.put(FOLDER + name, value)
      const member = await fake(t, data)
      await assert.rejects(storeOn([member.url]).read(KEY), (error: Error) => {
        assert.match(error.message, message)
        assert.ok(
          error.message.startsWith(`etcd key ${FOLDER}${name} is not a valid IPAM allocation (`),
          error.message
        )
        assert.match(error.message, /no address of 10\.0\.0\.0\/24 is handed out or released/)
        assert.match(error.message, new RegExp(`etcdctl del ${FOLDER}${name} `))
        return true
      })
    }
    etcd.data.put(FOLDER + '10.0.0.7', JSON.stringify({ ...good, version: 2 }))
    await assert.rejects(
      store.read(KEY),
      /holds IPAM allocation format version 2; this plugin reads up to version 1: upgrade the plugin/
    )
    // Control: the same value at version 1 reads.
    etcd.data.put(FOLDER + '10.0.0.7', JSON.stringify(good))
    assert.equal((await store.read(KEY)).allocations.length, 1)
  })

  test('a request etcd refuses (bad request, authentication) is not tried on other members', async (t) => {
    const [refusing, other] = [await fake(t), await fake(t)]
    const message = 'etcdserver: request is too large'
    refusing.mode = { status: 400, body: JSON.stringify({ error: message, code: 3, message }) }
    const store = storeOn([refusing.url, other.url])
    await assert.rejects(
      store.read(KEY),
      new RegExp(`: etcd at ${refusing.url} refused /v3/kv/range: HTTP 400: ${message}$`)
    )
    refusing.mode = { status: 401, body: '{"message":"etcdserver: user name is empty"}' }
    await assert.rejects(
      store.read(KEY),
      /HTTP 401: etcdserver: user name is empty \(etcd requires authentication: set ETCD_USER and ETCD_PASSWORD\)$/
    )
    assert.equal(other.requests.length, 0)
  })

  test('a member answering 503, 404 or a body that is not JSON: the next one is tried', async (t) => {
    const [bad, good] = [await fake(t), await fake(t)]
    for (const [mode, reason] of [
      [
        { status: 503, body: '{"message":"etcdserver: no leader"}' },
        'HTTP 503: etcdserver: no leader',
      ],
      [{ status: 404, body: 'Not Found' }, 'HTTP 404: Not Found (no v3 JSON gateway here'],
      [{ status: 200, body: '<html>' }, 'HTTP 200 with a body that is not JSON: <html>'],
    ] as const) {
      bad.mode = mode
      assert.deepEqual(await storeOn([bad.url, good.url]).read(KEY), {
        revision: 1,
        allocations: [],
      })
      await assert.rejects(storeOn([bad.url]).read(KEY), (error: Error) => {
        assert.ok(
          error.message.startsWith(`etcd unreachable at ${bad.url} (${reason}`),
          error.message
        )
        return true
      })
    }
    assert.equal(good.requests.length, 3)
  })

  test('keys are built from checked names only: nothing is sent for a bad one', async (t) => {
    const etcd = await fake(t)
    const store = storeOn([etcd.url])
    for (const key of [
      { addressSpace: '../x', subnet: '10.0.0.0/24' },
      { addressSpace: 'lan', subnet: '10.0.0.1/24' },
    ])
      await assert.rejects(store.read(key), /refusing IPAM table key/)
    await assert.rejects(
      store.commit(KEY, { address: '10.0.0.05', expect: 0, next: undefined }),
      /refusing IPAM change/
    )
    await assert.rejects(
      store.commit(KEY, { address: '10.0.0.5', expect: 0, next: allocation('10.0.0.6') }),
      /carries 10\.0\.0\.6/
    )
    assert.deepEqual(etcd.requests, [])
  })

  test('commit refuses an address outside the subnet (the local store does too): nothing is sent', async (t) => {
    const etcd = await fake(t)
    const store = storeOn([etcd.url])
    for (const address of ['10.0.1.5', '2001:db8::5', '10.0.0.256'])
      await assert.rejects(
        store.commit(KEY, { address, expect: 0, next: allocation(address) }),
        /refusing IPAM change of .*: not a canonical address inside 10\.0\.0\.0\/24/,
        address
      )
    assert.deepEqual(etcd.requests, [])
    assert.deepEqual(etcd.data.keys(), [])
  })

  test('subnets: one range over <prefix>ipam/, each (space, subnet) once; strangers ignored', async (t) => {
    const etcd = await fake(t)
    const store = storeOn([etcd.url])
    const v6 = { addressSpace: 'lan', subnet: '2001:db8::/64' }
    await store.commit(KEY, { address: '10.0.0.5', expect: 0, next: allocation('10.0.0.5') })
    await store.commit(KEY, { address: '10.0.0.6', expect: 0, next: allocation('10.0.0.6') })
    await store.commit(v6, { address: '2001:db8::5', expect: 0, next: allocation('2001:db8::5') })
    etcd.data.put('/ipvlan-lan/ipam/lan/junk/1', 'x')
    etcd.data.put('/ipvlan-lan/hosts/node-a', 'x')
    etcd.requests.length = 0
    assert.deepEqual(await store.subnets(), [KEY, v6])
    assert.deepEqual(etcd.requests, ['/v3/kv/range'])
  })

  test('heartbeats: <prefix>hosts/<host>, versioned JSON, compare-and-set; a guarded commit compares the beat too', async (t) => {
    const etcd = await fake(t)
    const store = storeOn([etcd.url])
    const beat = { host: 'node-b', instance: 'i1', at: 5, everyMs: 1000 }
    const first = await store.beat(beat, 0)
    assert.ok('revision' in first)
    const stored = etcd.data.get('/ipvlan-lan/hosts/node-b')
    assert.equal(stored?.mod, first.revision, "the answer is the key's mod_revision")
    assert.deepEqual(JSON.parse(stored?.value ?? ''), { version: 1, ...beat })
    assert.deepEqual(await store.beat({ ...beat, instance: 'i2' }, 0), {
      current: { ...beat, revision: first.revision },
    })
    etcd.data.put('/ipvlan-lan/hosts/bad', 'not json')
    assert.deepEqual(await store.beats(), [{ ...beat, revision: first.revision }])

    await store.commit(KEY, {
      address: '10.0.0.5',
      expect: 0,
      next: allocation('10.0.0.5', 'node-b'),
    })
    const entry = (await store.read(KEY)).allocations[0]
    const change = { address: '10.0.0.5', expect: entry?.revision ?? 0, next: undefined }
    const second = await store.beat({ ...beat, at: 6 }, first.revision)
    assert.ok('revision' in second)
    const stale = { host: 'node-b', revision: first.revision }
    assert.equal(await store.commit(KEY, { ...change, unlessBeatMoved: stale }), false)
    assert.equal((await store.read(KEY)).allocations.length, 1, 'the beat moved: nothing deleted')
    const fresh = { host: 'node-b', revision: second.revision }
    assert.equal(await store.commit(KEY, { ...change, unlessBeatMoved: fresh }), true)
    assert.equal((await store.read(KEY)).allocations.length, 0)
    await assert.rejects(store.beat({ ...beat, host: 'a/b' }, 0), /refusing heartbeat key/)
  })
})
