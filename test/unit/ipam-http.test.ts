import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Hono } from 'hono'
import { IpvlanDriver } from '../../src/driver/driver.ts'
import { Ipam } from '../../src/driver/ipam/ipam.ts'
import type { IpamStore } from '../../src/driver/ports/ipam-store.ts'
import { createApp } from '../../src/http/app.ts'
import { mountIpamRoutes } from '../../src/http/ipam-routes.ts'
import { createLogger, silentLogger } from '../../src/log.ts'
import { FakeLinkLayer } from '../fakes/fake-link-layer.ts'
import { MemoryIpamStore } from '../fakes/ipam-memory-store.ts'
import { MemoryStore } from '../fakes/memory-store.ts'

const GATEWAY = { RequestAddressType: 'com.docker.network.gateway' }

async function setup(store: IpamStore = new MemoryIpamStore()) {
  const lines: string[] = []
  const log = createLogger('debug', (_level, line) => lines.push(line))
  const driver = await IpvlanDriver.open({
    hostId: 'node-a',
    links: new FakeLinkLayer(['eth0']),
    store: new MemoryStore(),
    log: silentLogger,
  })
  const app = createApp({ driver, log: silentLogger })
  mountIpamRoutes(app, { ipam: new Ipam({ store, host: 'node-a', log }), log })
  /** POSTs like dockerd: no Content-Type, Go's json.Encoder body (trailing newline), or none. */
  const post = async (path: string, body?: unknown) => {
    const init: RequestInit = { method: 'POST' }
    if (body !== undefined)
      init.body = typeof body === 'string' ? body : JSON.stringify(body) + '\n'
    const response = await app.request(path, init)
    const text = await response.text()
    let json: Record<string, unknown>
    try {
      json = JSON.parse(text) as Record<string, unknown>
    } catch {
      assert.fail(`${path} answered ${response.status} with a body that is not JSON: ${text}`)
    }
    return { status: response.status, json, contentType: response.headers.get('content-type') }
  }
  /** 200 with a JSON body and no error. */
  const ok = async (path: string, body?: unknown): Promise<Record<string, unknown>> => {
    const reply = await post(path, body)
    assert.equal(reply.status, 200, `${path}: ${JSON.stringify(reply.json)}`)
    assert.match(reply.contentType ?? '', /application\/json/)
    assert.equal(reply.json['Error'], undefined, `${path}: ${JSON.stringify(reply.json)}`)
    return reply.json
  }
  /** 200 with {"Error": message}, as the IPAM protocol reports failures; never "Err". */
  const fails = async (path: string, body: unknown, message: RegExp): Promise<void> => {
    const reply = await post(path, body)
    assert.equal(reply.status, 200, `${path}: ${JSON.stringify(reply.json)}`)
    assert.deepEqual(Object.keys(reply.json), ['Error'])
    assert.match(String(reply.json['Error']), message)
  }
  return { app, post, ok, fails, lines }
}

/** A RequestPool body as dockerd writes it: every field, nil maps as null. */
const poolBody = (fields: Record<string, unknown> = {}) => ({
  AddressSpace: 'lan',
  Pool: '10.0.0.0/24',
  SubPool: '',
  Options: null,
  V6: false,
  ...fields,
})

