import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { IpvlanDriver } from '../../src/driver/driver.ts'
import { endpointLinkName } from '../../src/driver/naming.ts'
import { MAX_BODY_BYTES, createApp } from '../../src/http/app.ts'
import { createLogger, silentLogger } from '../../src/log.ts'
import { FakeLinkLayer } from '../fakes/fake-link-layer.ts'
import { id } from '../fakes/ids.ts'
import { MemoryStore } from '../fakes/memory-store.ts'

const NET = id('http network')
const EP = id('http endpoint')

async function setup() {
  const links = new FakeLinkLayer(['eth0'])
  const store = new MemoryStore()
  const driver = await IpvlanDriver.open({ hostId: 'node-a', links, store, log: silentLogger })
  const app = createApp({ driver, log: silentLogger })
  /**
   * POSTs like dockerd: no Content-Type, a JSON body written by Go's json.Encoder (so ending in a
   * newline), or no body at all. A string body is sent verbatim.
   */
  const post = async (
    path: string,
    body?: unknown
  ): Promise<{ status: number; json: Record<string, unknown>; contentType: string | null }> => {
    const init: RequestInit = { method: 'POST' }
    if (body !== undefined)
      init.body = typeof body === 'string' ? body : JSON.stringify(body) + '\n'
    const response = await app.request(path, init)
    const text = await response.text()
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      assert.fail(`${path} answered ${response.status} with a body that is not JSON: ${text}`)
    }
    assert.equal(typeof json, 'object')
    return {
      status: response.status,
      json: json as Record<string, unknown>,
      contentType: response.headers.get('content-type'),
    }
  }
  /** POSTs and insists on 200 with a JSON body. */
  const ok = async (path: string, body?: unknown): Promise<Record<string, unknown>> => {
    const reply = await post(path, body)
    assert.equal(reply.status, 200, `${path}: ${JSON.stringify(reply.json)}`)
    assert.match(reply.contentType ?? '', /application\/json/)
    return reply.json
  }
  return { links, store, driver, app, post, ok }
}

const networkOptions = (generic: Record<string, string>, extra: Record<string, unknown> = {}) => ({
  'com.docker.network.enable_ipv4': true,
  'com.docker.network.enable_ipv6': false,
  'com.docker.network.generic': generic,
  ...extra,
})

const createNetworkBody = (
  generic: Record<string, string> = { parent: 'eth0.10', ipvlan_mode: 'l2' },
  networkId = NET
) => ({
  NetworkID: networkId,
  Options: networkOptions(generic),
  IPv4Data: [
    {
      AddressSpace: 'LocalDefault',
      Pool: '192.168.10.0/24',
      Gateway: '192.168.10.1/24',
      AuxAddresses: { rtr: '192.168.10.2/24', outside: '<nil>' },
    },
  ],
  IPv6Data: null,
})

const createEndpointBody = (extra: Record<string, unknown> = {}) => ({
  NetworkID: NET,
  EndpointID: EP,
  Interface: { Address: '192.168.10.5/24', AddressIPv6: '', MacAddress: '' },
  Options: {
    'com.docker.network.endpoint.exposedports': [{ Proto: 6, Port: 80 }],
    'com.docker.network.portmap': [],
    'com.docker.network.endpoint.dnsservers': ['192.168.10.53'],
  },
  ...extra,
})

const joinBody = {
  NetworkID: NET,
  EndpointID: EP,
  SandboxKey: '/var/run/docker/netns/0123456789ab',
  Options: { 'com.docker.network.endpoint.exposedports': null, 'com.docker.network.portmap': null },
}

const endpointBody = { NetworkID: NET, EndpointID: EP }

