import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { IpvlanDriver } from '../../src/driver/driver.ts'
import { endpointLinkName, hostLinkName, ownerAlias } from '../../src/driver/naming.ts'
import { gwAllocCheck } from '../../src/driver/network.ts'
import { parseNetworkOptions } from '../../src/driver/options.ts'
import { LinkError } from '../../src/driver/ports/link-layer.ts'
import { silentLogger } from '../../src/log.ts'
import { JsonFileStore } from '../../src/store/json-file-store.ts'
import { FakeLinkLayer } from '../fakes/fake-link-layer.ts'
import { id } from '../fakes/ids.ts'
import { MemoryStore } from '../fakes/memory-store.ts'
import {
  callsOf,
  endpoint,
  EP,
  HOST,
  INSTANCE,
  linkNames,
  NET,
  NET2,
  network,
  rejectsWith,
  setup,
} from '../helpers/driver-fixtures.ts'

/**
 * `-o parent=auto` and `auto.VID` (issue 9 point 4): the interface of this host's default route,
 * resolved once at CreateNetwork.
 */

const route = (devices: string[], metric = 0) => ({ devices, metric })

/** A driver over eth0 and eth1 whose IPv4 default route leaves by `dev` (none when undefined). */
async function withDefault(dev: string | undefined, existing = ['eth0', 'eth1']) {
  const env = await setup(existing)
  if (dev !== undefined) env.links.defaults[4] = [route([dev])]
  return env
}

const AUTO_NO_ROUTE = new RegExp(
  `^option "parent": auto: this host \\(HOST_ID ${HOST}\\) has no default route, IPv4 or IPv6`
)

