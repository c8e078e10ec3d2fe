import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { IpvlanDriver } from '../../src/driver/driver.ts'
import {
  dummyParentName,
  endpointLinkName,
  ownerAlias,
  probeLinkName,
} from '../../src/driver/naming.ts'
import type { IpvlanSpec } from '../../src/driver/ports/link-layer.ts'
import { LinkError } from '../../src/driver/ports/link-layer.ts'
import { silentLogger } from '../../src/log.ts'
import { FakeLinkLayer } from '../fakes/fake-link-layer.ts'
import { id } from '../fakes/ids.ts'
import { MemoryStore } from '../fakes/memory-store.ts'
import {
  INSTANCE,
  NET,
  NET2,
  EP,
  EP2,
  short,
  setup,
  network,
  endpoint,
  rejectsWith,
  linkNames,
  callsOf,
  plant,
} from '../helpers/driver-fixtures.ts'

describe('IpvlanDriver.createNetwork', () => {
  test('an existing parent is used as is, recorded as existing, and kept on deleteNetwork', async () => {
    const { driver, links, store } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth0' }))
    const [record] = driver.networks()
    assert.equal(record?.parent, 'eth0')
    assert.equal(record?.parentOrigin, 'existing')
    assert.equal(record?.vlan, undefined)
    assert.deepEqual(record?.ipv4, [{ pool: '192.168.10.0/24', gateway: '192.168.10.1' }])
    assert.deepEqual(store.networks.get(NET), record)
    assert.deepEqual(callsOf(links, 'addVlan'), [])
    assert.deepEqual(linkNames(links), ['eth0', 'eth1'])

    await driver.deleteNetwork(NET)
    assert.deepEqual(linkNames(links), ['eth0', 'eth1'])
    assert.deepEqual(driver.networks(), [])
    assert.equal(store.networks.size, 0)
  })

  test('a missing eth0.10 is created as an 802.1Q link with our alias and deleted with the network', async () => {
    const { driver, links } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth0.10' }))
    const alias = ownerAlias(INSTANCE, 'parent', NET)
    assert.deepEqual(callsOf(links, 'addVlan'), [
      { name: 'eth0.10', master: 'eth0', vlanId: 10, alias },
    ])
    const parent = links.links.get('eth0.10')
    assert.equal(parent?.kind, 'vlan')
    assert.equal(parent?.alias, alias)
    assert.equal(parent?.parent, 'eth0')
    const [record] = driver.networks()
    assert.equal(record?.parentOrigin, 'vlan')
    assert.deepEqual(record?.vlan, { master: 'eth0', id: 10 })

    await driver.deleteNetwork(NET)
    assert.equal(links.links.has('eth0.10'), false)
    assert.equal(links.links.has('eth0'), true)
  })

  test('an 802.1Q parent whose master does not exist is refused, naming the master', async () => {
    const { driver, links, store } = await setup()
    await rejectsWith(
      driver.createNetwork(network(NET, { parent: 'eth9.10' })),
      'not-found',
      /option "parent"/,
      /its master interface "eth9" does not exist on the host/
    )
    assert.deepEqual(linkNames(links), ['eth0', 'eth1'])
    assert.deepEqual(driver.networks(), [])
    assert.equal(store.writes, 0)
  })

  test('a missing parent that is not name.VLAN is refused, saying what was expected', async () => {
    const { driver } = await setup()
    await rejectsWith(
      driver.createNetwork(network(NET, { parent: 'eth7' })),
      'invalid-parameter',
      /option "parent": interface "eth7" does not exist on the host/,
      /e\.g\. eth0\.10/
    )
    await rejectsWith(
      driver.createNetwork(network(NET, { parent: 'eth0.4095' })),
      'invalid-parameter',
      /out of range \(expected 1-4094\)/
    )
  })

  test('no parent creates the dummy di-<12> with our alias, and the network is internal', async () => {
    const { driver, links } = await setup()
    await driver.createNetwork(network(NET, {}))
    const name = dummyParentName(NET)
    assert.equal(name, `di-${short(NET)}`)
    const dummy = links.links.get(name)
    assert.equal(dummy?.kind, 'dummy')
    assert.equal(dummy?.alias, ownerAlias(INSTANCE, 'parent', NET))
    const [record] = driver.networks()
    assert.equal(record?.parent, name)
    assert.equal(record?.parentOrigin, 'dummy')
    assert.equal(record?.internal, true)

    await driver.deleteNetwork(NET)
    assert.equal(links.links.has(name), false)
  })

  test('one network per parent: a second network on the same parent names the first and the parent', async () => {
    const { driver, links } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth0.10' }))
    await rejectsWith(
      driver.createNetwork(network(NET2, { parent: 'eth0.10', ipvlan_mode: 'l3' })),
      'conflict',
      new RegExp(`network ${short(NET)} is already using parent interface "eth0\\.10"`)
    )
    await driver.createNetwork(network(NET2, { parent: 'eth0' }))
    await rejectsWith(
      driver.createNetwork(network(id('third'), { parent: 'eth0' })),
      'conflict',
      new RegExp(`network ${short(NET2)} is already using parent interface "eth0"`)
    )
    assert.equal(driver.networks().length, 2)
    assert.equal(links.links.get('eth0.10')?.alias, ownerAlias(INSTANCE, 'parent', NET))
  })

  test('two concurrent creates on the same parent: exactly one wins', async () => {
    const { driver } = await setup()
    const results = await Promise.allSettled([
      driver.createNetwork(network(NET, { parent: 'eth0.20' })),
      driver.createNetwork(network(NET2, { parent: 'eth0.20' })),
    ])
    assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected'])
    assert.equal(driver.networks().length, 1)
  })

  test('re-creating a network with the same options succeeds and changes nothing', async () => {
    const { driver, links, store } = await setup()
    const input = network(NET, { parent: 'eth0.10', ipvlan_mode: 'l3', ipvlan_flag: 'private' })
    await driver.createNetwork(input)
    const writes = store.writes
    const calls = links.calls.length
    await driver.createNetwork(input)
    assert.equal(store.writes, writes)
    assert.equal(links.calls.length, calls)
    assert.equal(driver.networks().length, 1)
  })

  test('re-creating a network with other options is a conflict', async () => {
    const { driver } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth0' }))
    await rejectsWith(
      driver.createNetwork(network(NET, { parent: 'eth0', ipvlan_mode: 'l3' })),
      'conflict',
      new RegExp(`network ${short(NET)} already exists with other options`)
    )
  })

  test('a record without the IPAM address space (older plugin) still matches the same CreateNetwork with it; the space is recorded when given', async () => {
    const store = new MemoryStore(INSTANCE)
    const first = await setup(['eth0'], store)
    await first.driver.createNetwork(network(NET, { parent: 'eth0' }))
    assert.deepEqual(store.networks.get(NET)?.ipv4, [
      { pool: '192.168.10.0/24', gateway: '192.168.10.1' },
    ])
    const again = await setup(['eth0'], store)
    const withSpace = { pool: '192.168.10.0/24', gateway: '192.168.10.1/24', addressSpace: 'lan' }
    await again.driver.createNetwork(network(NET, { parent: 'eth0' }, { ipv4: [withSpace] }))
    await rejectsWith(
      again.driver.createNetwork(
        network(NET, { parent: 'eth0' }, { ipv4: [{ ...withSpace, pool: '10.1.0.0/16' }] })
      ),
      'conflict',
      /already exists with other options/
    )
    const fresh = await setup(['eth0'])
    await fresh.driver.createNetwork(network(NET2, { parent: 'eth0' }, { ipv4: [withSpace] }))
    assert.deepEqual(fresh.store.networks.get(NET2)?.ipv4, [
      { pool: '192.168.10.0/24', gateway: '192.168.10.1', addressSpace: 'lan' },
    ])
  })

  test('--aux-address values are recorded per pool as plain IPs (a switch to etcd copies them); a record without them (older plugin) still matches', async () => {
    const store = new MemoryStore(INSTANCE)
    const older = await setup(['eth0'], store)
    await older.driver.createNetwork(
      network(
        NET,
        { parent: 'eth0' },
        { ipv6: [{ pool: '2001:db8::/64', addressSpace: 'lan' }], enableIPv6: true }
      )
    )
    const withAux = network(
      NET,
      { parent: 'eth0' },
      {
        ipv4: [
          {
            pool: '192.168.10.0/24',
            gateway: '192.168.10.1/24',
            addressSpace: 'lan',
            auxAddresses: ['192.168.10.2/24', '192.168.10.3', '<nil>', '2001:db8::9/64'],
          },
        ],
        ipv6: [{ pool: '2001:db8::/64', addressSpace: 'lan', auxAddresses: ['2001:db8::2/64'] }],
        enableIPv6: true,
      }
    )
    const again = await setup(['eth0'], store)
    await again.driver.createNetwork(withAux)
    assert.deepEqual(store.networks.get(NET)?.ipv4, [
      { pool: '192.168.10.0/24', gateway: '192.168.10.1' },
    ])
    const fresh = await setup(['eth0'])
    await fresh.driver.createNetwork({ ...withAux, networkId: NET2 })
    const record = fresh.store.networks.get(NET2)
    assert.deepEqual(record?.ipv4, [
      {
        pool: '192.168.10.0/24',
        gateway: '192.168.10.1',
        addressSpace: 'lan',
        auxAddresses: ['192.168.10.2', '192.168.10.3'],
      },
    ])
    assert.deepEqual(record?.ipv6, [
      { pool: '2001:db8::/64', addressSpace: 'lan', auxAddresses: ['2001:db8::2'] },
    ])
  })

  test('re-creating a network with other subnets, MTU or --internal is a conflict', async () => {
    const { driver } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth0' }))
    const variants = [
      network(NET, { parent: 'eth0' }, { ipv4: [{ pool: '10.1.0.0/16' }] }),
      network(NET, { parent: 'eth0', mtu: '1400' }),
      network(NET, { parent: 'eth0' }, { internal: true }),
    ]
    for (const variant of variants) {
      await rejectsWith(
        driver.createNetwork(variant),
        'conflict',
        /already exists with other options/
      )
    }
  })

  test('a kernel without ipvlan gives a plain message and rolls back the 802.1Q parent it made', async () => {
    const { driver, links, store } = await setup()
    links.supports.ipvlan = false
    const error = await rejectsWith(
      driver.createNetwork(network(NET, { parent: 'eth0.10' })),
      'unsupported',
      /the host kernel has no ipvlan support/,
      /modprobe ipvlan/
    )
    // The plain explanation leads; ip's own words follow, in case the cause is another.
    assert.match(error.message, /^the host kernel has no ipvlan support/)
    assert.match(error.message, /\(ip said: .+\)$/)
    assert.equal(callsOf(links, 'addVlan').length, 1)
    assert.deepEqual(linkNames(links), ['eth0', 'eth1'])
    assert.deepEqual(driver.networks(), [])
    assert.equal(store.networks.size, 0)
  })

  test('a kernel without ipvlan also rolls back the dummy parent', async () => {
    const { driver, links } = await setup()
    links.supports.ipvlan = false
    await rejectsWith(driver.createNetwork(network(NET, {})), 'unsupported', /no ipvlan support/)
    assert.deepEqual(linkNames(links), ['eth0', 'eth1'])
  })

  test('a kernel without 802.1Q support says so', async () => {
    const { driver, links } = await setup()
    links.supports.vlan = false
    await rejectsWith(
      driver.createNetwork(network(NET, { parent: 'eth0.10' })),
      'unsupported',
      /no 802\.1Q VLAN support/,
      /"eth0\.10"/
    )
    assert.deepEqual(driver.networks(), [])
  })

  test('a kernel without dummy links says so', async () => {
    const { driver, links } = await setup()
    links.supports.dummy = false
    await rejectsWith(
      driver.createNetwork(network(NET, {})),
      'unsupported',
      /no dummy link support/
    )
  })

  test('a failed store write rolls back the parent it created and leaves memory unchanged', async () => {
    const { driver, links, store } = await setup()
    store.failWrites = new Error('ENOSPC: no space left on device')
    await rejectsWith(
      driver.createNetwork(network(NET, { parent: 'eth0.10' })),
      'unavailable',
      /saving network: the state directory could not be written: ENOSPC/
    )
    assert.deepEqual(linkNames(links), ['eth0', 'eth1'])
    assert.deepEqual(driver.networks(), [])
    assert.equal(store.networks.size, 0)

    store.failWrites = undefined
    await driver.createNetwork(network(NET, { parent: 'eth0.10' }))
    assert.equal(driver.networks().length, 1)
  })

  test('a failed store write does not delete an existing operator parent', async () => {
    const { driver, links, store } = await setup()
    store.failWrites = new Error('EROFS')
    await rejectsWith(driver.createNetwork(network(NET, { parent: 'eth0' })), 'unavailable')
    assert.deepEqual(linkNames(links), ['eth0', 'eth1'])
    assert.deepEqual(callsOf(links, 'remove'), [])
  })

  test('the probe uses the network mode, flag and mtu on the parent and leaves no link', async () => {
    const { driver, links } = await setup()
    await driver.createNetwork(
      network(NET, { parent: 'eth0', ipvlan_mode: 'l3s', ipvlan_flag: 'vepa', mtu: '1400' })
    )
    const expected: IpvlanSpec = {
      name: probeLinkName(INSTANCE, NET),
      parent: 'eth0',
      mode: 'l3s',
      flag: 'vepa',
      mtu: 1400,
      alias: ownerAlias(INSTANCE, 'probe', NET),
    }
    assert.deepEqual(callsOf(links, 'probeIpvlan'), [expected])
    assert.deepEqual(linkNames(links), ['eth0', 'eth1'])
  })

  test('a probe link left by a crash is cleared and the probe retried', async () => {
    const { driver, links } = await setup()
    plant(links, probeLinkName(INSTANCE, NET), 'ipvlan', ownerAlias(INSTANCE, 'probe', NET))
    await driver.createNetwork(network(NET, { parent: 'eth0' }))
    assert.equal(callsOf(links, 'probeIpvlan').length, 2)
    assert.deepEqual(linkNames(links), ['eth0', 'eth1'])
    assert.equal(driver.networks().length, 1)
  })

  test('an empty IPv4 pool is refused unless IPv4 is disabled', async () => {
    const { driver } = await setup()
    await rejectsWith(
      driver.createNetwork(network(NET, { parent: 'eth0' }, { ipv4: [] })),
      'invalid-parameter',
      /IPv4Data: the ipv4 pool is empty/
    )
    await rejectsWith(
      driver.createNetwork(network(NET, { parent: 'eth0' }, { ipv4: [{ pool: '0.0.0.0/0' }] })),
      'invalid-parameter',
      /IPv4Data/
    )
    const v6only = network(NET, { parent: 'eth0' }, { ipv4: [], enableIPv6: true })
    v6only.options.enableIPv4 = false
    v6only.ipv6 = [{ pool: '2001:db8::/64', gateway: '2001:db8::1/64' }]
    await driver.createNetwork(v6only)
    assert.deepEqual(driver.networks()[0]?.ipv6, [
      { pool: '2001:db8::/64', gateway: '2001:db8::1' },
    ])
  })

  test('--ipv6 without an IPv6 subnet is refused', async () => {
    const { driver } = await setup()
    await rejectsWith(
      driver.createNetwork(network(NET, { parent: 'eth0' }, { enableIPv6: true })),
      'invalid-parameter',
      /IPv6Data: the ipv6 pool is empty/
    )
  })

  test('invalid options are refused before anything touches the kernel', async () => {
    const { driver, links } = await setup()
    await rejectsWith(
      driver.createNetwork(network(NET, { parent: 'eth0', ipvlan_mode: 'l4' })),
      'invalid-parameter',
      /ipvlan_mode/
    )
    await rejectsWith(
      driver.createNetwork(network(NET, { parent: 'lo' })),
      'invalid-parameter',
      /loopback/
    )
    assert.deepEqual(links.calls, [])
  })
})

