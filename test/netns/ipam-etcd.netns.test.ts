import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { Ipam } from '../../src/driver/ipam/ipam.ts'
import type {
  AllocationChange,
  IpamStore,
  SubnetAllocations,
  SubnetKey,
} from '../../src/driver/ports/ipam-store.ts'
import { silentLogger } from '../../src/log.ts'
import { IpamEtcdStore } from '../../src/store/ipam-etcd-store.ts'
import { etcdMissing, freePort, startEtcd } from '../helpers/etcd-process.ts'
import type { EtcdPlace, EtcdProcess } from '../helpers/etcd-process.ts'
import { createNetns, rootSkipReason } from '../helpers/netns.ts'
import { startPlugin } from '../helpers/plugin-process.ts'
import type { PluginProcess } from '../helpers/plugin-process.ts'
import { call } from '../helpers/socket-client.ts'

/**
 * The etcd IPAM backend against a real etcd (Debian's etcd-server, 3.4): one member on free
 * 127.0.0.1 ports with a throw-away data directory, several `Ipam` instances playing hosts. No
 * network namespace is needed except by the plugin-process test; a missing etcd FAILS the file
 * (it is not skipped): run scripts/deps.sh.
 */
const missing = etcdMissing()
const SUBNET = '10.76.0.0/24'
const POOL = `lan,${SUBNET}`
const KEY: SubnetKey = { addressSpace: 'lan', subnet: SUBNET }
const PREFIX = '/ipvlan-lan-test/'
const TIMEOUT_MS = 1000
const PER_HOST = 60

/** Counts the compare-and-set conflicts one host meets: the test shows the hosts did collide. */
class CountingStore implements IpamStore {
  conflicts = 0
  commits = 0
  private readonly inner: IpamStore
  constructor(inner: IpamStore) {
    this.inner = inner
  }
  read(key: SubnetKey): Promise<SubnetAllocations> {
    return this.inner.read(key)
  }
  async commit(key: SubnetKey, change: AllocationChange): Promise<boolean> {
    const done = await this.inner.commit(key, change)
    this.commits++
    if (!done) this.conflicts++
    return done
  }
  subnets(): Promise<SubnetKey[]> {
    return this.inner.subnets()
  }
  beats(): ReturnType<IpamStore['beats']> {
    return this.inner.beats()
  }
  beat(...args: Parameters<IpamStore['beat']>): ReturnType<IpamStore['beat']> {
    return this.inner.beat(...args)
  }
}

const ask = (ipam: Ipam, address = ''): Promise<string> =>
  ipam.requestAddress({ poolId: POOL, address, options: new Map() })

/** address -> holder hosts, with the entry's revision: what must survive an etcd restart. */
const snapshot = (table: SubnetAllocations): Map<string, string> =>
  new Map(
    table.allocations.map((a) => [a.address, `${a.holders.map((h) => h.host)}@${a.revision}`])
  )

test('a real etcd is installed (scripts/deps.sh installs etcd-server)', () => {
  assert.equal(missing, undefined, missing)
})

