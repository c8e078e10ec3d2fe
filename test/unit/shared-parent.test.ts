import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { IpvlanDriver } from '../../src/driver/driver.ts'
import { endpointLinkName, ownerAlias } from '../../src/driver/naming.ts'
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
  NET2,
  network,
  rejectsWith,
  setup,
  short,
} from '../helpers/driver-fixtures.ts'

/** `-o shared_parent=true`: several networks on one parent (issue 10, moby/libnetwork#1535). */

const SHARED = { shared_parent: 'true' }
const v4 = (pool: string) => ({ ipv4: [{ pool }] })

describe('shared_parent: several networks on one parent', () => {
  test('two opted-in networks share a created 802.1Q parent; it goes with the last of them', async () => {
    const { driver, links } = await setup(['eth0'])
    await driver.createNetwork(network(NET, { parent: 'eth0.10', ...SHARED }))
    await driver.createNetwork(network(NET2, { parent: 'eth0.10', ...SHARED }, v4('10.20.0.0/24')))
    assert.equal(callsOf(links, 'addVlan').length, 1, 'the parent is made once')
    assert.deepEqual(
      driver.networks().map((n) => [n.parent, n.parentOrigin, n.sharedParent]),
      [
        ['eth0.10', 'vlan', true],
        ['eth0.10', 'vlan', true],
      ]
    )
    await driver.createEndpoint(endpoint(NET, EP))
    await driver.createEndpoint(endpoint(NET2, EP2, { address: '10.20.0.5/24' }))
    await driver.join(NET, EP)
    await driver.join(NET2, EP2)

    await driver.deleteNetwork(NET)
    assert.ok(links.links.has('eth0.10'), 'the parent stays while another network uses it')
    assert.equal(links.links.has(endpointLinkName(EP)), false, "the first network's link is gone")
    assert.equal(links.links.get(endpointLinkName(EP2))?.parent, 'eth0.10', 'the other is kept')

    // The parent's alias still names the first network: reconciliation must keep it all the same.
    assert.equal(links.links.get('eth0.10')?.alias, ownerAlias(INSTANCE, 'parent', NET))
    assert.deepEqual((await driver.reconcile()).removed, [])

    await driver.deleteEndpoint(NET2, EP2)
    await driver.deleteNetwork(NET2)
    assert.deepEqual(linkNames(links), ['eth0'], 'the last network took the parent with it')
  })

  test("an operator's parent shared by networks is never deleted", async () => {
    const { driver, links } = await setup(['eth0'])
    await driver.createNetwork(network(NET, { parent: 'eth0', ...SHARED }))
    await driver.createNetwork(network(NET2, { parent: 'eth0', ...SHARED }, v4('10.20.0.0/24')))
    await driver.deleteNetwork(NET2)
    await driver.deleteNetwork(NET)
    assert.deepEqual(linkNames(links), ['eth0'])
  })

  const refusals: {
    name: string
    holder: Record<string, string>
    newcomer: Record<string, string>
    pools?: { ipv4?: { pool: string }[]; ipv6?: { pool: string }[] }
    patterns: RegExp[]
  }[] = [
    {
      name: 'a newcomer that did not opt in gets the built-in refusal, with the way to share',
      holder: SHARED,
      newcomer: {},
      patterns: [
        /^option "parent": network \w{12} is already using parent interface "eth0\.10"/,
        /give -o shared_parent=true to every network that shares it/,
      ],
    },
    {
      name: 'a holder that did not opt in is named',
      holder: {},
      newcomer: SHARED,
      patterns: [
        /^option "shared_parent": network \w{12} is already using parent interface "eth0\.10" and was not created with -o shared_parent=true/,
      ],
    },
    {
      name: 'another mode is refused: the kernel keeps one mode per parent',
      holder: SHARED,
      newcomer: { ...SHARED, ipvlan_mode: 'l3' },
      patterns: [/^option "ipvlan_mode": network \w{12} .* in mode l2, not l3/],
    },
    {
      name: 'another flag is refused: the kernel keeps one flag per parent',
      holder: SHARED,
      newcomer: { ...SHARED, ipvlan_flag: 'private' },
      patterns: [/^option "ipvlan_flag": network \w{12} .* with flag bridge, not private/],
    },
    {
      name: 'an overlapping IPv4 subnet is refused, naming both',
      holder: SHARED,
      newcomer: SHARED,
      pools: v4('192.168.10.128/25'),
      patterns: [/^--subnet 192\.168\.10\.128\/25 overlaps 192\.168\.10\.0\/24 of network \w{12}/],
    },
    {
      name: 'an overlapping IPv6 subnet is refused, naming both',
      holder: SHARED,
      newcomer: SHARED,
      pools: { ipv4: [{ pool: '10.20.0.0/24' }], ipv6: [{ pool: '2001:db8::/48' }] },
      patterns: [/^--subnet 2001:db8::\/48 overlaps 2001:db8::\/64 of network \w{12}/],
    },
  ]
  for (const refusal of refusals) {
    test(`${refusal.name}; nothing changes`, async () => {
      const { driver, links, store } = await setup(['eth0'])
      await driver.createNetwork(
        network(
          NET,
          { parent: 'eth0.10', ...refusal.holder },
          { ipv6: [{ pool: '2001:db8::/64' }], enableIPv6: true }
        )
      )
      const writes = store.writes
      const calls = links.calls.length
      const error = await rejectsWith(
        driver.createNetwork(
          network(
            NET2,
            { parent: 'eth0.10', ...refusal.newcomer },
            { ...v4('10.20.0.0/24'), ...refusal.pools }
          )
        ),
        'conflict',
        ...refusal.patterns
      )
      assert.ok(error.message.includes(short(NET)), 'the message names the holder')
      assert.equal(store.writes, writes, 'nothing written')
      assert.equal(links.calls.length, calls, 'the kernel untouched')
      assert.equal(driver.networks().length, 1)
    })
  }

  test('a third network must agree with every network on the parent', async () => {
    const { driver } = await setup(['eth0'])
    await driver.createNetwork(network(NET, { parent: 'eth0', ...SHARED }))
    await driver.createNetwork(network(NET2, { parent: 'eth0', ...SHARED }, v4('10.20.0.0/24')))
    await rejectsWith(
      driver.createNetwork(network(id('third'), { parent: 'eth0', ...SHARED }, v4('10.20.0.0/16'))),
      'conflict',
      new RegExp(`overlaps 10\\.20\\.0\\.0/24 of network ${short(NET2)}`)
    )
  })

  test('re-creating a shared network without the option is a conflict, with it a no-op', async () => {
    const { driver } = await setup(['eth0'])
    await driver.createNetwork(network(NET, { parent: 'eth0', ...SHARED }))
    await driver.createNetwork(network(NET, { parent: 'eth0', ...SHARED }))
    await rejectsWith(
      driver.createNetwork(network(NET, { parent: 'eth0' })),
      'conflict',
      /already exists with other options/
    )
  })

  test('after a reboot, joins on two networks that share the lost parent re-create it once', async () => {
    const store = new MemoryStore(INSTANCE)
    const first = await setup(['eth0'], store)
    await first.driver.createNetwork(network(NET, { parent: 'eth0.10', ...SHARED }))
    await first.driver.createNetwork(
      network(NET2, { parent: 'eth0.10', ...SHARED }, v4('10.20.0.0/24'))
    )
    await first.driver.createEndpoint(endpoint(NET, EP))
    await first.driver.createEndpoint(endpoint(NET2, EP2, { address: '10.20.0.5/24' }))

    const rebooted = new FakeLinkLayer(['eth0'])
    const second = await IpvlanDriver.open({
      hostId: 'node-a',
      links: rebooted,
      store,
      log: silentLogger,
    })
    assert.deepEqual(
      second.networks().map((n) => n.sharedParent),
      [true, true],
      'the opt-in survives a restart'
    )
    await Promise.all([second.join(NET, EP), second.join(NET2, EP2)])
    assert.equal(callsOf(rebooted, 'addVlan').length, 1)
    assert.deepEqual(
      linkNames(rebooted),
      ['eth0', 'eth0.10', endpointLinkName(EP), endpointLinkName(EP2)].sort()
    )
  })
})