describe('IpvlanDriver parent adoption', () => {
  test('a parent with our alias and no owner is adopted and deleted with the network', async () => {
    const { driver, links } = await setup()
    plant(links, 'eth0.10', 'vlan', ownerAlias(INSTANCE, 'parent', id('long gone network')), false)
    await driver.createNetwork(network(NET, { parent: 'eth0.10' }))
    assert.deepEqual(callsOf(links, 'addVlan'), [])
    assert.deepEqual(callsOf(links, 'setUp'), ['eth0.10'])
    assert.equal(links.links.get('eth0.10')?.up, true)
    const [record] = driver.networks()
    assert.equal(record?.parentOrigin, 'vlan')
    assert.deepEqual(record?.vlan, { master: 'eth0', id: 10 })
    await driver.deleteNetwork(NET)
    assert.equal(links.links.has('eth0.10'), false)
  })

  test('a dummy parent with our alias is adopted for a network without parent', async () => {
    const { driver, links } = await setup()
    plant(links, dummyParentName(NET), 'dummy', ownerAlias(INSTANCE, 'parent', NET))
    await driver.createNetwork(network(NET, {}))
    assert.deepEqual(callsOf(links, 'addDummy'), [])
    assert.equal(driver.networks()[0]?.parentOrigin, 'dummy')
    await driver.deleteNetwork(NET)
    assert.equal(links.links.has(dummyParentName(NET)), false)
  })

  test('a link named like our dummy but not ours is a conflict', async () => {
    const { driver, links } = await setup()
    plant(links, dummyParentName(NET), 'dummy')
    await rejectsWith(
      driver.createNetwork(network(NET, {})),
      'conflict',
      new RegExp(`a link named "${dummyParentName(NET)}" already exists and is not ours`)
    )
    assert.equal(links.links.has(dummyParentName(NET)), true)
  })

  test("a parent carrying another instance's alias is the operator's: used, never deleted", async () => {
    const { driver, links } = await setup()
    plant(links, 'eth0.10', 'vlan', ownerAlias('0badc0de', 'parent', NET))
    await driver.createNetwork(network(NET, { parent: 'eth0.10' }))
    assert.equal(driver.networks()[0]?.parentOrigin, 'existing')
    await driver.deleteNetwork(NET)
    assert.equal(links.links.has('eth0.10'), true)
  })
})