describe('IPAM over HTTP', () => {
  test('GetCapabilities and GetDefaultAddressSpaces take no body', async () => {
    const { ok } = await setup()
    assert.deepEqual(await ok('/IpamDriver.GetCapabilities'), {
      RequiresMACAddress: false,
      RequiresRequestReplay: false,
    })
    assert.deepEqual(await ok('/IpamDriver.GetDefaultAddressSpaces', ''), {
      LocalDefaultAddressSpace: 'lan',
      GlobalDefaultAddressSpace: 'lan',
    })
  })

  test('docker network create --subnet --ip-range --gateway --aux-address, two containers, rm', async () => {
    const { ok } = await setup()
    const pool = await ok(
      '/IpamDriver.RequestPool',
      poolBody({ SubPool: '10.0.0.128/25', Options: { 'com.example.x': 'y' }, NewField: 1 })
    )
    assert.deepEqual(pool, {
      PoolID: 'lan,10.0.0.0/24,10.0.0.128/25',
      Pool: '10.0.0.0/24',
      Data: {},
    })
    const PoolID = pool['PoolID']
    const request = (Address: string, Options: Record<string, string> | null) =>
      ok('/IpamDriver.RequestAddress', { PoolID, Address, Options })
    assert.deepEqual(await request('', GATEWAY), { Address: '10.0.0.1/24', Data: {} })
    assert.deepEqual(await request('10.0.0.2', null), { Address: '10.0.0.2/24', Data: {} })
    const endpoint = { 'com.docker.network.endpoint.name': 'web' }
    assert.equal((await request('', endpoint))['Address'], '10.0.0.128/24')
    assert.equal((await request('10.0.0.200', endpoint))['Address'], '10.0.0.200/24')
    assert.equal((await request('', {}))['Address'], '10.0.0.129/24')
    for (const Address of ['10.0.0.128', '10.0.0.128', '10.0.0.1', '10.0.0.2'])
      assert.deepEqual(await ok('/IpamDriver.ReleaseAddress', { PoolID, Address }), {})
    assert.deepEqual(await ok('/IpamDriver.ReleasePool', { PoolID }), {})
    assert.deepEqual(await ok('/IpamDriver.ReleasePool', { PoolID }), {})
    assert.equal((await request('', null))['Address'], '10.0.0.128/24', 'released: free again')
  })

  test('IPv6', async () => {
    const { ok } = await setup()
    const pool = await ok('/IpamDriver.RequestPool', poolBody({ Pool: '2001:db8::/64', V6: true }))
    assert.equal(pool['PoolID'], 'lan,2001:db8::/64')
    const body = { PoolID: pool['PoolID'], Address: '', Options: GATEWAY }
    assert.equal((await ok('/IpamDriver.RequestAddress', body))['Address'], '2001:db8::1/64')
  })

  describe('errors: {"Error"} naming the field', () => {
    const PoolID = 'lan,10.0.0.0/29'
    const cases: [string, string, unknown, RegExp][] = [
      [
        'no Pool',
        'RequestPool',
        poolBody({ Pool: '' }),
        /^Pool: required: this IPAM driver has no default pools/,
      ],
      ['Pool absent', 'RequestPool', { AddressSpace: 'lan' }, /^Pool: required/],
      [
        'Pool a number',
        'RequestPool',
        poolBody({ Pool: 5 }),
        /^RequestPool: Pool: expected a CIDR string/,
      ],
      [
        'Pool not a CIDR',
        'RequestPool',
        poolBody({ Pool: '10.0.0.1' }),
        /^Pool: expected a subnet in CIDR form/,
      ],
      [
        'SubPool outside',
        'RequestPool',
        poolBody({ SubPool: '10.1.0.0/25' }),
        /^SubPool: 10\.1\.0\.0\/25 is not inside Pool/,
      ],
      [
        'SubPool a number',
        'RequestPool',
        poolBody({ SubPool: 1 }),
        /^RequestPool: SubPool: expected a CIDR string/,
      ],
      [
        'V6 a string',
        'RequestPool',
        poolBody({ V6: 'yes' }),
        /^RequestPool: V6: expected a boolean/,
      ],
      [
        'V6 wrong',
        'RequestPool',
        poolBody({ V6: true }),
        /^V6: true, but Pool 10\.0\.0\.0\/24 is IPv4/,
      ],
      [
        'Options not strings',
        'RequestPool',
        poolBody({ Options: { a: 1 } }),
        /^RequestPool: Options: expected an object whose values are strings/,
      ],
      [
        'AddressSpace odd',
        'RequestPool',
        poolBody({ AddressSpace: 'a/b' }),
        /^AddressSpace: expected/,
      ],
      [
        'AddressSpace a number',
        'RequestPool',
        poolBody({ AddressSpace: 1 }),
        /^RequestPool: AddressSpace: expected a string/,
      ],
      ['not JSON', 'RequestPool', '{"Pool":', /^RequestPool: the request body is not valid JSON/],
      [
        'ReleasePool PoolID absent',
        'ReleasePool',
        {},
        /^PoolID: expected an ID this driver returned from RequestPool/,
      ],
      [
        'ReleasePool PoolID foreign',
        'ReleasePool',
        { PoolID: 'LocalDefault/10.0.0.0/24' },
        /^PoolID: expected an ID this driver returned/,
      ],
      [
        'ReleaseAddress PoolID a number',
        'ReleaseAddress',
        { PoolID: 1, Address: '10.0.0.1' },
        /^ReleaseAddress: PoolID: expected the string RequestPool returned/,
      ],
      [
        'RequestAddress PoolID absent',
        'RequestAddress',
        { Address: '' },
        /^PoolID: expected an ID/,
      ],
      [
        'RequestAddress Address a number',
        'RequestAddress',
        { PoolID, Address: 7 },
        /^RequestAddress: Address: expected an IP address string/,
      ],
      [
        'RequestAddress Address a CIDR',
        'RequestAddress',
        { PoolID, Address: '10.0.0.3/29' },
        /^Address: expected an IP address without prefix length/,
      ],
      [
        'RequestAddress Address outside',
        'RequestAddress',
        { PoolID, Address: '10.0.0.9' },
        /^Address: 10\.0\.0\.9 is not inside Pool 10\.0\.0\.0\/29/,
      ],
      [
        'RequestAddress Options not strings',
        'RequestAddress',
        { PoolID, Options: { x: true } },
        /^RequestAddress: Options: expected/,
      ],
      [
        'ReleaseAddress Address absent',
        'ReleaseAddress',
        { PoolID },
        /^Address: expected an IP address without prefix length, got ""/,
      ],
      [
        'ReleaseAddress Address empty',
        'ReleaseAddress',
        { PoolID, Address: '' },
        /^Address: expected an IP address/,
      ],
    ]
    test('the case list is not empty', () => assert.ok(cases.length >= 20))
    for (const [name, method, body, message] of cases)
      test(name, async () => {
        const { fails } = await setup()
        await fails(`/IpamDriver.${method}`, body, message)
      })

    test('a taken address names its holder; exhaustion names the pool', async () => {
      const { ok, fails } = await setup()
      await ok('/IpamDriver.RequestPool', poolBody({ Pool: '10.0.0.0/29' }))
      const endpoint = { 'com.docker.network.endpoint.name': 'db' }
      await ok('/IpamDriver.RequestAddress', { PoolID, Address: '10.0.0.3', Options: endpoint })
      await fails(
        '/IpamDriver.RequestAddress',
        { PoolID, Address: '10.0.0.3', Options: null },
        /^Address: 10\.0\.0\.3 is already taken in 10\.0\.0\.0\/29: held by host node-a for endpoint db as a static address/
      )
      for (let i = 0; i < 5; i++) await ok('/IpamDriver.RequestAddress', { PoolID, Address: '' })
      await fails(
        '/IpamDriver.RequestAddress',
        { PoolID, Address: '' },
        /^no free address left in pool 10\.0\.0\.0\/29 \(PoolID lan,10\.0\.0\.0\/29\)/
      )
    })

    test('a store failure is an {"Error"} too, and logged as a warning', async () => {
      const broken: IpamStore = {
        read: () => Promise.reject(new Error('cannot read /state/ipam/lan/10.0.0.0_29.json: EIO')),
        commit: () => Promise.reject(new Error('unreachable')),
        subnets: () => Promise.reject(new Error('unreachable')),
        beats: () => Promise.reject(new Error('unreachable')),
        beat: () => Promise.reject(new Error('unreachable')),
      }
      const { fails, lines } = await setup(broken)
      await fails('/IpamDriver.RequestAddress', { PoolID, Address: '' }, /EIO/)
      assert.ok(
        lines.some((line) => /level=warn .*ipam request failed.*EIO/.test(line)),
        lines.join('')
      )
    })
  })

  test('mounted next to the network driver: both answer; unknown methods are 404', async () => {
    const { ok, post } = await setup()
    const caps = await ok('/NetworkDriver.GetCapabilities')
    assert.equal(caps['Scope'], 'local')
    const unknown = await post('/IpamDriver.Nonsense', {})
    assert.equal(unknown.status, 404)
  })

  test('mounts onto a bare Hono app as well', async () => {
    const app = new Hono()
    const ipam = new Ipam({ store: new MemoryIpamStore(), host: 'h', log: silentLogger })
    mountIpamRoutes(app, { ipam, log: silentLogger })
    const response = await app.request('/IpamDriver.RequestPool', {
      method: 'POST',
      body: JSON.stringify(poolBody()),
    })
    assert.equal(response.status, 200)
    assert.equal(((await response.json()) as { PoolID: string }).PoolID, 'lan,10.0.0.0/24')
  })
})
