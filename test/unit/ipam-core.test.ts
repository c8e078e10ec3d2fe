import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Ipam } from '../../src/driver/ipam/ipam.ts'
import type { SubnetKey } from '../../src/driver/ports/ipam-store.ts'
import { DriverError } from '../../src/errors.ts'
import { createLogger, silentLogger } from '../../src/log.ts'
import { MemoryIpamStore } from '../fakes/ipam-memory-store.ts'

const GATEWAY = { RequestAddressType: 'com.docker.network.gateway' }
const V4: SubnetKey = { addressSpace: 'lan', subnet: '10.0.0.0/24' }

function host(name: string, store: MemoryIpamStore, maxAttempts?: number) {
  const ipam = new Ipam({
    store,
    host: name,
    log: silentLogger,
    ...(maxAttempts === undefined ? {} : { maxAttempts }),
  })
  const pool = (pool: string, subPool = '', v6 = pool.includes(':')): string =>
    ipam.requestPool({ addressSpace: 'lan', pool, subPool, v6 }).poolId
  const ask = (poolId: string, address = '', options: Record<string, string> = {}) =>
    ipam.requestAddress({ poolId, address, options: new Map(Object.entries(options)) })
  const release = (poolId: string, address: string) => ipam.releaseAddress({ poolId, address })
  return { ipam, pool, ask, release }
}

function setup(maxAttempts?: number) {
  const store = new MemoryIpamStore()
  return { store, ...host('node-a', store, maxAttempts) }
}

/** Rejects with a DriverError of `kind` whose message matches. */
async function rejects(
  promise: Promise<unknown> | (() => unknown),
  kind: string,
  message: RegExp
): Promise<void> {
  await assert.rejects(
    async () => (typeof promise === 'function' ? promise() : promise),
    (error: unknown) => {
      assert.ok(error instanceof DriverError, String(error))
      assert.equal(error.kind, kind, error.message)
      assert.match(error.message, message)
      return true
    }
  )
}

describe('IPAM core: pools', () => {
  test('capabilities and the one address space', () => {
    const { ipam } = setup()
    assert.deepEqual(ipam.capabilities(), {
      requiresMacAddress: false,
      requiresRequestReplay: false,
    })
    assert.deepEqual(ipam.addressSpaces(), { local: 'lan', global: 'lan' })
  })

  test('a PoolID spells out space, subnet and ip-range: the same on every host', () => {
    const a = setup()
    const b = host('node-b', new MemoryIpamStore())
    const request = {
      addressSpace: 'lan',
      pool: '10.0.0.0/24',
      subPool: '10.0.0.128/25',
      v6: false,
    }
    const answer = a.ipam.requestPool(request)
    assert.deepEqual(answer, { poolId: 'lan,10.0.0.0/24,10.0.0.128/25', pool: '10.0.0.0/24' })
    assert.deepEqual(b.ipam.requestPool(request), answer)
    assert.deepEqual(a.ipam.requestPool(request), answer, 'identical calls, identical answers')
    assert.equal(a.pool('10.0.0.0/24'), 'lan,10.0.0.0/24')
    assert.equal(a.pool('10.0.0.5/24'), 'lan,10.0.0.0/24', 'host bits cleared')
    assert.equal(a.pool('2001:DB8:0::/64'), 'lan,2001:db8::/64')
    assert.equal(
      a.ipam.requestPool({ addressSpace: '', pool: '10.1.0.0/16', subPool: '', v6: false }).poolId,
      'lan,10.1.0.0/16',
      'no address space: the default one'
    )
    assert.equal(
      a.ipam.requestPool({ addressSpace: 'other', pool: '10.1.0.0/16', subPool: '', v6: false })
        .poolId,
      'other,10.1.0.0/16'
    )
  })

  test('ReleasePool is idempotent and leaves the addresses to ReleaseAddress', async () => {
    const { ipam, pool, ask, store } = setup()
    const id = pool('10.0.0.0/24')
    assert.equal(await ask(id), '10.0.0.1/24')
    ipam.releasePool(id)
    ipam.releasePool(id)
    assert.equal(store.entries(V4).length, 1)
  })
})