describe('HTTP request log', () => {
  async function logged(level: 'debug' | 'info'): Promise<Record<string, unknown>[]> {
    const lines: string[] = []
    const log = createLogger(level, (_at, line) => lines.push(line))
    const driver = await IpvlanDriver.open({
      hostId: 'node-a',
      links: new FakeLinkLayer(['eth0']),
      store: new MemoryStore(),
      log,
    })
    const app = createApp({ driver, log })
    await app.request('/NetworkDriver.CreateNetwork', {
      method: 'POST',
      body: JSON.stringify({ NetworkID: NET, Options: {}, IPv4Data: 'not a list' }) + '\n',
    })
    await app.request('/NetworkDriver.GetCapabilities', { method: 'POST' })
    return lines
      .filter((line) => line.startsWith('level=debug msg="request" '))
      .map(
        (line) =>
          JSON.parse(line.slice('level=debug msg="request" '.length)) as Record<string, unknown>
      )
  }

  test('at debug, each request is logged with the body Docker sent and the answer it got', async () => {
    const entries = await logged('debug')
    assert.equal(entries.length, 2, 'one line per request')
    const [create, caps] = entries
    assert.equal(create?.['path'], '/NetworkDriver.CreateNetwork')
    assert.deepEqual((create?.['body'] as Record<string, unknown>)['IPv4Data'], 'not a list')
    assert.match(String((create?.['answer'] as Record<string, unknown>)['Err']), /IPv4Data/)
    assert.equal(caps?.['body'], '', 'an empty body is logged as such')
    assert.equal((caps?.['answer'] as Record<string, unknown>)['Scope'], 'local')
  })

  test('above debug, nothing is logged per request (and no body is read for it)', async () => {
    assert.deepEqual(await logged('info'), [])
  })
})

describe('HTTP handshake', () => {
  test('Plugin.Activate with an empty body implements NetworkDriver', async () => {
    const { ok } = await setup()
    assert.deepEqual(await ok('/Plugin.Activate'), { Implements: ['NetworkDriver', 'IpamDriver'] })
  })

  test('GetCapabilities with an empty body: local scope, global connectivity, gateway checker', async () => {
    const { ok } = await setup()
    assert.deepEqual(await ok('/NetworkDriver.GetCapabilities'), {
      Scope: 'local',
      ConnectivityScope: 'global',
      GwAllocChecker: true,
    })
  })

  test('GetCapabilities tolerates an empty JSON object too', async () => {
    const { ok } = await setup()
    assert.equal((await ok('/NetworkDriver.GetCapabilities', '{}\n')).Scope, 'local')
  })
})