describe('IpvlanDriver.gwAllocCheck and allocateNetwork', () => {
  const options = (generic: Record<string, string>, internal = false) => ({
    generic: new Map(Object.entries(generic)),
    internal,
  })

  test('l2 with a parent reserves gateways', async () => {
    const { driver } = await setup()
    assert.deepEqual(driver.gwAllocCheck(options({ parent: 'eth0' })), {
      skipIPv4: false,
      skipIPv6: false,
    })
  })

  for (const [what, generic, internal] of [
    ['l3', { parent: 'eth0', ipvlan_mode: 'l3' }, false],
    ['l3s', { parent: 'eth0', ipvlan_mode: 'l3s' }, false],
    ['internal l2', { parent: 'eth0' }, true],
    ['no-parent', {}, false],
  ] as const) {
    test(`${what} networks skip the gateway reservation`, async () => {
      const { driver } = await setup()
      assert.deepEqual(driver.gwAllocCheck(options(generic, internal)), {
        skipIPv4: true,
        skipIPv6: true,
      })
    })
  }

  test('gwAllocCheck refuses invalid options', async () => {
    const { driver } = await setup()
    assert.throws(() => driver.gwAllocCheck(options({ ipvlan_flag: 'none' })), /ipvlan_flag/)
  })

  test('allocateNetwork validates and passes nothing on', async () => {
    const { driver } = await setup()
    assert.deepEqual(driver.allocateNetwork(options({ parent: 'eth0' })), {})
    assert.throws(() => driver.allocateNetwork(options({ typo: 'x' })), /unknown option "typo"/)
  })

  test('capabilities are local scope, global connectivity, gateway check supported', async () => {
    const { driver } = await setup()
    assert.deepEqual(driver.capabilities(), {
      scope: 'local',
      connectivityScope: 'global',
      gwAllocChecker: true,
    })
  })
})