describe('IPAM core: every invalid field is named', () => {
  const { ipam, pool } = setup()
  const id = pool('10.0.0.0/24')
  const requestPool = (fields: Partial<Parameters<Ipam['requestPool']>[0]>) => () =>
    ipam.requestPool({
      addressSpace: 'lan',
      pool: '10.0.0.0/24',
      subPool: '',
      v6: false,
      ...fields,
    })
  const requestAddress = (poolId: string, address: string) => () =>
    ipam.requestAddress({ poolId, address, options: new Map() })
  const cases: [string, () => unknown, RegExp][] = [
    ['AddressSpace with a slash', requestPool({ addressSpace: '../x' }), /^AddressSpace: expected/],
    [
      'no Pool',
      requestPool({ pool: '' }),
      /^Pool: required: this IPAM driver has no default pools/,
    ],
    ['Pool not a CIDR', requestPool({ pool: '10.0.0.0' }), /^Pool: expected a subnet in CIDR/],
    ['Pool garbage', requestPool({ pool: 'lan' }), /^Pool: expected a subnet in CIDR/],
    ['Pool prefix too long', requestPool({ pool: '10.0.0.0/33' }), /^Pool: expected/],
    [
      'Pool unspecified',
      requestPool({ pool: '0.0.0.0/0' }),
      /^Pool: 0\.0\.0\.0\/0 asks for a default/,
    ],
    ['V6 true on IPv4', requestPool({ v6: true }), /^V6: true, but Pool 10\.0\.0\.0\/24 is IPv4/],
    [
      'V6 false on IPv6',
      requestPool({ pool: '2001:db8::/64' }),
      /^V6: false, but Pool 2001:db8::\/64 is IPv6/,
    ],
    ['SubPool not a CIDR', requestPool({ subPool: '10.0.0.1' }), /^SubPool: expected an ip-range/],
    [
      'SubPool outside Pool',
      requestPool({ subPool: '10.0.1.0/25' }),
      /^SubPool: 10\.0\.1\.0\/25 is not inside Pool 10\.0\.0\.0\/24/,
    ],
    ['SubPool wider than Pool', requestPool({ subPool: '10.0.0.0/23' }), /^SubPool: .* not inside/],
    [
      'SubPool of another family',
      requestPool({ subPool: '2001:db8::/64' }),
      /^SubPool: .* not inside/,
    ],
    ['PoolID empty', requestAddress('', ''), /^PoolID: expected an ID this driver returned/],
    ['PoolID foreign', requestAddress('LocalDefault/10.0.0.0/24', ''), /^PoolID: expected/],
    ['PoolID not canonical', requestAddress('lan,10.0.0.5/24', ''), /^PoolID: expected/],
    [
      'Address with a prefix',
      requestAddress(id, '10.0.0.5/24'),
      /^Address: expected an IP address/,
    ],
    ['Address garbage', requestAddress(id, 'ten'), /^Address: expected an IP address/],
    [
      'Address outside Pool',
      requestAddress(id, '10.0.1.5'),
      /^Address: 10\.0\.1\.5 is not inside Pool/,
    ],
    [
      'Address of another family',
      requestAddress(id, '2001:db8::5'),
      /^Address: .* not inside Pool/,
    ],
    [
      'Address = network',
      requestAddress(id, '10.0.0.0'),
      /^Address: 10\.0\.0\.0 is the network address/,
    ],
    [
      'Address = broadcast',
      requestAddress(id, '10.0.0.255'),
      /^Address: 10\.0\.0\.255 is the broadcast address/,
    ],
    ['ReleasePool PoolID', () => ipam.releasePool('x'), /^PoolID: expected/],
    [
      'ReleaseAddress PoolID',
      () => ipam.releaseAddress({ poolId: 'x', address: '10.0.0.1' }),
      /^PoolID:/,
    ],
    [
      'ReleaseAddress empty Address',
      () => ipam.releaseAddress({ poolId: id, address: '' }),
      /^Address: expected an IP address/,
    ],
    [
      'ReleaseAddress Address outside Pool',
      () => ipam.releaseAddress({ poolId: id, address: '192.168.0.1' }),
      /^Address: 192\.168\.0\.1 is not inside Pool/,
    ],
  ]
  test('the case list is not empty', () => assert.ok(cases.length >= 20))
  for (const [name, call, message] of cases)
    test(name, () => rejects(call, 'invalid-parameter', message))

  test('hostile input is escaped in messages', async () => {
    await rejects(requestPool({ pool: 'a\nb' }), 'invalid-parameter', /got "a\\nb"/)
  })

  test('the constructor refuses an empty host and a bad bound', () => {
    const store = new MemoryIpamStore()
    assert.throws(() => new Ipam({ store, host: '', log: silentLogger }), /host/)
    assert.throws(
      () => new Ipam({ store, host: 'a', log: silentLogger, maxAttempts: 0 }),
      /maxAttempts/
    )
  })
})

