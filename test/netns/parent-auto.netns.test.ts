import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { IpvlanDriver } from '../../src/driver/driver.ts'
import type { IpvlanSpec, LinkLayer } from '../../src/driver/ports/link-layer.ts'
import { LinkError } from '../../src/driver/ports/link-layer.ts'
import { DriverError } from '../../src/errors.ts'
import { createIproute2 } from '../../src/link/iproute2.ts'
import { execaRunner } from '../../src/link/runner.ts'
import { silentLogger } from '../../src/log.ts'
import { id } from '../fakes/ids.ts'
import { MemoryStore } from '../fakes/memory-store.ts'
import { createNetns, ipSync, kernelSupports, nsLinks, rootSkipReason } from '../helpers/netns.ts'
import { startPlugin } from '../helpers/plugin-process.ts'
import type { PluginProcess } from '../helpers/plugin-process.ts'
import { call } from '../helpers/socket-client.ts'

/**
 * `-o parent=auto` against real `ip` in a throw-away namespace: the default-route lookup and its
 * parsing (a veth with a default route, IPv6 only, multipath, none), the driver's resolution and
 * errors over the real link layer, and the plugin process naming its --host-id. The host kernel has
 * veth but no ipvlan or 802.1Q: past the resolution, each kernel-dependent step checks the branch
 * this kernel supports.
 */
const skip = rootSkipReason('host netns')

const ip = (ns: string, ...args: string[]): string => ipSync('-n', ns, ...args)

