import assert from 'node:assert/strict'
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { id } from '../fakes/ids.ts'
import { createNetns, ipSync, kernelSupports, nsLinks, rootSkipReason } from '../helpers/netns.ts'
import { startPlugin } from '../helpers/plugin-process.ts'
import type { PluginProcess } from '../helpers/plugin-process.ts'
import { seedNetworkRecord } from '../helpers/state.ts'
import { call } from '../helpers/socket-client.ts'

/**
 * The real plugin program, on a real socket, managing a throw-away namespace with real `ip`.
 * On a kernel without ipvlan (this host) it must say so plainly and change nothing; on the lab
 * kernel the same test drives real links.
 */
const skip = rootSkipReason('host netns')

describe('the plugin process in a network namespace', { skip }, () => {
  let ns: { name: string; remove: () => void }
  let plugin: PluginProcess
  let ipvlan = false
  const net = id('netns-net')
  const ep = id('netns-ep')

  before(async () => {
    ipvlan = kernelSupports('ipvlan')
    ns = createNetns()
    ipSync('-n', ns.name, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'peer0')
    ipSync('-n', ns.name, 'link', 'set', 'eth0', 'up')
    plugin = await startPlugin({ netns: ns.name })
  })
  after(async () => {
    await plugin.stop('SIGKILL')
    ns.remove()
  })

  test('answers Docker-style requests (no Content-Type, empty body) on a 0600 socket', async () => {
    const caps = await call(plugin.socket, 'NetworkDriver.GetCapabilities')
    assert.deepEqual(caps.body, {
      Scope: 'local',
      ConnectivityScope: 'global',
      GwAllocChecker: true,
    })
    assert.deepEqual((await call(plugin.socket, 'Plugin.Activate')).body, {
      Implements: ['NetworkDriver', 'IpamDriver'],
    })
    assert.equal(statSync(plugin.socket).mode & 0o777, 0o600)
  })

  test('CreateNetwork: real ipvlan where the kernel has it, a plain error and no change where not', async () => {
    const reply = await call(plugin.socket, 'NetworkDriver.CreateNetwork', {
      NetworkID: net,
      Options: { 'com.docker.network.generic': { parent: 'eth0', ipvlan_mode: 'l2' } },
      IPv4Data: [{ AddressSpace: 'LocalDefault', Pool: '10.77.0.0/24', Gateway: '10.77.0.1/24' }],
      IPv6Data: null,
    })
    const files = readdirSync(join(plugin.stateDir, 'networks'))
    if (!ipvlan) {
      assert.equal(reply.status, 500)
      assert.match(String(reply.body['Err']), /kernel has no ipvlan support/)
      // Plain words first, then what the real ip said (kept, not replaced).
      assert.match(
        String(reply.body['Err']),
        /^the host kernel has no ipvlan support \(CONFIG_IPVLAN\).*\(ip said: Error: Unknown device type\..*\)$/
      )
      assert.deepEqual(files, [], 'no state written')
      assert.deepEqual(
        nsLinks(ns.name)
          .map((l) => l.ifname)
          .sort(),
        ['eth0', 'lo', 'peer0']
      )
      return
    }
    assert.equal(reply.status, 200, JSON.stringify(reply.body))
    assert.deepEqual(files, [`${net}.json`])
  })

  test('an endpoint survives SIGKILL of the plugin and is served after the restart', async () => {
    if (!ipvlan) {
      seedNetworkRecord(plugin.stateDir, net, '10.77.0.0/24', '10.77.0.1')
      await plugin.stop('SIGKILL')
      plugin = await startPlugin({ netns: ns.name, stateDir: plugin.stateDir })
    }
    const created = await call(plugin.socket, 'NetworkDriver.CreateEndpoint', {
      NetworkID: net,
      EndpointID: ep,
      Interface: { Address: '10.77.0.5/24', AddressIPv6: '', MacAddress: '' },
      Options: {},
    })
    assert.deepEqual(created, { status: 200, body: {} })
    await plugin.stop('SIGKILL')
    plugin = await startPlugin({ netns: ns.name, stateDir: plugin.stateDir })
    const join_ = await call(plugin.socket, 'NetworkDriver.Join', {
      NetworkID: net,
      EndpointID: ep,
      SandboxKey: '/x',
      Options: {},
    })
    if (ipvlan) {
      assert.equal(join_.status, 200, JSON.stringify(join_.body))
      assert.deepEqual(join_.body['InterfaceName'], {
        SrcName: `ivl${ep.slice(0, 12)}`,
        DstPrefix: 'eth',
      })
      assert.equal(join_.body['Gateway'], '10.77.0.1')
      assert.ok(nsLinks(ns.name).some((l) => l.ifname === `ivl${ep.slice(0, 12)}`))
    } else {
      assert.match(String(join_.body['Err']), /kernel has no ipvlan support/)
    }
    assert.equal(
      (await call(plugin.socket, 'NetworkDriver.Leave', { NetworkID: net, EndpointID: ep })).status,
      200
    )
    assert.equal(
      (
        await call(plugin.socket, 'NetworkDriver.DeleteEndpoint', {
          NetworkID: net,
          EndpointID: ep,
        })
      ).status,
      200
    )
    // The link goes right after DeleteEndpoint answers; the drain call returns once it has.
    assert.equal((await call(plugin.socket, 'IpvlanLan.DrainLinkDeletes')).status, 200)
    assert.ok(!nsLinks(ns.name).some((l) => l.ifname.startsWith('ivl')), 'endpoint link deleted')
    assert.deepEqual(readdirSync(join(plugin.stateDir, 'endpoints')), [])
    assert.equal(
      (await call(plugin.socket, 'NetworkDriver.DeleteNetwork', { NetworkID: net })).status,
      200
    )
    assert.deepEqual(readdirSync(join(plugin.stateDir, 'networks')), [])
  })

  test('start-up reconciliation removes our orphaned links and nothing else', async () => {
    const instance = readFileSync(join(plugin.stateDir, 'instance-id'), 'utf8').trim()
    await plugin.stop('SIGKILL')
    ipSync('-n', ns.name, 'link', 'add', 'ivlorphan0', 'type', 'veth', 'peer', 'name', 'ivlorphan1')
    ipSync(
      '-n',
      ns.name,
      'link',
      'set',
      'dev',
      'ivlorphan0',
      'alias',
      `ipvlan-lan/${instance}:ep:${id('gone')}`
    )
    ipSync('-n', ns.name, 'link', 'add', 'fgn0', 'type', 'veth', 'peer', 'name', 'fgn1')
    const foreign = `ipvlan-lan/00000000:ep:${id('other')}`
    ipSync('-n', ns.name, 'link', 'set', 'dev', 'fgn0', 'alias', foreign)
    ipSync('-n', ns.name, 'link', 'set', 'dev', 'fgn1', 'alias', 'operator-link')
    plugin = await startPlugin({ netns: ns.name, stateDir: plugin.stateDir })
    const deadline = Date.now() + 10_000
    while (plugin.output().indexOf('start-up reconciliation done') < 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const names = nsLinks(ns.name).map((l) => l.ifname)
    assert.ok(!names.includes('ivlorphan0'), 'our orphan removed')
    assert.match(plugin.output(), /removed leftover link.*ivlorphan0/)
    assert.ok(names.includes('fgn0') && names.includes('fgn1'), "others' links are kept")
    assert.ok(existsSync(join(plugin.stateDir, 'instance-id')))
  })
})