describe('IPAM core: addresses', () => {
  test('gateway first (the first usable address), then the lowest free ones', async () => {
    const { pool, ask } = setup()
    const id = pool('10.0.0.0/24')
    assert.equal(await ask(id, '', GATEWAY), '10.0.0.1/24')
    assert.equal(await ask(id), '10.0.0.2/24')
    assert.equal(await ask(id), '10.0.0.3/24')
  })

  test('a named gateway is reserved where asked; without a gateway .1 is free', async () => {
    const { pool, ask } = setup()
    const id = pool('10.0.0.0/24')
    assert.equal(await ask(id, '10.0.0.254', GATEWAY), '10.0.0.254/24')
    assert.equal(await ask(id), '10.0.0.1/24')
  })

  test('ip-range: dynamic addresses from the range; gateway and aux addresses anywhere in the pool', async () => {
    const { pool, ask } = setup()
    const id = pool('10.0.0.0/24', '10.0.0.128/25')
    assert.equal(await ask(id, '', GATEWAY), '10.0.0.1/24', 'gateway outside the range')
    assert.equal(await ask(id, '10.0.0.10'), '10.0.0.10/24', 'aux address outside the range')
    assert.equal(await ask(id, '10.0.0.129'), '10.0.0.129/24', 'aux address inside the range')
    const dynamic = [await ask(id), await ask(id), await ask(id)]
    assert.deepEqual(dynamic, ['10.0.0.128/24', '10.0.0.130/24', '10.0.0.131/24'])
  })

  test('aux addresses (static requests without options) are skipped; exhaustion names the pool', async () => {
    const { pool, ask, store } = setup()
    const id = pool('10.0.0.0/29')
    const key = { addressSpace: 'lan', subnet: '10.0.0.0/29' }
    assert.equal(await ask(id, '', GATEWAY), '10.0.0.1/29')
    assert.equal(await ask(id, '10.0.0.2'), '10.0.0.2/29')
    assert.equal(await ask(id, '10.0.0.4'), '10.0.0.4/29')
    assert.equal(store.entry(key, '10.0.0.4')?.kind, 'static')
    const got = [await ask(id), await ask(id), await ask(id)]
    assert.deepEqual(got, ['10.0.0.3/29', '10.0.0.5/29', '10.0.0.6/29'])
    await rejects(
      ask(id),
      'conflict',
      /^no free address left in pool 10\.0\.0\.0\/29 \(PoolID lan,10\.0\.0\.0\/29\)/
    )
  })

  test('exhausting an ip-range names the range and the pool; the broadcast is never handed out', async () => {
    const { pool, ask } = setup()
    const id = pool('10.0.0.0/24', '10.0.0.252/30')
    const got = [await ask(id), await ask(id), await ask(id)]
    assert.deepEqual(got, ['10.0.0.252/24', '10.0.0.253/24', '10.0.0.254/24'])
    await rejects(
      ask(id),
      'conflict',
      /no free address left in ip-range 10\.0\.0\.252\/30 of pool 10\.0\.0\.0\/24 \(PoolID lan,10\.0\.0\.0\/24,10\.0\.0\.252\/30\)/
    )
  })

  test('pools sharing a subnet share its addresses (one table per subnet)', async () => {
    const { pool, ask } = setup()
    const low = pool('10.0.0.0/24', '10.0.0.0/25')
    const whole = pool('10.0.0.0/24')
    assert.equal(await ask(low), '10.0.0.1/24')
    assert.equal(await ask(whole), '10.0.0.2/24')
  })

  test('/31 and /32 use every address', async () => {
    const { pool, ask } = setup()
    const p2p = pool('10.9.0.0/31')
    assert.deepEqual([await ask(p2p), await ask(p2p)], ['10.9.0.0/31', '10.9.0.1/31'])
    await rejects(ask(p2p), 'conflict', /no free address left in pool 10\.9\.0\.0\/31/)
    const single = pool('10.9.1.7/32')
    assert.equal(await ask(single, '', GATEWAY), '10.9.1.7/32')
  })

  test('a taken static address names the holder: host, endpoint, kind, pool', async () => {
    const store = new MemoryIpamStore()
    const a = host('node-a', store)
    const b = host('node-b', store)
    const id = a.pool('10.0.0.0/24')
    await a.ask(id, '10.0.0.5', { 'com.docker.network.endpoint.name': 'web-1' })
    await rejects(
      b.ask(id, '10.0.0.5'),
      'conflict',
      /^Address: 10\.0\.0\.5 is already taken in 10\.0\.0\.0\/24: held by host node-a for endpoint web-1 as a static address \(PoolID lan,10\.0\.0\.0\/24\)$/
    )
    assert.equal(await a.ask(id), '10.0.0.1/24')
    await rejects(b.ask(id, '10.0.0.1'), 'conflict', /held by host node-a as a dynamic address/)
    await rejects(a.ask(id, '10.0.0.5'), 'conflict', /held by host node-a/)
  })

  test('a gateway is shared by every host; a static request on it, or a gateway on a static, fails', async () => {
    const store = new MemoryIpamStore()
    const a = host('node-a', store)
    const b = host('node-b', store)
    const id = a.pool('10.0.0.0/24')
    assert.equal(await a.ask(id, '', GATEWAY), '10.0.0.1/24')
    assert.equal(await b.ask(id, '', GATEWAY), '10.0.0.1/24')
    assert.equal(await b.ask(id, '10.0.0.1', GATEWAY), '10.0.0.1/24')
    assert.deepEqual(
      store.entry(V4, '10.0.0.1')?.holders.map((holder) => holder.host),
      ['node-a', 'node-b', 'node-b']
    )
    await rejects(
      a.ask(id, '10.0.0.1'),
      'conflict',
      /held by host node-a, host node-b, host node-b as the gateway/
    )
    await a.ask(id, '10.0.0.9')
    await rejects(
      b.ask(id, '10.0.0.9', GATEWAY),
      'conflict',
      /^Address: 10\.0\.0\.9 is already taken .* held by host node-a as a static address/
    )
    // Released by one host, still held by the other: dynamic requests keep away from it.
    await a.release(id, '10.0.0.1')
    assert.deepEqual(
      store.entry(V4, '10.0.0.1')?.holders.map((holder) => holder.host),
      ['node-b', 'node-b']
    )
    assert.equal(await a.ask(id), '10.0.0.2/24')
    await b.release(id, '10.0.0.1')
    await b.release(id, '10.0.0.1')
    assert.equal(store.entry(V4, '10.0.0.1'), undefined)
  })

  test('every allocation records its holder: host, pool and the options Docker sent', async () => {
    const { pool, ask, store } = setup()
    const id = pool('10.0.0.0/24', '10.0.0.0/25')
    const options = {
      'com.docker.network.endpoint.name': 'web-1',
      'com.docker.network.endpoint.macaddress': '02:42:0a:00:00:05',
    }
    await ask(id, '', options)
    await ask(id, '10.0.0.200')
    assert.deepEqual(store.entries(V4), [
      {
        address: '10.0.0.1',
        kind: 'dynamic',
        holders: [{ host: 'node-a', poolId: id, options }],
        revision: 1,
      },
      {
        address: '10.0.0.200',
        kind: 'static',
        holders: [{ host: 'node-a', poolId: id }],
        revision: 2,
      },
    ])
  })

  test("ReleaseAddress is idempotent and never frees another host's address", async () => {
    const store = new MemoryIpamStore()
    const lines: string[] = []
    const a = new Ipam({
      store,
      host: 'node-a',
      log: createLogger('debug', (_level, line) => lines.push(line)),
    })
    const b = host('node-b', store)
    const id = b.pool('10.0.0.0/24')
    assert.equal(await b.ask(id), '10.0.0.1/24')
    await a.releaseAddress({ poolId: id, address: '10.0.0.1' })
    assert.equal(store.entry(V4, '10.0.0.1')?.holders[0]?.host, 'node-b', 'still held')
    assert.ok(
      lines.some((line) => /does not hold; left alone/.test(line)),
      lines.join('')
    )
    // Released through another pool of the subnet: not this holder either.
    await b.release(b.pool('10.0.0.0/24', '10.0.0.0/25'), '10.0.0.1')
    assert.ok(store.entry(V4, '10.0.0.1'))
    await b.release(id, '10.0.0.1')
    assert.equal(store.entry(V4, '10.0.0.1'), undefined)
    const commits = store.commits
    await b.release(id, '10.0.0.1')
    await b.release(id, '10.0.0.77')
    assert.equal(store.commits, commits, 'nothing to write for a free address')
    assert.equal(await b.ask(id), '10.0.0.1/24', 'free again')
  })
})