describe('the etcd IPAM backend against a real etcd', () => {
  const base = mkdtempSync(join(tmpdir(), 'ipvlan-lan-etcd-'))
  let place: EtcdPlace
  let etcd: EtcdProcess | undefined
  const store = (endpoints = [etcd?.url ?? '']): IpamEtcdStore =>
    new IpamEtcdStore({ endpoints, prefix: PREFIX, timeoutMs: TIMEOUT_MS })
  const host = (name: string, on: IpamStore = store()): Ipam =>
    new Ipam({ store: on, host: name, log: silentLogger })

  before(async () => {
    if (missing) throw new Error(missing)
    place = { dataDir: join(base, 'data'), clientPort: await freePort(), peerPort: 0 }
    place.peerPort = await freePort()
    etcd = await startEtcd(place)
  })
  after(async () => {
    etcd?.resume()
    await etcd?.kill()
    rmSync(base, { recursive: true, force: true })
  })

  test(`two hosts, ${2 * PER_HOST} concurrent requests split between them: no address twice, each recorded with its host`, async (t) => {
    const stores = [new CountingStore(store()), new CountingStore(store())] as const
    const hosts = [host('node-a', stores[0]), host('node-b', stores[1])] as const
    const who = Array.from({ length: 2 * PER_HOST }, (_, i) => i % 2)
    const started = performance.now()
    const got = await Promise.all(who.map((i) => ask(i === 0 ? hosts[0] : hosts[1])))
    const ms = Math.round(performance.now() - started)
    assert.equal(got.length, 2 * PER_HOST)
    assert.equal(new Set(got).size, got.length, 'no address handed out twice')
    const table = await store().read(KEY)
    assert.equal(table.allocations.length, got.length, 'every address recorded in etcd')
    const holders = new Map(table.allocations.map((a) => [`${a.address}/24`, a.holders]))
    got.forEach((address, i) =>
      assert.deepEqual(
        holders.get(address)?.map((h) => h.host),
        [who[i] === 0 ? 'node-a' : 'node-b'],
        `${address} is held by the host that got it`
      )
    )
    const conflicts = stores[0].conflicts + stores[1].conflicts
    // Both hosts start from the same empty table: without a collision the test proved nothing.
    assert.ok(conflicts > 0, 'the two hosts never collided: the compare-and-set was not exercised')
    t.diagnostic(
      `${got.length} requests in ${ms} ms; ${stores[0].commits + stores[1].commits} commits, ` +
        `${conflicts} compare-and-set conflicts`
    )
  })

  test('keys: <prefix>ipam/lan/10.76.0.0_24/<address>, versioned JSON, no lease', async () => {
    const response = await fetch(`${etcd?.url}/v3/kv/range`, {
      method: 'POST',
      body: JSON.stringify({
        key: Buffer.from(`${PREFIX}ipam/lan/10.76.0.0_24/10.76.0.1`).toString('base64'),
      }),
    })
    const body = (await response.json()) as { kvs?: { value: string; lease?: string }[] }
    const [kv] = body.kvs ?? []
    assert.ok(kv, '10.76.0.1 is stored under the documented key')
    assert.equal(kv.lease, undefined, 'no lease: the allocation outlives its host')
    const value = JSON.parse(Buffer.from(kv.value, 'base64').toString('utf8'))
    assert.equal(value.version, 1)
    assert.equal(value.address, '10.76.0.1')
  })

  test('a static address held by host A is refused to host B, naming A', async () => {
    const [a, b] = [host('node-a'), host('node-b')]
    assert.equal(await ask(a, '10.76.0.200'), '10.76.0.200/24')
    await assert.rejects(
      ask(b, '10.76.0.200'),
      /Address: 10\.76\.0\.200 is already taken in 10\.76\.0\.0\/24: held by host node-a as a static address/
    )
  })

  test("a release by host B of host A's address leaves it held by A; A's own release frees it", async () => {
    const [a, b] = [host('node-a'), host('node-b')]
    const held = async () =>
      (await store().read(KEY)).allocations
        .find((x) => x.address === '10.76.0.200')
        ?.holders.map((h) => h.host)
    assert.deepEqual(await held(), ['node-a'])
    await b.releaseAddress({ poolId: POOL, address: '10.76.0.200' })
    assert.deepEqual(await held(), ['node-a'])
    await a.releaseAddress({ poolId: POOL, address: '10.76.0.200' })
    assert.equal(await held(), undefined)
  })

  test('etcd frozen: a request fails within the timeout naming the endpoint; killed: at once; restarted: nothing lost, work resumes', async () => {
    assert.ok(etcd)
    const [a, b] = [host('node-a'), host('node-b')]
    const before = snapshot(await store().read(KEY))
    assert.ok(before.size >= 2 * PER_HOST, 'the table to keep is not empty')
    const url = etcd.url

    await etcd.pause()
    let started = performance.now()
    await assert.rejects(ask(a), (error: Error) => {
      assert.equal(error.message, `etcd unreachable at ${url} (no answer within ${TIMEOUT_MS} ms)`)
      return true
    })
    let ms = performance.now() - started
    assert.ok(ms >= TIMEOUT_MS * 0.9 && ms < TIMEOUT_MS + 3000, `failed after ${Math.round(ms)} ms`)

    await etcd.kill()
    started = performance.now()
    await assert.rejects(ask(b), (error: Error) => {
      assert.match(error.message, new RegExp(`^etcd unreachable at ${url} \\(.*ECONNREFUSED`))
      return true
    })
    ms = performance.now() - started
    assert.ok(ms < TIMEOUT_MS, `a refused connection took ${Math.round(ms)} ms`)

    etcd = await startEtcd(place)
    assert.equal(etcd.url, url)
    assert.deepEqual(snapshot(await store().read(KEY)), before, 'every allocation kept as it was')
    const more = await Promise.all([ask(a), ask(b), ask(a), ask(b)])
    assert.equal(new Set(more).size, 4)
    for (const address of more) assert.ok(!before.has(address.replace('/24', '')), address)
    assert.equal((await store().read(KEY)).allocations.length, before.size + 4)
  })

  // The plugin manages a throw-away namespace (its start-up sweep must not touch the host's).
  const skip = rootSkipReason('host netns')
  test(
    'the plugin process with ETCD_ENDPOINTS: starts and activates while etcd is frozen, IPAM answers an error naming it, then works',
    { skip },
    async () => {
      assert.ok(etcd)
      const timeout = 4000
      const ns = createNetns()
      let plugin: PluginProcess | undefined
      await etcd.pause()
      try {
        plugin = await startPlugin({
          netns: ns.name,
          args: [
            '--etcd-endpoints',
            etcd.url,
            '--etcd-prefix',
            PREFIX,
            '--etcd-timeout-ms',
            String(timeout),
            '--host-id',
            'node-p',
          ],
        })
        const started = performance.now()
        const activate = await call(plugin.socket, 'Plugin.Activate')
        assert.deepEqual(activate.body, { Implements: ['NetworkDriver', 'IpamDriver'] })
        assert.equal((await call(plugin.socket, 'NetworkDriver.GetCapabilities')).status, 200)
        const ms = performance.now() - started
        assert.ok(ms < timeout / 2, `activation took ${Math.round(ms)} ms while etcd was frozen`)
        const failed = await call(plugin.socket, 'IpamDriver.RequestAddress', {
          PoolID: POOL,
          Address: '',
          Options: {},
        })
        assert.deepEqual(failed.body, {
          Error: `etcd unreachable at ${etcd.url} (no answer within ${timeout} ms)`,
        })
        etcd.resume()
        const got = await call(plugin.socket, 'IpamDriver.RequestAddress', {
          PoolID: POOL,
          Address: '10.76.0.250',
          Options: {},
        })
        assert.deepEqual(got.body, { Address: '10.76.0.250/24', Data: {} })
        const entry = (await store().read(KEY)).allocations.find((x) => x.address === '10.76.0.250')
        assert.deepEqual(
          entry?.holders.map((h) => h.host),
          ['node-p'],
          'recorded in etcd, held by the plugin host'
        )
      } finally {
        etcd.resume()
        await plugin?.stop('SIGKILL')
        ns.remove()
      }
    }
  )
})