describe('IpvlanDriver.createEndpoint', () => {
  test('records the endpoint and its addresses, answers, and then starts its link', async () => {
    const { driver, links, store } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth0' }))
    const before = links.calls.length
    const recordedFirst: boolean[] = []
    const addIpvlan = links.addIpvlan.bind(links)
    links.addIpvlan = async (spec) => {
      recordedFirst.push(store.endpoints.has(EP))
      return addIpvlan(spec)
    }
    await driver.createEndpoint(endpoint(NET, EP, { addressIPv6: '2001:db8::5/64' }))
    await driver.settled()
    assert.deepEqual(recordedFirst, [true], 'the record is written before the link is started')
    assert.deepEqual(
      links.calls.slice(before).map((call) => call.method),
      ['addIpvlan'],
      'the link is started right after'
    )
    assert.equal(links.links.get(endpointLinkName(EP))?.parent, 'eth0')
    const expected = {
      id: EP,
      networkId: NET,
      ifname: endpointLinkName(EP),
      ipv4: '192.168.10.5/24',
      ipv6: '2001:db8::5/64',
    }
    assert.deepEqual(driver.endpoints(), [expected])
    assert.deepEqual(store.endpoints.get(EP), expected)
    assert.deepEqual(driver.endpointOperInfo(NET, EP), { 'ipvlan-lan.link': endpointLinkName(EP) })
    assert.deepEqual(driver.endpointOperInfo(NET2, EP), {})
  })

  test('answers without waiting for its link: a hung ip does not hold CreateEndpoint', async () => {
    const { driver, links } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth0' }))
    links.failNext('addIpvlan', 'hang')
    const answered = await Promise.race([
      driver.createEndpoint(endpoint(NET, EP)).then(() => 'answered'),
      new Promise((resolve) => setTimeout(() => resolve('held'), 500)),
    ])
    assert.equal(answered, 'answered')
    assert.equal(driver.endpoints().length, 1)
  })

  test('a MAC address is refused with a message saying ipvlan cannot take one', async () => {
    const { driver } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth0' }))
    for (const input of [
      endpoint(NET, EP, { macAddress: '02:42:c0:a8:0a:05' }),
      endpoint(NET, EP, { optionsMacAddress: true }),
    ]) {
      await rejectsWith(
        driver.createEndpoint(input),
        'invalid-parameter',
        /Interface\.MacAddress/,
        /ipvlan links cannot take a MAC address/,
        /--mac-address is not supported/
      )
    }
    assert.deepEqual(driver.endpoints(), [])
  })

  for (const [field, extra, pattern] of [
    [
      'Address',
      { address: '192.168.10.5' },
      /Interface\.Address: "192\.168\.10\.5" is not an IPv4 address in CIDR form/,
    ],
    ['Address', { address: '2001:db8::5/64' }, /Interface\.Address: .* is not an IPv4/],
    [
      'AddressIPv6',
      { addressIPv6: '192.168.10.5/24' },
      /Interface\.AddressIPv6: .* is not an IPv6 address in CIDR form/,
    ],
    ['AddressIPv6', { addressIPv6: '2001:db8::5/129' }, /Interface\.AddressIPv6/],
  ] as const) {
    test(`a bad ${field} ${JSON.stringify(Object.values(extra)[0])} is refused, naming the field`, async () => {
      const { driver } = await setup()
      await driver.createNetwork(network(NET, { parent: 'eth0' }))
      await rejectsWith(
        driver.createEndpoint(endpoint(NET, EP, extra)),
        'invalid-parameter',
        pattern
      )
    })
  }

  test('an endpoint on an unknown network is not found', async () => {
    const { driver } = await setup()
    await rejectsWith(
      driver.createEndpoint(endpoint(NET, EP)),
      'not-found',
      new RegExp(`network ${short(NET)} not found`)
    )
  })

  test('creating the same endpoint twice succeeds once recorded', async () => {
    const { driver, store } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth0' }))
    await driver.createEndpoint(endpoint(NET, EP))
    const writes = store.writes
    await driver.createEndpoint(endpoint(NET, EP))
    assert.equal(store.writes, writes)
    assert.equal(driver.endpoints().length, 1)
  })

  test('the same endpoint id with other addresses is a conflict', async () => {
    const { driver } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth0' }))
    await driver.createEndpoint(endpoint(NET, EP))
    await rejectsWith(
      driver.createEndpoint(endpoint(NET, EP, { address: '192.168.10.6/24' })),
      'conflict',
      new RegExp(`endpoint ${short(EP)} already exists with other addresses`)
    )
  })

  test('a failed store write leaves no endpoint in memory', async () => {
    const { driver, store } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth0' }))
    store.failWrites = new Error('EIO')
    await rejectsWith(
      driver.createEndpoint(endpoint(NET, EP)),
      'unavailable',
      /saving endpoint: the state directory could not be written: EIO/
    )
    assert.deepEqual(driver.endpoints(), [])
  })

  test("answers once the record is in place, before its fsyncs; Join waits for them, other endpoints' Joins do not", async () => {
    const { driver, store } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth0' }))
    let makeDurable = (): void => {}
    store.durability = (endpointId) =>
      endpointId === EP ? new Promise((resolve) => (makeDurable = resolve)) : Promise.resolve()
    await driver.createEndpoint(endpoint(NET, EP))
    assert.ok(store.endpoints.has(EP), 'CreateEndpoint answered with the record in place')
    await driver.createEndpoint(endpoint(NET, EP2, { address: '192.168.10.6/24' }))
    let joined = false
    const join = driver.join(NET, EP).then((result) => ((joined = true), result))
    await driver.join(NET, EP2)
    await new Promise((resolve) => setTimeout(resolve, 50))
    assert.equal(joined, false, 'Join answered before the record was durable')
    makeDurable()
    const result = await join
    assert.equal(result.srcName, endpointLinkName(EP))
  })

  test('a record whose fsync fails: Join fails naming the state directory, and the endpoint is deleted cleanly', async () => {
    const { driver, store, links } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth0' }))
    store.durability = () => Promise.reject(new Error('EIO: i/o error, fsync'))
    await driver.createEndpoint(endpoint(NET, EP))
    await rejectsWith(
      driver.join(NET, EP),
      'unavailable',
      /saving endpoint: the state directory could not be written: EIO: i\/o error, fsync/
    )
    await driver.deleteEndpoint(NET, EP)
    await driver.settled()
    assert.deepEqual(driver.endpoints(), [])
    assert.equal(store.endpoints.has(EP), false)
    assert.equal(links.links.has(endpointLinkName(EP)), false)
  })
})