describe('IPAM core: IPv6', () => {
  const key = { addressSpace: 'lan', subnet: '2001:db8::/64' }

  test('gateway ::1, then the lowest free; canonical spelling', async () => {
    const { pool, ask } = setup()
    const id = pool('2001:db8::/64')
    assert.equal(await ask(id, '', GATEWAY), '2001:db8::1/64')
    assert.equal(await ask(id), '2001:db8::2/64')
    assert.equal(await ask(id, '2001:DB8:0:0::0:5'), '2001:db8::5/64')
    await rejects(ask(id, '2001:db8::5'), 'conflict', /^Address: 2001:db8::5 is already taken/)
    await rejects(ask(id, '2001:db8::'), 'invalid-parameter', /^Address: 2001:db8:: is the network/)
  })

  test('a /64 with thousands of allocations: found without walking the range', async () => {
    const { pool, ask, store } = setup()
    const id = pool('2001:db8::/64', '2001:db8::/64')
    for (let i = 1; i <= 3000; i++)
      store.put(key, {
        address: `2001:db8::${i.toString(16)}`,
        kind: 'dynamic',
        holders: [{ host: 'elsewhere', poolId: id }],
      })
    assert.equal(await ask(id), `2001:db8::${(3001).toString(16)}/64`)
    const wide = pool('2001:db8::/64', '2001:db8:0:0:8000::/65')
    assert.equal(await ask(wide), '2001:db8:0:0:8000::/64')
  })

  test('the top of the address space: no broadcast in IPv6, exhaustion named', async () => {
    const { pool, ask } = setup()
    const id = pool('ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffc/126')
    const got = [await ask(id), await ask(id), await ask(id)]
    assert.deepEqual(got, [
      'ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffd/126',
      'ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/126',
      'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/126',
    ])
    await rejects(ask(id), 'conflict', /no free address left in pool ffff:.*:fffc\/126/)
  })
})

