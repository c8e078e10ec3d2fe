import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { IpvlanDriver } from '../../src/driver/driver.ts'
import { endpointLinkName, hostLinkName, ownerAlias } from '../../src/driver/naming.ts'
import { LinkError } from '../../src/driver/ports/link-layer.ts'
import { silentLogger } from '../../src/log.ts'
import { FakeLinkLayer } from '../fakes/fake-link-layer.ts'
import { id } from '../fakes/ids.ts'
import { MemoryStore } from '../fakes/memory-store.ts'
import {
  callsOf,
  endpoint,
  EP,
  EP2,
  INSTANCE,
  linkNames,
  NET,
  network,
  plant,
  rejectsWith,
  setup,
} from '../helpers/driver-fixtures.ts'

/** `-o host_address`: the host's own leg on a network (issue 10, moby/moby#21735). */

const HOST = hostLinkName(NET)
const reserved = (extra: Record<string, string> = {}) =>
  network(
    NET,
    { parent: 'eth0.10', host_address: '192.168.10.2,2001:db8::2', ...extra },
    {
      enableIPv6: true,
      ipv4: [
        { pool: '192.168.10.0/24', gateway: '192.168.10.1/24', auxAddresses: ['192.168.10.2/24'] },
      ],
      ipv6: [{ pool: '2001:db8::/64', auxAddresses: ['2001:db8:0:0::2/64'] }],
    }
  )
const dualEndpoint = (endpointId: string, n: number) =>
  endpoint(NET, endpointId, {
    address: `192.168.10.${n}/24`,
    addressIPv6: `2001:db8::${n}/64`,
  })