describe('HTTP routes', () => {
  test('GwAllocCheck: l2 with a parent reserves the gateway', async () => {
    const { ok } = await setup()
    assert.deepEqual(
      await ok('/NetworkDriver.GwAllocCheck', { Options: networkOptions({ parent: 'eth0' }) }),
      { SkipIPv4: false, SkipIPv6: false }
    )
  })

  test('GwAllocCheck: l3, internal and no-parent networks skip it', async () => {
    const { ok } = await setup()
    for (const Options of [
      networkOptions({ parent: 'eth0', ipvlan_mode: 'l3' }),
      networkOptions({ parent: 'eth0' }, { 'com.docker.network.internal': true }),
      networkOptions({}),
      null,
    ]) {
      assert.deepEqual(await ok('/NetworkDriver.GwAllocCheck', { Options }), {
        SkipIPv4: true,
        SkipIPv6: true,
      })
    }
  })

  test('GwAllocCheck with a bad option is a 400 naming the option', async () => {
    const { post } = await setup()
    const reply = await post('/NetworkDriver.GwAllocCheck', {
      Options: networkOptions({ parent: 'eth0', ipvlan_mode: 'l9' }),
    })
    assert.equal(reply.status, 400)
    assert.match(String(reply.json.Err), /option "ipvlan_mode"/)
  })

  test('CreateNetwork with a realistic body creates the network and answers {}', async () => {
    const { ok, driver, links } = await setup()
    assert.deepEqual(await ok('/NetworkDriver.CreateNetwork', createNetworkBody()), {})
    assert.equal(driver.networks()[0]?.parent, 'eth0.10')
    assert.deepEqual(driver.networks()[0]?.ipv4, [
      // The IPAM's address space is recorded: IPAM reconciliation judges only its own. So are
      // the aux addresses, plain ("<nil>" reserves nothing): a switch to etcd copies them.
      {
        pool: '192.168.10.0/24',
        gateway: '192.168.10.1',
        addressSpace: 'LocalDefault',
        auxAddresses: ['192.168.10.2'],
      },
    ])
    assert.equal(links.links.get('eth0.10')?.kind, 'vlan')
  })

  test('CreateNetwork passes --aux-address values through: a reserved host_address is accepted, another refused', async () => {
    const { links, post, ok } = await setup()
    const refused = await post(
      '/NetworkDriver.CreateNetwork',
      createNetworkBody({ parent: 'eth0.10', host_address: '192.168.10.3' })
    )
    assert.equal(refused.status, 400)
    assert.match(
      String(refused.json['Err']),
      /^option "host_address": 192\.168\.10\.3 is not reserved/
    )
    assert.deepEqual(
      await ok(
        '/NetworkDriver.CreateNetwork',
        createNetworkBody({ parent: 'eth0.10', host_address: '192.168.10.2' })
      ),
      {}
    )
    assert.equal(links.links.get(`ivh${NET.slice(0, 12)}`)?.kind, 'ipvlan')
  })

  test('CreateNetwork with --internal and IPv6 data', async () => {
    const { ok, driver } = await setup()
    const body = {
      ...createNetworkBody({ parent: 'eth0' }),
      Options: networkOptions(
        { parent: 'eth0' },
        { 'com.docker.network.internal': true, 'com.docker.network.enable_ipv6': true }
      ),
      IPv6Data: [{ AddressSpace: 'LocalDefault', Pool: 'fd00::/64', Gateway: 'fd00::1/64' }],
    }
    await ok('/NetworkDriver.CreateNetwork', body)
    const [record] = driver.networks()
    assert.equal(record?.internal, true)
    assert.deepEqual(record?.ipv6, [
      { pool: 'fd00::/64', gateway: 'fd00::1', addressSpace: 'LocalDefault' },
    ])
  })

  test('DeleteNetwork removes it and answers {}; an unknown id also answers {}', async () => {
    const { ok, driver, links } = await setup()
    await ok('/NetworkDriver.CreateNetwork', createNetworkBody())
    assert.deepEqual(await ok('/NetworkDriver.DeleteNetwork', { NetworkID: NET }), {})
    assert.deepEqual(driver.networks(), [])
    assert.equal(links.links.has('eth0.10'), false)
    assert.deepEqual(await ok('/NetworkDriver.DeleteNetwork', { NetworkID: id('unknown') }), {})
  })

  test('AllocateNetwork answers empty Options and FreeNetwork answers {}', async () => {
    const { ok } = await setup()
    const body = {
      NetworkID: NET,
      Options: { parent: 'eth0' },
      IPv4Data: [{ AddressSpace: 'GlobalDefault', Pool: '10.0.0.0/24', Gateway: '10.0.0.1/24' }],
      IPv6Data: null,
    }
    assert.deepEqual(await ok('/NetworkDriver.AllocateNetwork', body), { Options: {} })
    assert.deepEqual(await ok('/NetworkDriver.FreeNetwork', { NetworkID: NET }), {})
  })

  test('AllocateNetwork with an unknown option is a 400 naming it', async () => {
    const { post } = await setup()
    const reply = await post('/NetworkDriver.AllocateNetwork', {
      NetworkID: NET,
      Options: { parnet: 'eth0' },
      IPv4Data: null,
      IPv6Data: null,
    })
    assert.equal(reply.status, 400)
    assert.match(String(reply.json.Err), /unknown option "parnet"/)
  })

  test('CreateEndpoint answers {} and never echoes Address or MacAddress', async () => {
    const { ok, driver } = await setup()
    await ok('/NetworkDriver.CreateNetwork', createNetworkBody())
    const reply = await ok('/NetworkDriver.CreateEndpoint', createEndpointBody())
    assert.deepEqual(reply, {})
    assert.equal(driver.endpoints()[0]?.ipv4, '192.168.10.5/24')
  })

  test('CreateEndpoint with a MAC address is a 400 naming Interface.MacAddress', async () => {
    const { ok, post } = await setup()
    await ok('/NetworkDriver.CreateNetwork', createNetworkBody())
    const reply = await post(
      '/NetworkDriver.CreateEndpoint',
      createEndpointBody({
        Interface: { Address: '192.168.10.5/24', AddressIPv6: '', MacAddress: '02:42:c0:a8:0a:05' },
      })
    )
    assert.equal(reply.status, 400)
    assert.match(String(reply.json.Err), /Interface\.MacAddress/)
  })

  test('CreateEndpoint with a MAC in the endpoint options (base64) is a 400 too', async () => {
    const { ok, post } = await setup()
    await ok('/NetworkDriver.CreateNetwork', createNetworkBody())
    const reply = await post(
      '/NetworkDriver.CreateEndpoint',
      createEndpointBody({ Options: { 'com.docker.network.endpoint.macaddress': 'AkLAqAoF' } })
    )
    assert.equal(reply.status, 400)
    assert.match(String(reply.json.Err), /MacAddress/)
  })

  test('CreateEndpoint with a null or missing Interface records no addresses', async () => {
    const { ok, driver } = await setup()
    await ok('/NetworkDriver.CreateNetwork', createNetworkBody())
    await ok('/NetworkDriver.CreateEndpoint', { NetworkID: NET, EndpointID: EP, Interface: null })
    assert.equal(driver.endpoints()[0]?.ipv4, undefined)
  })

  test('EndpointOperInfo answers a Value map', async () => {
    const { ok } = await setup()
    await ok('/NetworkDriver.CreateNetwork', createNetworkBody())
    await ok('/NetworkDriver.CreateEndpoint', createEndpointBody())
    assert.deepEqual(await ok('/NetworkDriver.EndpointOperInfo', endpointBody), {
      Value: { 'ipvlan-lan.link': endpointLinkName(EP) },
    })
    assert.deepEqual(
      await ok('/NetworkDriver.EndpointOperInfo', { NetworkID: NET, EndpointID: id('x') }),
      { Value: {} }
    )
  })

  test("Join's wire shape for l2: plain-IP Gateway, InterfaceName, DisableGatewayService", async () => {
    const { ok, links } = await setup()
    await ok('/NetworkDriver.CreateNetwork', createNetworkBody())
    await ok('/NetworkDriver.CreateEndpoint', createEndpointBody())
    const reply = await ok('/NetworkDriver.Join', joinBody)
    assert.deepEqual(reply, {
      InterfaceName: { SrcName: endpointLinkName(EP), DstPrefix: 'eth' },
      Gateway: '192.168.10.1',
      DisableGatewayService: true,
    })
    assert.equal(links.links.get(endpointLinkName(EP))?.kind, 'ipvlan')
  })

  test("Join's wire shape for l3: connected StaticRoutes with RouteType 1 and no gateway", async () => {
    const { ok } = await setup()
    const body = {
      ...createNetworkBody({ parent: 'eth0', ipvlan_mode: 'l3' }),
      Options: networkOptions(
        { parent: 'eth0', ipvlan_mode: 'l3' },
        { 'com.docker.network.enable_ipv6': true }
      ),
      IPv6Data: [{ AddressSpace: 'LocalDefault', Pool: 'fd00::/64' }],
    }
    await ok('/NetworkDriver.CreateNetwork', body)
    await ok(
      '/NetworkDriver.CreateEndpoint',
      createEndpointBody({
        Interface: { Address: '192.168.10.5/24', AddressIPv6: 'fd00::5/64', MacAddress: '' },
      })
    )
    assert.deepEqual(await ok('/NetworkDriver.Join', joinBody), {
      InterfaceName: { SrcName: endpointLinkName(EP), DstPrefix: 'eth' },
      StaticRoutes: [
        { Destination: '0.0.0.0/0', RouteType: 1 },
        { Destination: '::/0', RouteType: 1 },
      ],
      DisableGatewayService: true,
    })
  })

  test('Leave, ProgramExternalConnectivity and RevokeExternalConnectivity answer {}', async () => {
    const { ok, links } = await setup()
    await ok('/NetworkDriver.CreateNetwork', createNetworkBody())
    await ok('/NetworkDriver.CreateEndpoint', createEndpointBody())
    await ok('/NetworkDriver.Join', joinBody)
    const program = {
      ...endpointBody,
      Options: {
        'com.docker.network.endpoint.exposedports': null,
        'com.docker.network.portmap': null,
        'com.docker.network.driver.private.no_proxy_6to4': true,
      },
    }
    assert.deepEqual(await ok('/NetworkDriver.ProgramExternalConnectivity', program), {})
    assert.deepEqual(await ok('/NetworkDriver.RevokeExternalConnectivity', endpointBody), {})
    assert.deepEqual(await ok('/NetworkDriver.Leave', endpointBody), {})
    assert.equal(links.links.has(endpointLinkName(EP)), true)
  })

  test('DeleteEndpoint removes the link and answers {}; unknown ids also answer {}', async () => {
    const { ok, links, driver } = await setup()
    await ok('/NetworkDriver.CreateNetwork', createNetworkBody())
    await ok('/NetworkDriver.CreateEndpoint', createEndpointBody())
    await ok('/NetworkDriver.Join', joinBody)
    assert.deepEqual(await ok('/NetworkDriver.DeleteEndpoint', endpointBody), {})
    assert.equal(links.links.has(endpointLinkName(EP)), false)
    assert.deepEqual(driver.endpoints(), [])
    assert.deepEqual(await ok('/NetworkDriver.DeleteEndpoint', endpointBody), {})
  })

  test('DiscoverNew and DiscoverDelete answer {}', async () => {
    const { ok } = await setup()
    const body = {
      DiscoveryType: 1,
      DiscoveryData: { Address: '10.0.0.2', BindAddress: '0.0.0.0', Self: true },
    }
    assert.deepEqual(await ok('/NetworkDriver.DiscoverNew', body), {})
    assert.deepEqual(await ok('/NetworkDriver.DiscoverDelete', body), {})
    assert.deepEqual(await ok('/NetworkDriver.DiscoverNew', { DiscoveryType: 2 }), {})
  })

  test('IpvlanLan.Status counts networks and endpoints', async () => {
    const { ok } = await setup()
    await ok('/NetworkDriver.CreateNetwork', createNetworkBody())
    await ok('/NetworkDriver.CreateEndpoint', createEndpointBody())
    const status = await ok('/IpvlanLan.Status')
    assert.equal(status.Networks, 1)
    assert.equal(status.Endpoints, 1)
    assert.equal(typeof status.RssBytes, 'number')
  })

  test("IpvlanLan.DrainLinkDeletes answers once deleted endpoints' links are gone", async () => {
    const { ok, links } = await setup()
    await ok('/NetworkDriver.CreateNetwork', createNetworkBody())
    await ok('/NetworkDriver.CreateEndpoint', createEndpointBody())
    await ok('/NetworkDriver.Join', joinBody)
    const link = endpointLinkName(EP)
    assert.equal(links.links.has(link), true)
    const release = links.holdRemoveAll()
    await ok('/NetworkDriver.DeleteEndpoint', { NetworkID: NET, EndpointID: EP })
    let drained = false
    const draining = ok('/IpvlanLan.DrainLinkDeletes').then(() => (drained = true))
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(drained, false, 'waits for the queued deletion')
    release()
    assert.deepEqual(await draining, true)
    assert.equal(links.links.has(link), false)
  })
})