describe('IpvlanDriver.join', () => {
  test('creates ivl<12> on the parent with the network mode, flag, mtu and our alias', async () => {
    const { driver, links } = await setup()
    await driver.createNetwork(
      network(NET, { parent: 'eth0', ipvlan_mode: 'l3', ipvlan_flag: 'private', mtu: '9000' })
    )
    await driver.createEndpoint(endpoint(NET, EP))
    const result = await driver.join(NET, EP)
    const name = endpointLinkName(EP)
    assert.equal(name, `ivl${short(EP)}`)
    const expected: IpvlanSpec = {
      name,
      parent: 'eth0',
      mode: 'l3',
      flag: 'private',
      mtu: 9000,
      alias: ownerAlias(INSTANCE, 'ep', EP),
    }
    assert.deepEqual(callsOf(links, 'addIpvlan'), [expected])
    const link = links.links.get(name)
    assert.equal(link?.kind, 'ipvlan')
    assert.equal(link?.parent, 'eth0')
    assert.equal(link?.alias, ownerAlias(INSTANCE, 'ep', EP))
    assert.deepEqual(result, {
      srcName: name,
      dstPrefix: 'eth',
      staticRoutes: [{ destination: '0.0.0.0/0', routeType: 1 }],
      disableGatewayService: true,
    })
  })

  test('an l2 join returns the gateway of the endpoint subnet as a plain IP', async () => {
    const { driver } = await setup()
    await driver.createNetwork(
      network(
        NET,
        { parent: 'eth0.10' },
        {
          ipv4: [
            { pool: '10.0.0.0/8', gateway: '10.0.0.1/8' },
            { pool: '192.168.10.0/24', gateway: '192.168.10.254/24' },
          ],
          ipv6: [{ pool: '2001:db8::/64', gateway: '2001:db8::1/64' }],
          enableIPv6: true,
        }
      )
    )
    await driver.createEndpoint(endpoint(NET, EP, { addressIPv6: '2001:db8::5/64' }))
    assert.deepEqual(await driver.join(NET, EP), {
      srcName: endpointLinkName(EP),
      dstPrefix: 'eth',
      gateway: '192.168.10.254',
      gatewayIPv6: '2001:db8::1',
      staticRoutes: [],
      disableGatewayService: true,
    })
  })

  test('a join on a network without parent creates the link on the dummy and returns no gateway', async () => {
    const { driver, links } = await setup()
    await driver.createNetwork(network(NET, {}))
    await driver.createEndpoint(endpoint(NET, EP))
    const result = await driver.join(NET, EP)
    assert.equal(links.links.get(endpointLinkName(EP))?.parent, dummyParentName(NET))
    assert.deepEqual(result.staticRoutes, [])
    assert.equal(result.gateway, undefined)
  })

  test('re-creates a missing 802.1Q parent that we created, then joins', async () => {
    const { driver, links } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth0.10' }))
    await driver.createEndpoint(endpoint(NET, EP))
    links.links.delete('eth0.10')
    await driver.join(NET, EP)
    assert.equal(callsOf(links, 'addVlan').length, 2)
    assert.equal(links.links.get('eth0.10')?.alias, ownerAlias(INSTANCE, 'parent', NET))
    assert.equal(links.links.get(endpointLinkName(EP))?.parent, 'eth0.10')
  })

  test('re-creates a missing dummy parent that we created, then joins', async () => {
    const { driver, links } = await setup()
    await driver.createNetwork(network(NET, {}))
    await driver.createEndpoint(endpoint(NET, EP))
    links.links.delete(dummyParentName(NET))
    await driver.join(NET, EP)
    assert.equal(links.links.get(dummyParentName(NET))?.kind, 'dummy')
    assert.equal(links.links.has(endpointLinkName(EP)), true)
  })

  test('a missing operator parent is an error naming it, and it is not re-created', async () => {
    const { driver, links } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth1' }))
    await driver.createEndpoint(endpoint(NET, EP))
    links.links.delete('eth1')
    await rejectsWith(
      driver.join(NET, EP),
      'not-found',
      /parent interface "eth1" does not exist on the host/
    )
    assert.deepEqual(callsOf(links, 'addVlan'), [])
    assert.deepEqual(callsOf(links, 'addDummy'), [])
    assert.equal(links.links.has(endpointLinkName(EP)), false)
  })

  test('a leftover link with the same name is replaced and the join succeeds', async () => {
    const { driver, links } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth0' }))
    await driver.createEndpoint(endpoint(NET, EP))
    plant(links, endpointLinkName(EP), 'ipvlan', ownerAlias(INSTANCE, 'ep', EP))
    await driver.join(NET, EP)
    assert.equal(callsOf(links, 'addIpvlan').length, 2)
    assert.deepEqual(callsOf(links, 'remove'), [endpointLinkName(EP)])
    assert.equal(links.links.get(endpointLinkName(EP))?.parent, 'eth0')
  })

  test("a link with the endpoint's name that is not ours is never deleted: the join fails naming it", async () => {
    const { driver, links } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth0' }))
    await driver.createEndpoint(endpoint(NET, EP))
    plant(links, endpointLinkName(EP), 'veth', undefined)
    await rejectsWith(
      driver.join(NET, EP),
      'conflict',
      new RegExp(
        `"${endpointLinkName(EP)}" already exists on the host and was not created by this plugin`
      )
    )
    assert.deepEqual(callsOf(links, 'remove'), [])
    assert.equal(links.links.get(endpointLinkName(EP))?.kind, 'veth')
  })

  test('a join for an unknown endpoint or network is not found', async () => {
    const { driver } = await setup()
    await rejectsWith(driver.join(NET, EP), 'not-found', new RegExp(`network ${short(NET)}`))
    await driver.createNetwork(network(NET, { parent: 'eth0' }))
    await rejectsWith(
      driver.join(NET, EP),
      'not-found',
      new RegExp(`endpoint ${short(EP)} not found on network ${short(NET)}`)
    )
    await driver.createNetwork(network(NET2, { parent: 'eth1' }))
    await driver.createEndpoint(endpoint(NET2, EP))
    await rejectsWith(driver.join(NET, EP), 'not-found')
  })

  test('leave does nothing: the link stays until DeleteEndpoint', async () => {
    const { driver, links } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth0' }))
    await driver.createEndpoint(endpoint(NET, EP))
    await driver.join(NET, EP)
    driver.leave()
    assert.equal(links.links.has(endpointLinkName(EP)), true)
  })
})

describe('IpvlanDriver.deleteEndpoint and deleteNetwork', () => {
  test('deleteEndpoint removes the link and the record, and a second delete succeeds', async () => {
    const { driver, links, store } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth0' }))
    await driver.createEndpoint(endpoint(NET, EP))
    await driver.join(NET, EP)
    await driver.deleteEndpoint(NET, EP)
    assert.equal(links.links.has(endpointLinkName(EP)), false)
    assert.deepEqual(driver.endpoints(), [])
    assert.equal(store.endpoints.size, 0)
    await driver.deleteEndpoint(NET, EP)
  })

  test('deleteEndpoint of an endpoint that never joined succeeds', async () => {
    const { driver } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth0' }))
    await driver.createEndpoint(endpoint(NET, EP))
    await driver.deleteEndpoint(NET, EP)
    assert.deepEqual(driver.endpoints(), [])
  })

  test('deleteEndpoint of unknown ids succeeds', async () => {
    const { driver, links } = await setup()
    await driver.deleteEndpoint(id('nope'), id('nada'))
    assert.deepEqual(links.calls, [])
  })

  test('deleteNetwork removes remaining endpoint links, their records and the parent we made', async () => {
    const { driver, links, store } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth0.10' }))
    await driver.createEndpoint(endpoint(NET, EP))
    await driver.createEndpoint(endpoint(NET, EP2, { address: '192.168.10.6/24' }))
    await driver.join(NET, EP)
    await driver.join(NET, EP2)
    await driver.deleteNetwork(NET)
    assert.deepEqual(linkNames(links), ['eth0', 'eth1'])
    assert.deepEqual(driver.networks(), [])
    assert.deepEqual(driver.endpoints(), [])
    assert.equal(store.networks.size, 0)
    assert.equal(store.endpoints.size, 0)
  })

  test('deleteNetwork leaves other networks and their endpoints alone', async () => {
    const { driver, links } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth0.10' }))
    await driver.createNetwork(network(NET2, { parent: 'eth0.20' }))
    await driver.createEndpoint(endpoint(NET2, EP2))
    await driver.join(NET2, EP2)
    await driver.deleteNetwork(NET)
    assert.deepEqual(linkNames(links), ['eth0', 'eth0.20', 'eth1', endpointLinkName(EP2)].sort())
    assert.equal(driver.endpoints().length, 1)
  })

  test('deleteNetwork keeps a parent that was replaced by a link that is not ours', async () => {
    const { driver, links } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth0.10' }))
    links.links.delete('eth0.10')
    plant(links, 'eth0.10', 'vlan')
    await driver.deleteNetwork(NET)
    assert.equal(links.links.has('eth0.10'), true)
    assert.deepEqual(driver.networks(), [])
  })

  test('deleteNetwork of an unknown id succeeds', async () => {
    const { driver, links } = await setup()
    await driver.deleteNetwork(NET)
    assert.deepEqual(links.calls, [])
  })

  test('deleteNetwork of a network whose parent we made is already gone succeeds', async () => {
    const { driver, links } = await setup()
    await driver.createNetwork(network(NET, {}))
    links.links.delete(dummyParentName(NET))
    await driver.deleteNetwork(NET)
    assert.deepEqual(driver.networks(), [])
  })
})