describe('host_address: the host reaches its containers', () => {
  test('creates the host link on the parent in the network mode, with the host routes of its addresses', async () => {
    const { driver, links } = await setup(['eth0'])
    await driver.createNetwork(reserved({ ipvlan_mode: 'l3s' }))
    const [spec] = callsOf(links, 'addHostLink') as {
      name: string
      parent: string
      mode: string
      flag: string
      alias: string
      addresses: string[]
    }[]
    assert.deepEqual(spec && [spec.name, spec.parent, spec.mode, spec.flag, spec.alias], [
      HOST,
      'eth0.10',
      'l3s',
      'bridge',
      ownerAlias(INSTANCE, 'host', NET),
    ])
    assert.deepEqual(spec?.addresses, ['192.168.10.2/32', '2001:db8::2/128'])
    assert.deepEqual(driver.networks()[0]?.hostAccess, {
      link: HOST,
      addresses: ['192.168.10.2/32', '2001:db8::2/128'],
    })
  })

  test("a join routes the container's addresses through the host link; delete takes the routes, then the link", async () => {
    const { driver, links } = await setup(['eth0'])
    await driver.createNetwork(reserved())
    await driver.createEndpoint(dualEndpoint(EP, 5))
    await driver.join(NET, EP)
    assert.deepEqual(Object.fromEntries(links.routes), {
      '192.168.10.5/32': HOST,
      '2001:db8::5/128': HOST,
    })
    await driver.deleteEndpoint(NET, EP)
    assert.equal(links.routes.size, 0)
    await driver.createEndpoint(dualEndpoint(EP2, 6))
    await driver.join(NET, EP2)
    await driver.deleteNetwork(NET)
    assert.deepEqual(linkNames(links), ['eth0'], 'host link and parent gone with the network')
    assert.equal(links.routes.size, 0)
  })

  test('a network without host_address makes no host link and no routes', async () => {
    const { driver, links } = await setup(['eth0'])
    await driver.createNetwork(network(NET, { parent: 'eth0.10' }))
    await driver.createEndpoint(endpoint(NET, EP))
    await driver.join(NET, EP)
    assert.deepEqual(callsOf(links, 'addHostLink'), [])
    assert.deepEqual(callsOf(links, 'addRoutes'), [])
  })

  const refusals: [string, Record<string, string>, RegExp][] = [
    [
      'an address not reserved with --aux-address',
      { host_address: '192.168.10.3' },
      /^option "host_address": 192\.168\.10\.3 is not reserved; add --aux-address host=192\.168\.10\.3/,
    ],
    [
      'an IPv6 address not reserved',
      { host_address: '2001:db8::3' },
      /^option "host_address": 2001:db8::3 is not reserved; add --aux-address host6=2001:db8::3/,
    ],
    [
      'an address outside every subnet',
      { host_address: '10.9.9.9' },
      /^option "host_address": 10\.9\.9\.9 is in none of the network's IPv4 subnets \(192\.168\.10\.0\/24\)/,
    ],
    [
      'the gateway',
      { host_address: '192.168.10.1' },
      /^option "host_address": 192\.168\.10\.1 is the gateway of 192\.168\.10\.0\/24/,
    ],
  ]
  for (const [name, options, pattern] of refusals) {
    test(`${name} is refused, naming the option; nothing changes`, async () => {
      const { driver, links, store } = await setup(['eth0'])
      await rejectsWith(driver.createNetwork(reserved(options)), 'invalid-parameter', pattern)
      assert.deepEqual(links.calls, [], 'the kernel untouched')
      assert.equal(store.writes, 0)
    })
  }

  test('a failed host link rolls back the parent it made; nothing is recorded', async () => {
    const { driver, links, store } = await setup(['eth0'])
    links.failNext(
      'addHostLink',
      new LinkError('failed', 'RTNETLINK answers: Invalid argument', 'ip')
    )
    await rejectsWith(driver.createNetwork(reserved()), 'internal', /Invalid argument/)
    assert.deepEqual(linkNames(links), ['eth0'])
    assert.equal(store.writes, 0)
    assert.equal(driver.networks().length, 0)
  })

  test("a link with the host link's name that is not ours fails the create and is left alone", async () => {
    const { driver, links } = await setup(['eth0'])
    plant(links, HOST, 'ipvlan', 'the operator made this')
    await rejectsWith(
      driver.createNetwork(reserved()),
      'conflict',
      /was not created by this plugin/
    )
    assert.equal(links.links.get(HOST)?.alias, 'the operator made this')
    assert.equal(links.links.has('eth0.10'), false, 'the parent made for it was rolled back')
  })

  test("a route to the container through another device is the operator's: the join fails naming it", async () => {
    const { driver, links } = await setup(['eth0'])
    await driver.createNetwork(reserved())
    await driver.createEndpoint(dualEndpoint(EP, 5))
    links.routes.set('192.168.10.5/32', 'eth0')
    await rejectsWith(
      driver.join(NET, EP),
      'conflict',
      /the host already routes 192\.168\.10\.5\/32 through eth0; that route is not ours/
    )
    assert.equal(links.routes.get('192.168.10.5/32'), 'eth0', 'left alone')
  })

  test('a route of ours left by a crash is kept, and the join succeeds', async () => {
    const { driver, links } = await setup(['eth0'])
    await driver.createNetwork(reserved())
    await driver.createEndpoint(dualEndpoint(EP, 5))
    links.routes.set('192.168.10.5/32', HOST)
    await driver.join(NET, EP)
    assert.equal(links.routes.get('2001:db8::5/128'), HOST)
  })

  test('a join finds the host link gone: it is re-made with the routes of every endpoint', async () => {
    const { driver, links } = await setup(['eth0'])
    await driver.createNetwork(reserved())
    await driver.createEndpoint(dualEndpoint(EP, 5))
    await driver.join(NET, EP)
    await links.remove(HOST)
    assert.equal(links.routes.size, 0)
    await driver.createEndpoint(dualEndpoint(EP2, 6))
    await driver.join(NET, EP2)
    assert.equal(links.links.get(HOST)?.alias, ownerAlias(INSTANCE, 'host', NET))
    assert.deepEqual([...links.routes.keys()].sort(), [
      '192.168.10.5/32',
      '192.168.10.6/32',
      '2001:db8::5/128',
      '2001:db8::6/128',
    ])
  })

  test('after a reboot, start-up reconciliation re-makes the parent, the host link and its routes', async () => {
    const store = new MemoryStore(INSTANCE)
    const first = await setup(['eth0'], store)
    await first.driver.createNetwork(reserved())
    await first.driver.createEndpoint(dualEndpoint(EP, 5))
    await first.driver.join(NET, EP)

    const rebooted = new FakeLinkLayer(['eth0'])
    const second = await IpvlanDriver.open({
      hostId: 'node-a',
      links: rebooted,
      store,
      log: silentLogger,
    })
    assert.deepEqual(second.networks()[0]?.hostAccess?.link, HOST, 'host access survives a restart')
    await second.reconcile()
    assert.deepEqual(linkNames(rebooted), ['eth0', 'eth0.10', HOST].sort())
    assert.equal(rebooted.links.get(HOST)?.up, true)
    assert.equal(rebooted.routes.get('192.168.10.5/32'), HOST)
    await second.join(NET, EP)
    assert.ok(rebooted.links.has(endpointLinkName(EP)))
  })

  test('reconciliation keeps a live host link and sweeps one whose network is gone', async () => {
    const { driver, links } = await setup(['eth0'])
    await driver.createNetwork(reserved())
    const stranded = hostLinkName(id('deleted network'))
    plant(links, stranded, 'ipvlan', ownerAlias(INSTANCE, 'host', id('deleted network')))
    const report = await driver.reconcile()
    assert.deepEqual(report.removed, [stranded])
    assert.ok(links.links.has(HOST))
  })
})