describe('IPAM core: compare-and-set', () => {
  test('conflicts are read again and retried, each attempt one free address further', async () => {
    const { pool, ask, store } = setup()
    const id = pool('10.0.0.0/24')
    const stolen: string[] = []
    store.beforeCommit = (key, change) => {
      if (stolen.length >= 3) return
      stolen.push(change.address)
      store.put(key, {
        address: change.address,
        kind: 'dynamic',
        holders: [{ host: 'node-z', poolId: id }],
      })
    }
    // Attempt n takes the n-th lowest free address, stepping away from the host that won.
    assert.equal(await ask(id), '10.0.0.7/24')
    assert.deepEqual(stolen, ['10.0.0.1', '10.0.0.3', '10.0.0.5'])
    assert.equal(store.conflicts, 3)
    assert.equal(store.commits, 4)
    store.beforeCommit = undefined
    assert.equal(await ask(id), '10.0.0.2/24', 'without conflicts, the lowest free one again')
  })

  test('near exhaustion a retry still takes the last free address', async () => {
    const { pool, ask, store } = setup()
    const id = pool('10.0.0.0/24', '10.0.0.252/30')
    let once = true
    store.beforeCommit = (key, change) => {
      if (!once) return
      once = false
      store.put(key, {
        address: change.address,
        kind: 'dynamic',
        holders: [{ host: 'z', poolId: id }],
      })
    }
    assert.equal(await ask(id), '10.0.0.254/24')
    assert.equal(await ask(id), '10.0.0.253/24')
    await rejects(ask(id), 'conflict', /no free address left/)
  })

  test('the retries are bounded: the request then fails, saying why', async () => {
    const { pool, ask, store } = setup(3)
    const id = pool('10.0.0.0/24')
    store.beforeCommit = (key, change) =>
      store.put(key, {
        address: change.address,
        kind: 'gateway',
        holders: [{ host: 'node-z', poolId: id }],
      })
    await rejects(
      ask(id, '', GATEWAY),
      'unavailable',
      /^10\.0\.0\.0\/24: address 10\.0\.0\.1 kept changing under this request \(3 compare-and-set conflicts in a row/
    )
    assert.equal(store.commits, 3)
    assert.equal(store.conflicts, 3)
  })

  test('a release retried after a conflict removes only its own holder', async () => {
    const store = new MemoryIpamStore()
    const a = host('node-a', store)
    const id = a.pool('10.0.0.0/24')
    await a.ask(id, '', GATEWAY)
    let once = true
    store.beforeCommit = (key, change) => {
      if (!once) return
      once = false
      const entry = store.entry(key, change.address)
      assert.ok(entry)
      const { revision: _r, ...allocation } = entry
      store.put(key, {
        ...allocation,
        holders: [...allocation.holders, { host: 'node-b', poolId: id }],
      })
    }
    await a.release(id, '10.0.0.1')
    assert.equal(store.conflicts, 1)
    assert.deepEqual(store.entry(V4, '10.0.0.1')?.holders, [{ host: 'node-b', poolId: id }])
  })

  test('200 requests at once on an ip-range /24: 200 distinct addresses, all in the range', async () => {
    const { pool, ask, store } = setup()
    const id = pool('10.20.0.0/16', '10.20.5.0/24')
    const got = await Promise.all(Array.from({ length: 200 }, () => ask(id)))
    assert.equal(got.length, 200)
    assert.equal(new Set(got).size, 200, 'no duplicate')
    for (const address of got) assert.match(address, /^10\.20\.5\.\d+\/16$/)
    assert.equal(store.conflicts, 0, 'requests of one host take turns')
  })

  test('two hosts on one store, 120 requests each at once: no duplicate, conflicts retried', async () => {
    const store = new MemoryIpamStore()
    const a = host('node-a', store)
    const b = host('node-b', store)
    const id = a.pool('10.30.0.0/23')
    const got = await Promise.all(
      Array.from({ length: 240 }, (_, i) => (i % 2 === 0 ? a : b).ask(id))
    )
    assert.equal(new Set(got).size, 240, 'no duplicate')
    assert.ok(store.conflicts > 0, 'the hosts raced for the same addresses')
    const key = { addressSpace: 'lan', subnet: '10.30.0.0/23' }
    const hosts = store.entries(key).map((entry) => entry.holders[0]?.host)
    assert.equal(hosts.filter((h) => h === 'node-a').length, 120)
    assert.equal(hosts.filter((h) => h === 'node-b').length, 120)
  })
})