describe('HTTP full lifecycle', () => {
  test('network create, container start, stop and network rm, every reply 200 JSON', async () => {
    const { ok, links, driver, store } = await setup()
    await ok('/NetworkDriver.GetCapabilities')
    await ok('/NetworkDriver.GwAllocCheck', { Options: createNetworkBody().Options })
    await ok('/NetworkDriver.CreateNetwork', createNetworkBody())
    for (let round = 0; round < 2; round++) {
      // Docker gives every container start a new endpoint id.
      const endpointId = id(`lifecycle endpoint ${round}`)
      const ids = { NetworkID: NET, EndpointID: endpointId }
      await ok('/NetworkDriver.CreateEndpoint', createEndpointBody({ EndpointID: endpointId }))
      const join = await ok('/NetworkDriver.Join', { ...joinBody, EndpointID: endpointId })
      assert.deepEqual(join.InterfaceName, {
        SrcName: endpointLinkName(endpointId),
        DstPrefix: 'eth',
      })
      await ok('/NetworkDriver.ProgramExternalConnectivity', { ...ids, Options: {} })
      await ok('/NetworkDriver.EndpointOperInfo', ids)
      await ok('/NetworkDriver.RevokeExternalConnectivity', ids)
      await ok('/NetworkDriver.Leave', ids)
      await ok('/NetworkDriver.DeleteEndpoint', ids)
    }
    await ok('/NetworkDriver.DeleteNetwork', { NetworkID: NET })
    assert.deepEqual([...links.links.keys()], ['eth0'])
    assert.deepEqual([driver.networks(), driver.endpoints()], [[], []])
    assert.deepEqual([store.networks.size, store.endpoints.size], [0, 0])
  })
})