describe('IpvlanDriver restart', () => {
  test('a second driver over the same store serves join and delete for earlier networks', async () => {
    const store = new MemoryStore(INSTANCE)
    const first = await setup(['eth0'], store)
    await first.driver.createNetwork(network(NET, { parent: 'eth0.10', ipvlan_mode: 'l2' }))
    await first.driver.createEndpoint(endpoint(NET, EP))

    const links = first.links
    const second = await IpvlanDriver.open({ hostId: 'node-a', links, store, log: silentLogger })
    assert.deepEqual(second.networks(), first.driver.networks())
    assert.deepEqual(second.endpoints(), first.driver.endpoints())
    const result = await second.join(NET, EP)
    assert.equal(result.gateway, '192.168.10.1')
    assert.equal(links.links.get(endpointLinkName(EP))?.parent, 'eth0.10')
    await second.deleteEndpoint(NET, EP)
    await second.deleteNetwork(NET)
    assert.deepEqual(linkNames(links), ['eth0'])
    assert.equal(store.networks.size, 0)
  })

  test('after a host reboot (links gone) the restarted driver re-creates its parent at join', async () => {
    const store = new MemoryStore(INSTANCE)
    const first = await setup(['eth0'], store)
    await first.driver.createNetwork(network(NET, { parent: 'eth0.10' }))
    await first.driver.createEndpoint(endpoint(NET, EP))
    const rebooted = new FakeLinkLayer(['eth0'])
    const second = await IpvlanDriver.open({
      hostId: 'node-a',
      links: rebooted,
      store,
      log: silentLogger,
    })
    await second.join(NET, EP)
    assert.deepEqual(linkNames(rebooted), ['eth0', 'eth0.10', endpointLinkName(EP)])
  })
})

describe('IpvlanDriver.reconcile', () => {
  test('removes our unowned links, keeps owned ones, never touches links without our alias', async () => {
    const { driver, links } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth0.10' }))
    await driver.createNetwork(network(NET2, { parent: 'eth1' }))
    await driver.createEndpoint(endpoint(NET, EP))
    await driver.join(NET, EP)
    await driver.createEndpoint(endpoint(NET2, EP2))
    await driver.settled()

    const orphanEp = endpointLinkName(id('crashed endpoint'))
    const orphanProbe = probeLinkName(INSTANCE, id('crashed network'))
    const orphanDummy = dummyParentName(id('deleted network'))
    const foreignInstance = endpointLinkName(id('other instance endpoint'))
    plant(links, orphanEp, 'ipvlan', ownerAlias(INSTANCE, 'ep', id('crashed endpoint')))
    plant(links, orphanProbe, 'ipvlan', ownerAlias(INSTANCE, 'probe', id('crashed network')))
    plant(links, orphanDummy, 'dummy', ownerAlias(INSTANCE, 'parent', id('deleted network')))
    plant(links, 'eth0.30', 'vlan', ownerAlias(INSTANCE, 'parent', id('deleted vlan network')))
    plant(links, foreignInstance, 'ipvlan', ownerAlias('0badc0de', 'ep', id('x')))
    plant(links, 'di-operator', 'dummy')
    plant(links, 'eth0.40', 'vlan', 'uplink to the core switch')
    plant(links, 'ivlhandmade', 'ipvlan', 'ipvlan-lan/garbage')

    const report = await driver.reconcile()
    assert.deepEqual(report.removed.sort(), [orphanEp, orphanProbe, orphanDummy, 'eth0.30'].sort())
    assert.deepEqual(
      linkNames(links),
      [
        'eth0',
        'eth1',
        'eth0.10',
        endpointLinkName(EP),
        // Not joined yet, but made right after CreateEndpoint, and owned by its record.
        endpointLinkName(EP2),
        foreignInstance,
        'di-operator',
        'eth0.40',
        'ivlhandmade',
      ].sort()
    )
    assert.equal(driver.networks().length, 2)
    assert.equal(driver.endpoints().length, 2)
  })

  test('sweeps a probe link stranded before its alias was set, by its name, and only ours', async () => {
    const { driver, links } = await setup()
    // Fixed names, not the code's template: "ivp" + instance id + 4 of the network id.
    plant(links, 'ivpfeedf00dabcd', 'ipvlan')
    plant(links, 'ivp0badc0deabcd', 'ipvlan') // another instance's probe, mid-creation
    plant(links, 'ivpfeedf00dab', 'ipvlan') // not a probe name (too short)
    plant(links, 'ivpfeedf00dbeef', 'dummy') // a probe is always an ipvlan link
    plant(links, 'ivpfeedf00d0000', 'ipvlan', 'operator note') // an alias that is not ours
    const report = await driver.reconcile()
    assert.deepEqual(report.removed, ['ivpfeedf00dabcd'])
    assert.deepEqual(
      linkNames(links),
      [
        'eth0',
        'eth1',
        'ivp0badc0deabcd',
        'ivpfeedf00dab',
        'ivpfeedf00dbeef',
        'ivpfeedf00d0000',
      ].sort()
    )
  })

  test('keeps a parent that a network adopted', async () => {
    const { driver, links } = await setup()
    plant(links, 'eth0.10', 'vlan', ownerAlias(INSTANCE, 'parent', id('gone')))
    await driver.createNetwork(network(NET, { parent: 'eth0.10' }))
    assert.deepEqual((await driver.reconcile()).removed, [])
    assert.equal(links.links.has('eth0.10'), true)
  })

  test(
    'never removes the parent of a live network, even one recorded as an existing parent',
    {},
    async () => {
      const { driver, links } = await setup()
      // Our 802.1Q parent, renamed by the operator: not name.VLAN, so it is not adopted but used
      // as an existing parent. It still carries our alias.
      plant(links, 'uplink', 'vlan', ownerAlias(INSTANCE, 'parent', id('gone')))
      await driver.createNetwork(network(NET, { parent: 'uplink' }))
      assert.equal(driver.networks()[0]?.parentOrigin, 'existing')
      await driver.reconcile()
      assert.equal(links.links.has('uplink'), true)
    }
  )

  test('a link that cannot be removed is logged and skipped, the others are still removed', async () => {
    const { driver, links } = await setup()
    const a = endpointLinkName(id('a'))
    const b = endpointLinkName(id('b'))
    plant(links, a, 'ipvlan', ownerAlias(INSTANCE, 'ep', id('a')))
    plant(links, b, 'ipvlan', ownerAlias(INSTANCE, 'ep', id('b')))
    links.failNext(
      'remove',
      new LinkError('failed', 'RTNETLINK answers: Operation not permitted', 'ip')
    )
    const report = await driver.reconcile()
    assert.equal(report.removed.length, 1)
    assert.equal(links.links.size, 3)
  })

  test('a failed listing is an error naming the operation', async () => {
    const { driver, links } = await setup()
    links.failNext('list', new LinkError('timeout', '"ip -j -d link show" did not finish', 'ip'))
    await rejectsWith(driver.reconcile(), 'unavailable', /listing links/)
  })

  test('a link left behind by a failed deleteNetwork is removed by the next reconcile', async () => {
    const { driver, links } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth0' }))
    await driver.createEndpoint(endpoint(NET, EP))
    await driver.join(NET, EP)
    links.failNext('remove', new LinkError('failed', 'RTNETLINK answers: Device busy', 'ip'))
    await driver.deleteNetwork(NET)
    assert.deepEqual(driver.networks(), [])
    assert.equal(links.links.has(endpointLinkName(EP)), true)
    assert.deepEqual((await driver.reconcile()).removed, [endpointLinkName(EP)])
  })
})

