import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import type { TestContext } from 'node:test'
import { Ipam } from '../../src/driver/ipam/ipam.ts'
import type { Allocation } from '../../src/driver/ipam/model.ts'
import type { SubnetKey } from '../../src/driver/ports/ipam-store.ts'
import { silentLogger } from '../../src/log.ts'
import { IpamLocalStore } from '../../src/store/ipam-local-store.ts'
import { IPAM_STATE_VERSION } from '../../src/store/ipam-records.ts'

const KEY: SubnetKey = { addressSpace: 'lan', subnet: '10.0.0.0/24' }
const POOL = 'lan,10.0.0.0/24'

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ipvlan-lan-ipam-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return join(dir, 'ipam')
}

const allocation = (address: string, host = 'node-a'): Allocation => ({
  address,
  kind: 'dynamic',
  holders: [{ host, poolId: POOL }],
})

const tableFile = (dir: string): string => join(dir, 'lan', '10.0.0.0_24.json')

const ipamOn = (store: IpamLocalStore, host = 'node-a') =>
  new Ipam({ store, host, log: silentLogger })

const ask = (ipam: Ipam, address = '') =>
  ipam.requestAddress({ poolId: POOL, address, options: new Map() })

describe('IpamLocalStore', () => {
  test('an unknown subnet reads empty at revision 0 and creates nothing', async (t) => {
    const dir = await tempDir(t)
    const store = new IpamLocalStore(dir, silentLogger)
    assert.deepEqual(await store.read(KEY), { revision: 0, allocations: [] })
    await assert.rejects(stat(dir), { code: 'ENOENT' })
  })

  test('compare-and-set: create, update, delete; a stale revision writes nothing', async (t) => {
    const dir = await tempDir(t)
    const store = new IpamLocalStore(dir, silentLogger)
    const a = allocation('10.0.0.5')
    assert.equal(await store.commit(KEY, { address: a.address, expect: 0, next: a }), true)
    assert.deepEqual(await store.read(KEY), { revision: 1, allocations: [{ ...a, revision: 1 }] })
    const before = await readFile(tableFile(dir), 'utf8')
    const shared: Allocation = { ...a, kind: 'gateway', holders: [...a.holders, ...a.holders] }
    assert.equal(await store.commit(KEY, { address: a.address, expect: 0, next: a }), false)
    assert.equal(await store.commit(KEY, { address: a.address, expect: 7, next: shared }), false)
    assert.equal(await store.commit(KEY, { address: a.address, expect: 2, next: undefined }), false)
    assert.equal(await readFile(tableFile(dir), 'utf8'), before, 'nothing written on a conflict')
    assert.equal(await store.commit(KEY, { address: a.address, expect: 1, next: shared }), true)
    assert.deepEqual((await store.read(KEY)).allocations, [{ ...shared, revision: 2 }])
    assert.equal(await store.commit(KEY, { address: a.address, expect: 2, next: undefined }), true)
    assert.deepEqual(await store.read(KEY), { revision: 3, allocations: [] })
  })

  test('reads are copies: changing one changes nothing stored', async (t) => {
    const store = new IpamLocalStore(await tempDir(t), silentLogger)
    const a = allocation('10.0.0.5')
    await store.commit(KEY, { address: a.address, expect: 0, next: a })
    const read = await store.read(KEY)
    read.allocations[0]?.holders.push({ host: 'x', poolId: POOL })
    a.holders.push({ host: 'y', poolId: POOL })
    assert.equal((await store.read(KEY)).allocations[0]?.holders.length, 1)
  })

  test('the file: one per subnet, versioned, in address order, 0600, no temporary left', async (t) => {
    const dir = await tempDir(t)
    const store = new IpamLocalStore(dir, silentLogger)
    for (const address of ['10.0.0.10', '10.0.0.9', '10.0.0.100'])
      await store.commit(KEY, { address, expect: 0, next: allocation(address) })
    const v6 = { addressSpace: 'lan', subnet: '2001:db8::/64' }
    await store.commit(v6, { address: '2001:db8::1', expect: 0, next: allocation('2001:db8::1') })
    assert.deepEqual((await readdir(join(dir, 'lan'))).sort(), [
      '10.0.0.0_24.json',
      '2001:db8::_64.json',
    ])
    const content = JSON.parse(await readFile(tableFile(dir), 'utf8'))
    assert.equal(content.version, IPAM_STATE_VERSION)
    assert.equal(content.addressSpace, 'lan')
    assert.equal(content.subnet, '10.0.0.0/24')
    assert.equal(content.revision, 3)
    assert.deepEqual(
      content.allocations.map((entry: Allocation) => entry.address),
      ['10.0.0.9', '10.0.0.10', '10.0.0.100']
    )
    assert.equal((await stat(tableFile(dir))).mode & 0o777, 0o600)
    assert.equal((await stat(join(dir, 'lan'))).mode & 0o777, 0o700)
  })

  test('survives a restart: a new instance sees the allocations and carries the revision on', async (t) => {
    const dir = await tempDir(t)
    const first = ipamOn(new IpamLocalStore(dir, silentLogger))
    assert.equal(await ask(first), '10.0.0.1/24')
    assert.equal(await ask(first, '10.0.0.2'), '10.0.0.2/24')
    const store = new IpamLocalStore(dir, silentLogger)
    const read = await store.read(KEY)
    assert.equal(read.revision, 2)
    assert.deepEqual(
      read.allocations.map((entry) => [entry.address, entry.kind, entry.revision]),
      [
        ['10.0.0.1', 'dynamic', 1],
        ['10.0.0.2', 'static', 2],
      ]
    )
    const second = ipamOn(store, 'node-a')
    assert.equal(await ask(second), '10.0.0.3/24')
    await assert.rejects(ask(second, '10.0.0.2'), /already taken .* held by host node-a/)
    await second.releaseAddress({ poolId: POOL, address: '10.0.0.1' })
    assert.equal((await new IpamLocalStore(dir, silentLogger).read(KEY)).revision, 4)
  })

  test('commits racing on one address: exactly one wins', async (t) => {
    const store = new IpamLocalStore(await tempDir(t), silentLogger)
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        store.commit(KEY, { address: '10.0.0.7', expect: 0, next: allocation('10.0.0.7', `h${i}`) })
      )
    )
    assert.equal(results.length, 20)
    assert.equal(results.filter(Boolean).length, 1)
    assert.equal((await store.read(KEY)).allocations.length, 1)
  })

  test('200 requests at once through the core: distinct addresses, all on disk', async (t) => {
    const dir = await tempDir(t)
    const ipam = ipamOn(new IpamLocalStore(dir, silentLogger))
    const poolId = ipam.requestPool({
      addressSpace: 'lan',
      pool: '10.0.0.0/24',
      subPool: '10.0.0.0/24',
      v6: false,
    }).poolId
    const got = await Promise.all(
      Array.from({ length: 200 }, () =>
        ipam.requestAddress({ poolId, address: '', options: new Map() })
      )
    )
    assert.equal(new Set(got).size, 200)
    const fresh = await new IpamLocalStore(dir, silentLogger).read(KEY)
    assert.equal(fresh.allocations.length, 200)
  })

  test('two hosts sharing one store (as on a cluster store): no duplicate', async (t) => {
    const store = new IpamLocalStore(await tempDir(t), silentLogger)
    const hosts = [ipamOn(store, 'node-a'), ipamOn(store, 'node-b')]
    const got = await Promise.all(Array.from({ length: 100 }, (_, i) => ask(hosts[i % 2] as Ipam)))
    assert.equal(new Set(got).size, 100)
  })

  test('temporary files of an interrupted write are removed when the table is loaded', async (t) => {
    const dir = await tempDir(t)
    await new IpamLocalStore(dir, silentLogger).commit(KEY, {
      address: '10.0.0.5',
      expect: 0,
      next: allocation('10.0.0.5'),
    })
    const leftover = join(dir, 'lan', '.10.0.0.0_24.json.999.3.tmp')
    const other = join(dir, 'lan', '.10.0.1.0_24.json.999.3.tmp')
    await writeFile(leftover, '{"torn')
    await writeFile(other, '{"torn')
    assert.equal((await new IpamLocalStore(dir, silentLogger).read(KEY)).allocations.length, 1)
    await assert.rejects(stat(leftover), { code: 'ENOENT' })
    await stat(other)
  })

  describe('a table file it cannot use stops the subnet and is left untouched', () => {
    const bad: [string, (text: string) => string, RegExp][] = [
      [
        'newer version',
        (text) => text.replace('"version":1', '"version":2'),
        /has version 2; this plugin reads IPAM state up to version 1: upgrade/,
      ],
      ['invalid JSON', () => '{"version":1,', /is invalid \(invalid JSON/],
      [
        'schema mismatch',
        (text) => text.replace('"dynamic"', '"borrowed"'),
        /is invalid \(schema mismatch/,
      ],
      [
        'another subnet',
        (text) => text.replace('"10.0.0.0/24"', '"10.0.1.0/24"'),
        /is invalid \(it describes lan 10\.0\.1\.0\/24\)/,
      ],
      [
        'address not canonical',
        (text) => text.replace('"10.0.0.5"', '"10.0.0.05"'),
        /allocation "10\.0\.0\.05" is not a canonical/,
      ],
      [
        'address outside',
        (text) => text.replace('"10.0.0.5"', '"10.0.9.5"'),
        /allocation "10\.0\.9\.5"/,
      ],
    ]
    test('the case list is not empty', () => assert.ok(bad.length >= 5))
    for (const [name, spoil, message] of bad)
      test(name, async (t) => {
        const dir = await tempDir(t)
        await new IpamLocalStore(dir, silentLogger).commit(KEY, {
          address: '10.0.0.5',
          expect: 0,
          next: allocation('10.0.0.5'),
        })
        const spoiled = spoil(await readFile(tableFile(dir), 'utf8'))
        await writeFile(tableFile(dir), spoiled)
        const store = new IpamLocalStore(dir, silentLogger)
        const expected = new RegExp(
          `IPAM state file ${tableFile(dir).replace(/\./g, '\\.')} ` + '.*' + message.source
        )
        await assert.rejects(store.read(KEY), expected)
        await assert.rejects(ask(ipamOn(store)), expected, 'again: failures are not cached')
        assert.equal(await readFile(tableFile(dir), 'utf8'), spoiled)
        assert.deepEqual(await readdir(join(dir, 'lan')), ['10.0.0.0_24.json'])
      })
  })

  test('after a failed write the table is read from its file again', async (t) => {
    const dir = await tempDir(t)
    const store = new IpamLocalStore(dir, silentLogger)
    await store.commit(KEY, { address: '10.0.0.5', expect: 0, next: allocation('10.0.0.5') })
    // The folder turns into a file: the temporary file cannot be created.
    await rm(join(dir, 'lan'), { recursive: true })
    await writeFile(join(dir, 'lan'), '')
    await assert.rejects(
      store.commit(KEY, { address: '10.0.0.6', expect: 0, next: allocation('10.0.0.6') }),
      { code: 'ENOTDIR' }
    )
    // Whatever the file now says is what counts (here: what another writer left).
    const elsewhere = await tempDir(t)
    const other = new IpamLocalStore(elsewhere, silentLogger)
    for (const address of ['10.0.0.5', '10.0.0.8'])
      await other.commit(KEY, { address, expect: 0, next: allocation(address) })
    await rm(join(dir, 'lan'))
    await mkdir(join(dir, 'lan'))
    await writeFile(tableFile(dir), await readFile(tableFile(elsewhere)))
    const read = await store.read(KEY)
    assert.deepEqual(
      read.allocations.map((entry) => entry.address),
      ['10.0.0.5', '10.0.0.8']
    )
    assert.equal(read.revision, 2)
  })

  test('keys that are not a safe space and a canonical subnet are refused', async (t) => {
    const store = new IpamLocalStore(await tempDir(t), silentLogger)
    const keys: SubnetKey[] = [
      { addressSpace: '../x', subnet: '10.0.0.0/24' },
      { addressSpace: '', subnet: '10.0.0.0/24' },
      { addressSpace: 'lan', subnet: '../../10.0.0.0/24' },
      { addressSpace: 'lan', subnet: '10.0.0.5/24' },
      { addressSpace: 'lan', subnet: '2001:DB8::/64' },
    ]
    for (const key of keys) {
      await assert.rejects(store.read(key), /refusing IPAM table key/, JSON.stringify(key))
      await assert.rejects(
        store.commit(key, { address: '10.0.0.5', expect: 0, next: allocation('10.0.0.5') }),
        /refusing IPAM table key/
      )
    }
    await assert.rejects(
      store.commit(KEY, { address: '10.0.0.5', expect: 0, next: allocation('10.0.0.6') }),
      /carries 10\.0\.0\.6/
    )
  })

  test('commit refuses an address outside the subnet, or not canonical, and writes nothing', async (t) => {
    const dir = await tempDir(t)
    const store = new IpamLocalStore(dir, silentLogger)
    for (const address of ['10.0.1.5', '10.0.0.05', '2001:db8::5', 'x'])
      await assert.rejects(
        store.commit(KEY, { address, expect: 0, next: allocation(address) }),
        /refusing IPAM change of .*: not a canonical address inside 10\.0\.0\.0\/24/,
        address
      )
    await assert.rejects(stat(dir), { code: 'ENOENT' })
  })

  test('subnets: every table file and every table read; leftovers and strangers ignored', async (t) => {
    const dir = await tempDir(t)
    const store = new IpamLocalStore(dir, silentLogger)
    assert.deepEqual(await store.subnets(), [])
    const v6 = { addressSpace: 'lan', subnet: '2001:db8::/64' }
    await store.commit(KEY, { address: '10.0.0.5', expect: 0, next: allocation('10.0.0.5') })
    await store.commit(v6, { address: '2001:db8::5', expect: 0, next: allocation('2001:db8::5') })
    await writeFile(join(dir, 'lan', 'notes.txt'), 'x')
    await writeFile(join(dir, 'lan', '10.0.0.7_24.json'), '{}')
    const fresh = new IpamLocalStore(dir, silentLogger)
    const names = (keys: { addressSpace: string; subnet: string }[]) =>
      keys.map((k) => `${k.addressSpace} ${k.subnet}`).sort()
    assert.deepEqual(names(await fresh.subnets()), ['lan 10.0.0.0/24', 'lan 2001:db8::/64'])
  })

  test('heartbeats: compare-and-set in memory; a guarded commit fails once the host beat again', async (t) => {
    const dir = await tempDir(t)
    const store = new IpamLocalStore(dir, silentLogger)
    const beat = { host: 'node-b', instance: 'i1', at: 5, everyMs: 1000 }
    const first = await store.beat(beat, 0)
    assert.ok('revision' in first)
    assert.deepEqual(await store.beat({ ...beat, instance: 'i2' }, 0), {
      current: { ...beat, revision: first.revision },
    })
    await store.commit(KEY, {
      address: '10.0.0.5',
      expect: 0,
      next: allocation('10.0.0.5', 'node-b'),
    })
    const guard = { host: 'node-b', revision: first.revision }
    assert.ok('revision' in (await store.beat({ ...beat, at: 6 }, first.revision)))
    assert.equal(
      await store.commit(KEY, {
        address: '10.0.0.5',
        expect: 1,
        next: undefined,
        unlessBeatMoved: guard,
      }),
      false
    )
    assert.equal((await store.read(KEY)).allocations.length, 1)
    const [now] = await store.beats()
    assert.equal(
      await store.commit(KEY, {
        address: '10.0.0.5',
        expect: 1,
        next: undefined,
        unlessBeatMoved: { host: 'node-b', revision: now?.revision ?? -1 },
      }),
      true
    )
  })
})