describe('-o parent=auto: the interface of the default route', () => {
  test('resolves to the IPv4 default route interface; the record keeps that name and the option as given', async () => {
    const { driver, links, store } = await withDefault('eth1')
    await driver.createNetwork(network(NET, { parent: 'auto' }))
    const [record] = driver.networks()
    assert.equal(record?.parent, 'eth1')
    assert.equal(record?.requestedParent, 'auto')
    assert.equal(record?.parentOrigin, 'existing')
    assert.equal(record?.vlan, undefined)
    assert.deepEqual(store.networks.get(NET), record)
    assert.deepEqual(callsOf(links, 'defaultRoutes'), [4])
    assert.deepEqual(
      (callsOf(links, 'probeIpvlan') as { parent: string }[]).map((spec) => spec.parent),
      ['eth1']
    )
    await driver.createEndpoint(endpoint(NET, EP))
    await driver.join(NET, EP)
    assert.equal(links.links.get(endpointLinkName(EP))?.parent, 'eth1')
    await driver.deleteEndpoint(NET, EP)
    await driver.deleteNetwork(NET)
    // The operator's interface stays.
    assert.deepEqual(linkNames(links), ['eth0', 'eth1'])
  })

  test('no IPv4 default route: the IPv6 one', async () => {
    const { driver, links } = await setup()
    links.defaults[6] = [route(['eth1'], 1024)]
    await driver.createNetwork(network(NET, { parent: 'auto' }))
    assert.equal(driver.networks()[0]?.parent, 'eth1')
    assert.deepEqual(callsOf(links, 'defaultRoutes'), [4, 6])
  })

  test('the IPv4 route wins over the IPv6 one', async () => {
    const { driver, links } = await withDefault('eth0')
    links.defaults[6] = [route(['eth1'], 1024)]
    await driver.createNetwork(network(NET, { parent: 'auto' }))
    assert.equal(driver.networks()[0]?.parent, 'eth0')
    assert.deepEqual(callsOf(links, 'defaultRoutes'), [4])
  })

  test('several default routes: the one of the lowest metric, as the kernel uses', async () => {
    const { driver, links } = await setup()
    links.defaults[4] = [route(['eth0'], 100), route(['eth1'], 50)]
    await driver.createNetwork(network(NET, { parent: 'auto' }))
    assert.equal(driver.networks()[0]?.parent, 'eth1')
  })

  test('a multipath route whose nexthops all leave by one interface is that interface', async () => {
    const { driver, links } = await setup()
    links.defaults[4] = [route(['eth0', 'eth0'])]
    await driver.createNetwork(network(NET, { parent: 'auto' }))
    assert.equal(driver.networks()[0]?.parent, 'eth0')
  })

  test('no default route at all: an error naming the option and the host; nothing changes', async () => {
    const { driver, links, store } = await withDefault(undefined)
    const error = await rejectsWith(
      driver.createNetwork(network(NET, { parent: 'auto' })),
      'not-found',
      AUTO_NO_ROUTE,
      /give the interface with -o parent=NAME/
    )
    assert.equal(
      error.message,
      `option "parent": auto: this host (HOST_ID ${HOST}) has no default route, IPv4 or IPv6, to take the interface from; add one, or give the interface with -o parent=NAME`
    )
    assert.deepEqual(callsOf(links, 'defaultRoutes'), [4, 6])
    assert.deepEqual(driver.networks(), [])
    assert.equal(store.writes, 0)
    assert.deepEqual(linkNames(links), ['eth0', 'eth1'])
    assert.deepEqual(callsOf(links, 'probeIpvlan'), [])
  })

  test('the HOST_ID named is the one the driver was given', async () => {
    const links = new FakeLinkLayer(['eth0'])
    const driver = await IpvlanDriver.open({
      hostId: 'rack7-node-b',
      links,
      store: new MemoryStore(INSTANCE),
      log: silentLogger,
    })
    await rejectsWith(
      driver.createNetwork(network(NET, { parent: 'auto.10' })),
      'not-found',
      /^option "parent": auto\.10: this host \(HOST_ID rack7-node-b\) has no default route/
    )
  })

  test('a multipath default route over two interfaces is ambiguous: an error naming both; IPv6 is not tried', async () => {
    const { driver, links, store } = await setup()
    links.defaults[4] = [route(['eth0', 'eth1'], 10), route(['eth1'], 20)]
    links.defaults[6] = [route(['eth0'], 1024)]
    await rejectsWith(
      driver.createNetwork(network(NET, { parent: 'auto' })),
      'invalid-parameter',
      new RegExp(
        `^option "parent": auto: the IPv4 default route of this host \\(HOST_ID ${HOST}\\) leaves by several interfaces \\(eth0, eth1: a multipath route, or routes of equal metric\\)`
      ),
      /give the interface with -o parent=NAME/
    )
    assert.deepEqual(callsOf(links, 'defaultRoutes'), [4])
    assert.deepEqual(driver.networks(), [])
    assert.equal(store.writes, 0)
  })

  test('two default routes of equal metric by different interfaces are ambiguous too (IPv6 only)', async () => {
    const { driver, links } = await setup()
    links.defaults[6] = [route(['eth0'], 1024), route(['eth1'], 1024), route(['eth0'], 2048)]
    await rejectsWith(
      driver.createNetwork(network(NET, { parent: 'auto' })),
      'invalid-parameter',
      /the IPv6 default route of this host \(HOST_ID node-a\) leaves by several interfaces \(eth0, eth1/
    )
  })

  test('a default route that names no interface, or an unusable one, is refused naming it', async () => {
    const cases: [string[], RegExp][] = [
      [[], /IPv4 default route of this host \(HOST_ID node-a\) names no interface/],
      [['lo'], /leaves by "lo", which cannot be an ipvlan parent/],
      [['bad name'], /leaves by "bad name", which must be 1-15 characters/],
      [['-eth0'], /leaves by "-eth0", which starts with "-"/],
    ]
    for (const [devices, pattern] of cases) {
      const { driver, links, store } = await setup()
      links.defaults[4] = [route(devices)]
      await rejectsWith(
        driver.createNetwork(network(NET, { parent: 'auto' })),
        'invalid-parameter',
        /^option "parent": auto: /,
        pattern
      )
      assert.equal(store.writes, 0)
    }
  })

  test('a failed lookup is an error naming the option, the host and the command run', async () => {
    const { driver, links, store } = await setup()
    const command = 'ip -j -4 route show default'
    for (const [failure, kind, pattern] of [
      [
        new LinkError('failed', 'Error: ipv4 route table is unreadable', command),
        'internal',
        /^option "parent": auto: looking up the default route of this host \(HOST_ID node-a\) failed \("ip -j -4 route show default"\): Error: ipv4 route table is unreadable$/,
      ],
      [
        new LinkError(
          'timeout',
          '"ip -j -4 route show default" did not finish within 1234 ms and was killed (SIGKILL)',
          command
        ),
        'unavailable',
        /failed: "ip -j -4 route show default" did not finish within 1234 ms/,
      ],
    ] as const) {
      links.failNext('defaultRoutes', failure)
      await rejectsWith(driver.createNetwork(network(NET, { parent: 'auto' })), kind, pattern)
    }
    assert.equal(store.writes, 0)
    assert.deepEqual(driver.networks(), [])
  })

  test('the interface vanished between the lookup and its use: an error, and nothing is created in its place', async () => {
    const { driver, links, store } = await withDefault('eth0.5')
    await rejectsWith(
      driver.createNetwork(network(NET, { parent: 'auto' })),
      'invalid-parameter',
      /option "parent": interface "eth0\.5" does not exist on the host \(HOST_ID node-a\), and it is the interface of this host's default route/
    )
    assert.deepEqual(callsOf(links, 'addVlan'), [])
    assert.equal(store.writes, 0)
  })

  test('parsed options: auto and auto.VID are marked, the option kept as given; other parents carry no mark', () => {
    const parse = (parent: string) =>
      parseNetworkOptions({ generic: new Map([['parent', parent]]), internal: false })
    assert.deepEqual([parse('auto').parent, parse('auto').auto], ['auto', { vlanId: undefined }])
    assert.deepEqual([parse('auto.10').parent, parse('auto.10').auto], ['auto.10', { vlanId: 10 }])
    assert.deepEqual(parse('auto.4094').auto, { vlanId: 4094 })
    assert.equal('auto' in parse('eth0'), false)
    assert.equal('auto' in parse('autobahn0'), false)
    assert.equal(parse('auto').internal, false)
  })

  test('the options parse without a lookup (GwAllocCheck); a bad VID is refused there, naming the option', async () => {
    assert.deepEqual(gwAllocCheck(network(NET, { parent: 'auto' }).options), {
      skipIPv4: false,
      skipIPv6: false,
    })
    for (const bad of ['auto.0', 'auto.4095', 'auto.x', 'auto.', 'auto.10.20', 'auto.-1']) {
      const { driver, links } = await withDefault('eth0')
      await rejectsWith(
        driver.createNetwork(network(NET, { parent: bad })),
        'invalid-parameter',
        /^option "parent": "auto\.[^"]*": "[^"]*" is not a VLAN id \(expected auto, or auto\.VID with VID 1-4094, e\.g\. auto\.10\)$/
      )
      assert.throws(() => gwAllocCheck(network(NET, { parent: bad }).options), /option "parent"/)
      assert.deepEqual(callsOf(links, 'defaultRoutes'), [])
    }
  })
})

describe('-o parent=auto.VID: an 802.1Q sub-interface of the default route interface', () => {
  test('creates eth0.10 as eth0.10 is created today, records it, and deletes it with the network', async () => {
    const { driver, links, store } = await withDefault('eth0')
    await driver.createNetwork(network(NET, { parent: 'auto.10' }))
    const alias = ownerAlias(INSTANCE, 'parent', NET)
    assert.deepEqual(callsOf(links, 'addVlan'), [
      { name: 'eth0.10', master: 'eth0', vlanId: 10, alias },
    ])
    const [record] = driver.networks()
    assert.equal(record?.parent, 'eth0.10')
    assert.equal(record?.requestedParent, 'auto.10')
    assert.equal(record?.parentOrigin, 'vlan')
    assert.deepEqual(record?.vlan, { master: 'eth0', id: 10 })
    assert.deepEqual(store.networks.get(NET), record)
    await driver.deleteNetwork(NET)
    assert.deepEqual(linkNames(links), ['eth0', 'eth1'])
  })

  test('an existing sub-interface that is not ours is used as is and kept', async () => {
    const { driver, links } = await withDefault('eth1', ['eth0', 'eth1', 'eth1.20'])
    await driver.createNetwork(network(NET, { parent: 'auto.20' }))
    assert.equal(driver.networks()[0]?.parent, 'eth1.20')
    assert.equal(driver.networks()[0]?.parentOrigin, 'existing')
    await driver.deleteNetwork(NET)
    assert.ok(links.links.has('eth1.20'))
  })

  test('a default route interface that is itself name.VID gets its own sub-interface (master read from the route, not the name)', async () => {
    const { driver, links } = await withDefault('eth0.5', ['eth0', 'eth0.5'])
    await driver.createNetwork(network(NET, { parent: 'auto.7' }))
    assert.deepEqual(
      (callsOf(links, 'addVlan') as { name: string; master: string }[]).map((call) => [
        call.name,
        call.master,
      ]),
      [['eth0.5.7', 'eth0.5']]
    )
    assert.deepEqual(driver.networks()[0]?.vlan, { master: 'eth0.5', id: 7 })
  })

  test('a combined name over 15 bytes is refused naming the option, the name, the host and the limit; nothing changes', async () => {
    const { driver, links, store } = await withDefault('enp0s31f6u2c3', ['enp0s31f6u2c3'])
    const error = await rejectsWith(
      driver.createNetwork(network(NET, { parent: 'auto.100' })),
      'invalid-parameter'
    )
    assert.equal(
      error.message,
      'option "parent": auto.100: "enp0s31f6u2c3.100", VLAN 100 of the default route\'s interface "enp0s31f6u2c3" on this host (HOST_ID node-a), is 17 bytes long (at most 15); create that sub-interface under a shorter name and give it with -o parent=NAME'
    )
    assert.deepEqual(callsOf(links, 'addVlan'), [])
    assert.equal(store.writes, 0)
  })

  test('a master the kernel does not know when the sub-interface is made: the error names the host', async () => {
    const { driver, store } = await withDefault('eth5')
    await rejectsWith(
      driver.createNetwork(network(NET, { parent: 'auto.10' })),
      'not-found',
      /option "parent": cannot create "eth5\.10": its master interface "eth5" does not exist on the host \(HOST_ID node-a\)/
    )
    assert.equal(store.writes, 0)
  })
})

describe('-o parent=auto is resolved once: later work uses the recorded name', () => {
  test('a restarted driver serves join and delete on the recorded parent, without a lookup, after the default route moved', async () => {
    const store = new MemoryStore(INSTANCE)
    const first = await setup(['eth0', 'eth1'], store)
    const links = first.links
    links.defaults[4] = [route(['eth0'])]
    await first.driver.createNetwork(network(NET, { parent: 'auto.10' }))
    await first.driver.createEndpoint(endpoint(NET, EP))
    await first.driver.settled()
    links.links.delete(endpointLinkName(EP))

    links.defaults[4] = [route(['eth1'])]
    const lookups = callsOf(links, 'defaultRoutes').length
    const second = await IpvlanDriver.open({ hostId: HOST, links, store, log: silentLogger })
    await second.join(NET, EP)
    assert.equal(links.links.get(endpointLinkName(EP))?.parent, 'eth0.10')
    // Docker repeating the CreateNetwork is the same network, not a new lookup or a conflict.
    await second.createNetwork(network(NET, { parent: 'auto.10' }))
    await rejectsWith(
      second.createNetwork(network(NET, { parent: 'eth1.10' })),
      'conflict',
      /already exists with other options/
    )
    assert.equal(callsOf(links, 'defaultRoutes').length, lookups)
    await second.deleteEndpoint(NET, EP)
    await second.deleteNetwork(NET)
    await second.settled()
    assert.deepEqual(linkNames(links), ['eth0', 'eth1'])
  })

  test('after a reboot (links gone) the parent is made again from the record, not from the new default route', async () => {
    const store = new MemoryStore(INSTANCE)
    const first = await setup(['eth0', 'eth1'], store)
    first.links.defaults[4] = [route(['eth0'])]
    await first.driver.createNetwork(network(NET, { parent: 'auto.10' }))
    await first.driver.createEndpoint(endpoint(NET, EP))
    const rebooted = new FakeLinkLayer(['eth0', 'eth1'])
    rebooted.defaults[4] = [route(['eth1'])]
    const second = await IpvlanDriver.open({
      hostId: HOST,
      links: rebooted,
      store,
      log: silentLogger,
    })
    await second.join(NET, EP)
    assert.deepEqual(linkNames(rebooted), ['eth0', 'eth0.10', 'eth1', endpointLinkName(EP)])
    assert.deepEqual(callsOf(rebooted, 'defaultRoutes'), [])
  })

  test('one network per parent: auto resolving to a parent in use is refused naming it; shared_parent on both is accepted', async () => {
    const { driver, links } = await withDefault('eth1')
    await driver.createNetwork(network(NET, { parent: 'eth1' }))
    await rejectsWith(
      driver.createNetwork(network(NET2, { parent: 'auto' }, { ipv4: [{ pool: '10.9.0.0/24' }] })),
      'conflict',
      /option "parent": network [0-9a-f]{12} is already using parent interface "eth1"/
    )
    const third = id('third network')
    const fourth = id('fourth network')
    links.defaults[4] = [route(['eth0'])]
    await driver.createNetwork(network(third, { parent: 'eth0', shared_parent: 'true' }))
    await driver.createNetwork(
      network(
        fourth,
        { parent: 'auto', shared_parent: 'true' },
        { ipv4: [{ pool: '10.9.0.0/24' }] }
      )
    )
    assert.equal(driver.networks().find((n) => n.id === fourth)?.parent, 'eth0')
  })

  test('host access is made on the resolved parent', async () => {
    const { driver, links } = await withDefault('eth1')
    await driver.createNetwork(
      network(
        NET,
        { parent: 'auto', host_address: '192.168.10.2' },
        {
          ipv4: [
            {
              pool: '192.168.10.0/24',
              gateway: '192.168.10.1/24',
              auxAddresses: ['192.168.10.2/24'],
            },
          ],
        }
      )
    )
    assert.equal(links.links.get(hostLinkName(NET))?.parent, 'eth1')
  })

  test('the file store keeps the resolved name and the option as given', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ipvlan-lan-auto-'))
    try {
      const links = new FakeLinkLayer(['eth0'])
      links.defaults[4] = [route(['eth0'])]
      const store = new JsonFileStore(dir, silentLogger)
      const driver = await IpvlanDriver.open({ hostId: HOST, links, store, log: silentLogger })
      await driver.createNetwork(network(NET, { parent: 'auto.10' }))
      const reread = await new JsonFileStore(dir, silentLogger).load()
      assert.equal(reread.networks[0]?.parent, 'eth0.10')
      assert.equal(reread.networks[0]?.requestedParent, 'auto.10')
      assert.deepEqual(reread.networks, JSON.parse(JSON.stringify(driver.networks())))
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