/** A veth `name` (peer `name`p) that is up, with an address of `v4`/24 and of `v6`/64. */
function uplink(ns: string, name: string, v4: string, v6: string): void {
  ip(ns, 'link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}p`)
  ip(ns, 'link', 'set', name, 'up')
  ip(ns, 'link', 'set', `${name}p`, 'up')
  ip(ns, 'address', 'add', `${v4}/24`, 'dev', name)
  ip(ns, '-6', 'address', 'add', `${v6}/64`, 'dev', name, 'nodad')
}

const linkLayer = (netns: string): LinkLayer =>
  createIproute2({ run: execaRunner({ timeoutMs: 5000 }), timeoutMs: 5000, netns })

const createInput = (networkId: string, parent: string) => ({
  networkId,
  options: {
    generic: new Map([['parent', parent]]),
    internal: false,
    enableIPv4: true,
    enableIPv6: false,
  },
  ipv4: [{ pool: '10.62.0.0/24', gateway: '10.62.0.1/24' }],
  ipv6: [],
})

/** Awaits a DriverError of `kind` whose message matches every pattern. */
async function rejects(
  promise: Promise<unknown>,
  kind: string,
  ...patterns: RegExp[]
): Promise<DriverError> {
  const error: unknown = await promise.then(
    () => assert.fail('expected a DriverError'),
    (caught: unknown) => caught
  )
  assert.ok(error instanceof DriverError, String(error))
  assert.equal(error.kind, kind, error.message)
  for (const pattern of patterns) assert.match(error.message, pattern)
  return error
}

describe('the default-route lookup with real ip in a network namespace', { skip }, () => {
  let ns: { name: string; remove: () => void }
  let links: LinkLayer

  before(() => {
    ns = createNetns()
    uplink(ns.name, 'up0', '10.61.0.2', 'fd61::2')
    uplink(ns.name, 'dn0', '10.63.0.2', 'fd63::2')
    links = linkLayer(ns.name)
  })
  after(() => ns.remove())

  test('no default route: both families are empty lists', async () => {
    assert.deepEqual(await links.defaultRoutes(4), [])
    assert.deepEqual(await links.defaultRoutes(6), [])
  })

  test('an IPv4 default route via the veth: its device, metric 0', async () => {
    ip(ns.name, 'route', 'add', 'default', 'via', '10.61.0.1')
    try {
      assert.deepEqual(await links.defaultRoutes(4), [{ devices: ['up0'], metric: 0 }])
      assert.deepEqual(await links.defaultRoutes(6), [])
    } finally {
      ip(ns.name, 'route', 'del', 'default')
    }
  })

  test('an IPv6 default route only: its device and metric (1024, the kernel default)', async () => {
    ip(ns.name, '-6', 'route', 'add', 'default', 'via', 'fd61::1', 'dev', 'up0')
    try {
      assert.deepEqual(await links.defaultRoutes(4), [])
      assert.deepEqual(await links.defaultRoutes(6), [{ devices: ['up0'], metric: 1024 }])
    } finally {
      ip(ns.name, '-6', 'route', 'del', 'default')
    }
  })

  test('a multipath route lists both devices; routes of two metrics keep theirs; unreachable is left out', async () => {
    ip(ns.name, 'route', 'add', 'default', 'metric', '10', 'nexthop', 'via', '10.61.0.1', 'dev', 'up0', 'nexthop', 'via', '10.63.0.1', 'dev', 'dn0') // prettier-ignore
    ip(ns.name, 'route', 'add', 'default', 'via', '10.63.0.1', 'metric', '50')
    ip(ns.name, 'route', 'add', 'unreachable', 'default', 'metric', '5')
    try {
      assert.deepEqual(await links.defaultRoutes(4), [
        { devices: ['up0', 'dn0'], metric: 10 },
        { devices: ['dn0'], metric: 50 },
      ])
    } finally {
      ip(ns.name, 'route', 'flush', 'exact', '0.0.0.0/0')
    }
    assert.deepEqual(await links.defaultRoutes(4), [])
  })

  test('a failed ip run (a namespace that does not exist) is an error naming the command', async () => {
    const gone = linkLayer('tnosuchns0')
    const error: unknown = await gone.defaultRoutes(4).then(
      () => assert.fail('expected a LinkError'),
      (caught: unknown) => caught
    )
    assert.ok(error instanceof LinkError, String(error))
    assert.equal(error.command, 'ip -j -4 route show default')
    assert.match(error.message, /tnosuchns0/)
  })
})

describe('the driver resolving -o parent=auto over the real link layer', { skip }, () => {
  let ns: { name: string; remove: () => void }
  const support = { ipvlan: false, vlan: false }
  /** Parents the driver asked the kernel to use: probe, 802.1Q master and name. */
  const probed: string[] = []
  const vlans: string[] = []

  const openDriver = (netns: string) => {
    const real = linkLayer(netns)
    const links: LinkLayer = {
      ...real,
      probeIpvlan: (spec: IpvlanSpec) => {
        probed.push(spec.parent)
        return real.probeIpvlan(spec)
      },
      addVlan: (spec) => {
        vlans.push(`${spec.name} of ${spec.master}`)
        return real.addVlan(spec)
      },
    }
    const store = new MemoryStore()
    return IpvlanDriver.open({ hostId: 'node-b', links, store, log: silentLogger }).then(
      (driver) => ({ driver, store })
    )
  }

  before(() => {
    support.ipvlan = kernelSupports('ipvlan')
    support.vlan = kernelSupports('vlan')
    process.stdout.write(`# kernel supports: ${JSON.stringify(support)}\n`)
    ns = createNetns()
    uplink(ns.name, 'up0', '10.61.0.2', 'fd61::2')
  })
  after(() => ns.remove())

  test('no default route: the error names the option and HOST_ID; nothing is recorded or made', async () => {
    const { driver, store } = await openDriver(ns.name)
    const before = nsLinks(ns.name).map((link) => link.ifname)
    await rejects(
      driver.createNetwork(createInput(id('auto none'), 'auto')),
      'not-found',
      /^option "parent": auto: this host \(HOST_ID node-b\) has no default route, IPv4 or IPv6/
    )
    await rejects(
      driver.createNetwork(createInput(id('auto none vlan'), 'auto.10')),
      'not-found',
      /^option "parent": auto\.10: this host \(HOST_ID node-b\) has no default route/
    )
    assert.equal(store.writes, 0)
    assert.deepEqual(
      nsLinks(ns.name).map((link) => link.ifname),
      before
    )
    assert.deepEqual([probed, vlans], [[], []])
  })

  test('an IPv4 default route via up0: the network is on up0 (or, without ipvlan, the plain error after resolving to it)', async () => {
    ip(ns.name, 'route', 'add', 'default', 'via', '10.61.0.1')
    try {
      const { driver, store } = await openDriver(ns.name)
      probed.length = 0
      const networkId = id('auto v4')
      const created = driver.createNetwork(createInput(networkId, 'auto'))
      if (support.ipvlan) {
        await created
        assert.equal(driver.networks()[0]?.parent, 'up0')
        assert.equal(driver.networks()[0]?.requestedParent, 'auto')
        await driver.deleteNetwork(networkId)
      } else {
        await rejects(created, 'unsupported', /no ipvlan support/)
        assert.equal(store.writes, 0)
      }
      assert.deepEqual(probed, ['up0'])
    } finally {
      ip(ns.name, 'route', 'del', 'default')
    }
  })

  test('IPv6 only: resolves to the IPv6 default route interface', async () => {
    ip(ns.name, '-6', 'route', 'add', 'default', 'via', 'fd61::1', 'dev', 'up0')
    try {
      const { driver } = await openDriver(ns.name)
      probed.length = 0
      const created = driver.createNetwork(createInput(id('auto v6'), 'auto'))
      if (support.ipvlan) await created
      else await rejects(created, 'unsupported', /no ipvlan support/)
      assert.deepEqual(probed, ['up0'])
    } finally {
      ip(ns.name, '-6', 'route', 'del', 'default')
    }
  })

  test('auto.10: the 802.1Q sub-interface up0.10 of up0 (or, without 802.1Q, the plain error naming it); none left behind on failure', async () => {
    ip(ns.name, 'route', 'add', 'default', 'via', '10.61.0.1')
    try {
      const { driver, store } = await openDriver(ns.name)
      vlans.length = 0
      const networkId = id('auto vlan')
      const created = driver.createNetwork(createInput(networkId, 'auto.10'))
      if (support.vlan && support.ipvlan) {
        await created
        assert.equal(driver.networks()[0]?.parent, 'up0.10')
        await driver.deleteNetwork(networkId)
      } else if (support.vlan) {
        await rejects(created, 'unsupported', /no ipvlan support/)
      } else {
        await rejects(created, 'unsupported', /802\.1Q VLAN support.*"up0\.10"/)
      }
      assert.deepEqual(vlans, ['up0.10 of up0'])
      if (!(support.vlan && support.ipvlan)) assert.equal(store.writes, 0)
      assert.ok(!nsLinks(ns.name).some((link) => link.ifname === 'up0.10'))
    } finally {
      ip(ns.name, 'route', 'del', 'default')
    }
  })

  test('a named parent this namespace lacks: the error names HOST_ID', async () => {
    const { driver } = await openDriver(ns.name)
    await rejects(
      driver.createNetwork(createInput(id('missing parent'), 'eth7')),
      'invalid-parameter',
      /^option "parent": interface "eth7" does not exist on the host \(HOST_ID node-b\)/
    )
  })
})

describe('the plugin process with --host-id and -o parent=auto', { skip }, () => {
  let ns: { name: string; remove: () => void }
  let plugin: PluginProcess

  before(async () => {
    ns = createNetns()
    uplink(ns.name, 'up0', '10.61.0.2', 'fd61::2')
    plugin = await startPlugin({ netns: ns.name, args: ['--host-id', 'node-b'] })
  })
  after(async () => {
    await plugin.stop()
    ns.remove()
  })

  test('CreateNetwork with no default route: an Err naming the option and HOST_ID node-b, nothing recorded', async () => {
    const reply = await call(plugin.socket, 'NetworkDriver.CreateNetwork', {
      NetworkID: id('plugin auto'),
      Options: { 'com.docker.network.generic': { parent: 'auto' } },
      IPv4Data: [{ AddressSpace: 'LocalDefault', Pool: '10.62.0.0/24', Gateway: '10.62.0.1/24' }],
      IPv6Data: null,
    })
    assert.notEqual(reply.status, 200)
    assert.deepEqual(Object.keys(reply.body), ['Err'])
    assert.match(
      String(reply.body['Err']),
      /^option "parent": auto: this host \(HOST_ID node-b\) has no default route, IPv4 or IPv6/
    )
    assert.deepEqual(readdirSync(join(plugin.stateDir, 'networks')), [])
  })
})