describe('HTTP errors', () => {
  const missingIds: [string, Record<string, unknown>, RegExp][] = [
    ['CreateNetwork', { Options: null, IPv4Data: null, IPv6Data: null }, /NetworkID/],
    ['DeleteNetwork', {}, /NetworkID/],
    ['AllocateNetwork', {}, /NetworkID/],
    ['FreeNetwork', {}, /NetworkID/],
    ['CreateEndpoint', { NetworkID: NET }, /EndpointID/],
    ['EndpointOperInfo', { EndpointID: EP }, /NetworkID/],
    ['DeleteEndpoint', { NetworkID: NET }, /EndpointID/],
    ['Join', { NetworkID: NET }, /EndpointID/],
    ['Leave', { EndpointID: EP }, /NetworkID/],
    ['ProgramExternalConnectivity', { NetworkID: NET }, /EndpointID/],
    ['RevokeExternalConnectivity', { NetworkID: NET }, /EndpointID/],
    ['DiscoverNew', {}, /DiscoveryType/],
    ['DiscoverDelete', { DiscoveryType: 'node' }, /DiscoveryType/],
  ]
  for (const [method, body, field] of missingIds) {
    test(`${method} with a missing or wrong field is a 400 whose Err names the method and field`, async () => {
      const { post } = await setup()
      const reply = await post(`/NetworkDriver.${method}`, body)
      assert.equal(reply.status, 400)
      assert.match(String(reply.json.Err), new RegExp(`^${method}: `))
      assert.match(String(reply.json.Err), field)
    })
  }

  test('an id that is not 64 lowercase hex is a 400 saying what was expected', async () => {
    const { post } = await setup()
    for (const NetworkID of [
      NET.toUpperCase(),
      'abc',
      '../../x',
      `${NET}0`,
      'riepehhrkplwbvmint19iq2q',
      'RIEPEHHRKPLWBVMINT19IQ2QS',
      'riepehhrkplwbvmint19iq2q/',
    ]) {
      const reply = await post('/NetworkDriver.DeleteNetwork', { NetworkID })
      assert.equal(reply.status, 400)
      assert.match(
        String(reply.json.Err),
        /^DeleteNetwork: NetworkID: expected 64 lowercase hexadecimal characters \(or a swarm network ID: 25 lowercase letters and digits\)$/
      )
    }
    const reply = await post('/NetworkDriver.DeleteNetwork', { NetworkID: 42 })
    assert.equal(reply.status, 400)
    assert.match(String(reply.json.Err), /NetworkID: expected a string/)
  })

  test('a swarm network ID (--scope swarm --config-from: 25 base-36 characters) serves a whole lifecycle; endpoint IDs stay 64 hex', async () => {
    const { ok, post, driver } = await setup()
    const swarm = 'riepehhrkplwbvmint19iq2qs'
    await ok('/NetworkDriver.CreateNetwork', createNetworkBody(undefined, swarm))
    await ok('/NetworkDriver.CreateEndpoint', createEndpointBody({ NetworkID: swarm }))
    await ok('/NetworkDriver.Join', { ...joinBody, NetworkID: swarm })
    await ok('/NetworkDriver.Leave', { NetworkID: swarm, EndpointID: EP })
    await ok('/NetworkDriver.DeleteEndpoint', { NetworkID: swarm, EndpointID: EP })
    await ok('/NetworkDriver.DeleteNetwork', { NetworkID: swarm })
    assert.deepEqual(driver.endpoints(), [])
    const reply = await post('/NetworkDriver.DeleteEndpoint', {
      NetworkID: swarm,
      EndpointID: 'riepehhrkplwbvmint19iq2qs',
    })
    assert.equal(reply.status, 400)
    assert.match(
      String(reply.json.Err),
      /EndpointID: expected 64 lowercase hexadecimal characters$/
    )
  })

  test('a malformed IPAM entry is a 400 naming the path', async () => {
    const { post } = await setup()
    const reply = await post('/NetworkDriver.CreateNetwork', {
      ...createNetworkBody(),
      IPv4Data: [{ AddressSpace: 'LocalDefault', Gateway: '192.168.10.1/24' }],
    })
    assert.equal(reply.status, 400)
    assert.match(String(reply.json.Err), /IPv4Data\.0\.Pool/)
  })

  test('a bad pool is a 400 naming IPv4Data[0].Pool', async () => {
    const { post } = await setup()
    const reply = await post('/NetworkDriver.CreateNetwork', {
      ...createNetworkBody(),
      IPv4Data: [{ AddressSpace: 'LocalDefault', Pool: '192.168.10.0' }],
    })
    assert.equal(reply.status, 400)
    assert.match(String(reply.json.Err), /IPv4Data\[0\]\.Pool/)
  })

  test('a non-string -o value is a 400 naming the generic options', async () => {
    const { post } = await setup()
    const reply = await post('/NetworkDriver.CreateNetwork', {
      ...createNetworkBody(),
      Options: { 'com.docker.network.generic': { mtu: 1500 } },
    })
    assert.equal(reply.status, 400)
    assert.match(String(reply.json.Err), /com\.docker\.network\.generic/)
  })

  test('a bad Interface.Address is a 400 naming it', async () => {
    const { ok, post } = await setup()
    await ok('/NetworkDriver.CreateNetwork', createNetworkBody())
    const reply = await post(
      '/NetworkDriver.CreateEndpoint',
      createEndpointBody({
        Interface: { Address: '192.168.10.5', AddressIPv6: '', MacAddress: '' },
      })
    )
    assert.equal(reply.status, 400)
    assert.match(String(reply.json.Err), /Interface\.Address/)
  })

  test('an operation that fails (unknown network) is a 500 JSON {Err}', async () => {
    const { post } = await setup()
    const reply = await post('/NetworkDriver.Join', joinBody)
    assert.equal(reply.status, 500)
    assert.match(String(reply.json.Err), new RegExp(`network ${NET.slice(0, 12)} not found`))
  })

  test('a conflict (second network on the same parent) is a 500 naming the parent', async () => {
    const { ok, post } = await setup()
    await ok('/NetworkDriver.CreateNetwork', createNetworkBody())
    const reply = await post(
      '/NetworkDriver.CreateNetwork',
      createNetworkBody(undefined, id('second network'))
    )
    assert.equal(reply.status, 500)
    assert.match(String(reply.json.Err), /already using parent interface "eth0\.10"/)
  })

  test('a kernel without ipvlan is a 500 with the plain message', async () => {
    const { post, links } = await setup()
    links.supports.ipvlan = false
    const reply = await post('/NetworkDriver.CreateNetwork', createNetworkBody())
    assert.equal(reply.status, 500)
    assert.match(String(reply.json.Err), /no ipvlan support/)
  })

  test('a state write failure is a 500', async () => {
    const { post, store } = await setup()
    store.failWrites = new Error('EROFS: read-only file system')
    const reply = await post('/NetworkDriver.CreateNetwork', createNetworkBody())
    assert.equal(reply.status, 500)
    assert.match(String(reply.json.Err), /state directory could not be written: EROFS/)
  })

  test('an unknown route is a 404 with a JSON Err', async () => {
    const { post } = await setup()
    const reply = await post('/NetworkDriver.SomethingNew', endpointBody)
    assert.equal(reply.status, 404)
    assert.match(String(reply.json.Err), /unknown method POST \/NetworkDriver\.SomethingNew/)
  })

  test('a GET on a known route is a 404 with a JSON Err', async () => {
    const { app } = await setup()
    const response = await app.request('/NetworkDriver.GetCapabilities')
    assert.equal(response.status, 404)
    assert.match(String(((await response.json()) as { Err: unknown }).Err), /unknown method GET/)
  })

  test('invalid JSON is a 400 with a JSON Err', async () => {
    const { post } = await setup()
    const reply = await post('/NetworkDriver.CreateNetwork', '{"NetworkID": ')
    assert.equal(reply.status, 400)
    assert.match(String(reply.json.Err), /CreateNetwork: the request body is not valid JSON/)
  })

  test('a JSON body that is not an object is a 400', async () => {
    const { post } = await setup()
    for (const body of ['[]\n', '"x"\n', 'null\n', '42\n']) {
      const reply = await post('/NetworkDriver.DeleteNetwork', body)
      assert.equal(reply.status, 400, body)
      assert.match(String(reply.json.Err), /^DeleteNetwork: /)
    }
  })

  test('a body over 1 MiB is refused with a 413 JSON Err', async () => {
    const { post, driver } = await setup()
    const body = JSON.stringify({
      ...createNetworkBody(),
      Padding: 'x'.repeat(MAX_BODY_BYTES),
    })
    assert.ok(body.length > MAX_BODY_BYTES)
    const reply = await post('/NetworkDriver.CreateNetwork', body)
    assert.equal(reply.status, 413)
    assert.match(String(reply.json.Err), /larger than 1048576 bytes/)
    assert.deepEqual(driver.networks(), [])
  })

  test('a body just under 1 MiB is accepted', async () => {
    const { ok } = await setup()
    const base = JSON.stringify({ ...createNetworkBody(), Padding: '' }) + '\n'
    const body = JSON.stringify({
      ...createNetworkBody(),
      Padding: 'x'.repeat(MAX_BODY_BYTES - base.length),
    })
    assert.equal(body.length + 1, MAX_BODY_BYTES)
    await ok('/NetworkDriver.CreateNetwork', body + '\n')
  })

  test('"__proto__" in the options map pollutes nothing', async () => {
    const { post } = await setup()
    await post(
      '/NetworkDriver.GwAllocCheck',
      '{"Options":{"com.docker.network.generic":{"__proto__":{"polluted":"yes"}}}}\n'
    )
    assert.equal(({} as Record<string, unknown>).polluted, undefined)
  })

  for (const key of ['__proto__', 'constructor', 'prototype']) {
    test(`an option named "${key}" is rejected as unknown like any other`, {}, async () => {
      const { post } = await setup()
      const reply = await post(
        '/NetworkDriver.CreateNetwork',
        `{"NetworkID":"${NET}","Options":{"com.docker.network.generic":{"${key}":"x","parent":"eth0"}},"IPv4Data":[{"Pool":"10.0.0.0/24"}],"IPv6Data":null}\n`
      )
      assert.equal(reply.status, 400)
      assert.match(String(reply.json.Err), new RegExp(`unknown option "${key}"`))
    })
  }
})