describe('IpvlanDriver link faults', () => {
  const timeout = () =>
    new LinkError('timeout', '"ip" did not finish within 10000 ms and was killed', 'ip')
  const failed = () => new LinkError('failed', 'RTNETLINK answers: Operation not permitted', 'ip')

  test('a timeout looking up the parent fails createNetwork and changes nothing', async () => {
    const { driver, links, store } = await setup()
    links.failNext('show', timeout())
    await rejectsWith(
      driver.createNetwork(network(NET, { parent: 'eth0.10' })),
      'unavailable',
      /looking up link "eth0\.10"/,
      /did not finish/
    )
    assert.deepEqual(linkNames(links), ['eth0', 'eth1'])
    assert.deepEqual(driver.networks(), [])
    assert.equal(store.writes, 0)
  })

  test('a failed 802.1Q creation fails createNetwork and changes nothing', async () => {
    const { driver, links, store } = await setup()
    links.failNext('addVlan', failed())
    await rejectsWith(
      driver.createNetwork(network(NET, { parent: 'eth0.10' })),
      'internal',
      /creating 802\.1Q sub-interface "eth0\.10" of "eth0" failed: RTNETLINK answers: Operation not permitted/
    )
    assert.deepEqual(linkNames(links), ['eth0', 'eth1'])
    assert.equal(store.writes, 0)
  })

  test('a probe timeout fails createNetwork and rolls back the parent', async () => {
    const { driver, links } = await setup()
    links.failNext('probeIpvlan', timeout())
    await rejectsWith(driver.createNetwork(network(NET, {})), 'unavailable', /creating ipvlan link/)
    assert.deepEqual(linkNames(links), ['eth0', 'eth1'])
    assert.deepEqual(driver.networks(), [])
  })

  test('a busy parent (macvlan or bridge port) is a conflict naming the parent', async () => {
    const { driver, links } = await setup()
    links.failNext(
      'probeIpvlan',
      new LinkError('busy', 'RTNETLINK answers: Device or resource busy', 'ip')
    )
    await rejectsWith(
      driver.createNetwork(network(NET, { parent: 'eth0' })),
      'conflict',
      /parent interface "eth0" is busy/
    )
    assert.deepEqual(driver.networks(), [])
  })

  test('a failed join leaves the endpoint recorded, no link, and a retry succeeds (link made at Join)', async () => {
    const { driver, links } = await setup(undefined, undefined, { earlyLinks: false })
    await driver.createNetwork(network(NET, { parent: 'eth0' }))
    await driver.createEndpoint(endpoint(NET, EP))
    links.failNext('addIpvlan', timeout())
    await rejectsWith(
      driver.join(NET, EP),
      'unavailable',
      new RegExp(`creating ipvlan link "${endpointLinkName(EP)}" on parent "eth0"`)
    )
    assert.equal(links.links.has(endpointLinkName(EP)), false)
    assert.equal(driver.endpoints().length, 1)
    await driver.join(NET, EP)
    assert.equal(links.links.has(endpointLinkName(EP)), true)
  })

  test('a join failing with a plain Error is an internal error (link made at Join)', async () => {
    const { driver, links } = await setup(undefined, undefined, { earlyLinks: false })
    await driver.createNetwork(network(NET, { parent: 'eth0' }))
    await driver.createEndpoint(endpoint(NET, EP))
    links.failNext('addIpvlan', new Error('spawn ip ENOENT'))
    await rejectsWith(driver.join(NET, EP), 'internal', /spawn ip ENOENT/)
  })

  test('Join uses the link started after CreateEndpoint: no kernel work of its own', async () => {
    const { driver, links } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth0' }))
    await driver.createEndpoint(endpoint(NET, EP))
    await driver.settled()
    const before = links.calls.length
    const result = await driver.join(NET, EP)
    assert.equal(result.srcName, endpointLinkName(EP))
    assert.deepEqual(links.calls.slice(before), [], 'Join ran no ip')
    assert.equal(callsOf(links, 'addIpvlan').length, 1, 'the link was made once')
  })

  test('Join waits for a link start still running, then uses it', async () => {
    const { driver, links } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth0' }))
    await driver.createEndpoint(endpoint(NET, EP))
    // No settling: the Join arrives while the start may still be in the fake kernel.
    const result = await driver.join(NET, EP)
    assert.equal(result.srcName, endpointLinkName(EP))
    assert.equal(links.links.get(endpointLinkName(EP))?.parent, 'eth0')
    assert.equal(callsOf(links, 'addIpvlan').length, 1, 'the link was made once')
  })

  test('an early start that failed once is made again by Join', async () => {
    const { driver, links } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth0' }))
    links.failNext('addIpvlan', timeout())
    await driver.createEndpoint(endpoint(NET, EP))
    await driver.settled()
    assert.equal(links.links.has(endpointLinkName(EP)), false, 'the early start failed')
    await driver.join(NET, EP)
    assert.equal(links.links.get(endpointLinkName(EP))?.parent, 'eth0')
    assert.equal(callsOf(links, 'addIpvlan').length, 2)
  })

  test("a failure that persists past the early start is Join's error, and nothing is made", async () => {
    const { driver, links } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth0' }))
    links.failNext('addIpvlan', new Error('spawn ip ENOENT'), 2)
    await driver.createEndpoint(endpoint(NET, EP))
    await rejectsWith(driver.join(NET, EP), 'internal', /spawn ip ENOENT/)
    assert.equal(links.links.has(endpointLinkName(EP)), false)
    assert.equal(driver.endpoints().length, 1, 'the endpoint stays for a retry')
  })

  test('an endpoint deleted without a Join takes its early link with it', async () => {
    const { driver, links } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth0' }))
    await driver.createEndpoint(endpoint(NET, EP))
    // Deleted at once: the delete waits for the start, so the link cannot appear after it.
    await driver.deleteEndpoint(NET, EP)
    await driver.settled()
    assert.equal(links.links.has(endpointLinkName(EP)), false)
    assert.deepEqual(driver.endpoints(), [])
  })

  test('a network deleted right after CreateEndpoint leaves no endpoint link', async () => {
    const { driver, links } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth0' }))
    await driver.createEndpoint(endpoint(NET, EP))
    await driver.deleteNetwork(NET)
    await driver.settled()
    assert.deepEqual(linkNames(links), ['eth0', 'eth1'])
  })

  test('deleteEndpoint answers before its link is deleted; the link goes right after', async () => {
    const { driver, links, store } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth0' }))
    await driver.createEndpoint(endpoint(NET, EP))
    await driver.join(NET, EP)
    // The kernel answers only when released: DeleteEndpoint must not wait for it.
    const release = links.holdRemoveAll()
    await driver.deleteEndpoint(NET, EP)
    assert.deepEqual(driver.endpoints(), [])
    assert.equal(store.endpoints.size, 0, 'the record is gone before the link')
    assert.equal(links.links.has(endpointLinkName(EP)), true, 'the link is still being deleted')
    assert.equal(driver.pendingLinkDeletes(), 1)
    release()
    await driver.drainLinkDeletes()
    assert.equal(links.links.has(endpointLinkName(EP)), false)
    assert.equal(driver.pendingLinkDeletes(), 0)
  })

  test('links of endpoints deleted while one deletion runs go together in one ip run', async () => {
    const { driver, links } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth0' }))
    const ids = Array.from({ length: 6 }, (_, i) => id(`batched endpoint ${i}`))
    for (const [i, endpointId] of ids.entries()) {
      await driver.createEndpoint(endpoint(NET, endpointId, { address: `192.168.10.${20 + i}/24` }))
      await driver.join(NET, endpointId)
    }
    const release = links.holdRemoveAll(true)
    for (const endpointId of ids) await driver.deleteEndpoint(NET, endpointId)
    release()
    await driver.drainLinkDeletes()
    const batches = callsOf(links, 'removeAll').map((args) => args as string[])
    assert.deepEqual(
      batches,
      [
        [endpointLinkName(ids[0] ?? '')],
        ids.slice(1).map((endpointId) => endpointLinkName(endpointId)),
      ],
      'the first link alone, the five queued behind it in one run'
    )
    assert.deepEqual(
      linkNames(links).filter((name) => name.startsWith('ivl')),
      []
    )
  })

  test('a batch of link deletions stops at a link that fails: one already gone is no error, the rest go next', async () => {
    const { driver, links } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth0' }))
    const ids = Array.from({ length: 4 }, (_, i) => id(`stopping batch ${i}`))
    for (const [i, endpointId] of ids.entries()) {
      await driver.createEndpoint(endpoint(NET, endpointId, { address: `192.168.10.${40 + i}/24` }))
      await driver.join(NET, endpointId)
    }
    const names = ids.map((endpointId) => endpointLinkName(endpointId))
    // The second is already gone (deleted by hand, or a reboot).
    links.links.delete(names[1] ?? '')
    const release = links.holdRemoveAll(true)
    for (const endpointId of ids) await driver.deleteEndpoint(NET, endpointId)
    release()
    await driver.drainLinkDeletes()
    assert.deepEqual(
      callsOf(links, 'removeAll'),
      [[names[0]], names.slice(1), names.slice(2)],
      'the batch after the held one stops at the missing link; the two after it go next'
    )
    assert.deepEqual(
      callsOf(links, 'remove'),
      [],
      'no link-by-link retry for a batch that said where it stopped'
    )
    assert.deepEqual(
      linkNames(links).filter((name) => name.startsWith('ivl')),
      []
    )
  })

  test('a link deletion that fails after deleteEndpoint is logged and left; start-up sweeps it', async () => {
    const { driver, links, store } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth0' }))
    await driver.createEndpoint(endpoint(NET, EP))
    await driver.join(NET, EP)
    const removeAll = links.removeAll.bind(links)
    links.removeAll = async () => ({ made: 0, error: failed() })
    await driver.deleteEndpoint(NET, EP)
    await driver.drainLinkDeletes()
    assert.deepEqual(driver.endpoints(), [], 'the delete answered')
    assert.equal(store.endpoints.size, 0)
    assert.equal(links.links.has(endpointLinkName(EP)), true, 'the failed one is still there')
    links.removeAll = removeAll
    // The next start finds a link of ours that no record owns, and deletes it.
    const restarted = await IpvlanDriver.open({ hostId: 'node-a', links, store, log: silentLogger })
    const report = await restarted.reconcile()
    assert.deepEqual(report.removed, [endpointLinkName(EP)])
    assert.equal(links.links.has(endpointLinkName(EP)), false)
  })

  test('a batch of link deletions killed as a whole is retried link by link', async () => {
    const { driver, links } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth0' }))
    await driver.createEndpoint(endpoint(NET, EP))
    await driver.join(NET, EP)
    links.failNext('removeAll', timeout())
    await driver.deleteEndpoint(NET, EP)
    await driver.drainLinkDeletes()
    assert.deepEqual(callsOf(links, 'remove'), [endpointLinkName(EP)])
    assert.equal(links.links.has(endpointLinkName(EP)), false)
  })

  test("deleteNetwork waits for its endpoints' queued link deletions before removing the parent", async () => {
    const { driver, links } = await setup(['eth1'])
    await driver.createNetwork(network(NET, { parent: 'eth1.40' }))
    await driver.createEndpoint(endpoint(NET, EP))
    await driver.join(NET, EP)
    const release = links.holdRemoveAll()
    await driver.deleteEndpoint(NET, EP)
    let deleted = false
    const deleting = driver.deleteNetwork(NET).then(() => (deleted = true))
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(deleted, false, 'deleteNetwork waits for the queued deletion')
    assert.equal(links.links.has('eth1.40'), true)
    release()
    await deleting
    assert.equal(links.links.has(endpointLinkName(EP)), false)
    assert.equal(links.links.has('eth1.40'), false)
    const order = links.calls.map((call) => call.method)
    assert.ok(
      order.lastIndexOf('removeAll') < order.lastIndexOf('remove'),
      `the endpoint link before the parent: ${order.join(', ')}`
    )
  })

  test('a failed store delete fails deleteEndpoint and keeps it in memory', async () => {
    const { driver, store } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth0' }))
    await driver.createEndpoint(endpoint(NET, EP))
    store.failWrites = new Error('EROFS')
    await rejectsWith(driver.deleteEndpoint(NET, EP), 'unavailable', /deleting endpoint/)
    assert.equal(driver.endpoints().length, 1)
  })

  test('a failed store delete fails deleteNetwork and keeps it in memory', async () => {
    const { driver, store } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth0' }))
    store.failWrites = new Error('EROFS')
    await rejectsWith(driver.deleteNetwork(NET), 'unavailable', /deleting network/)
    assert.equal(driver.networks().length, 1)
  })
})
