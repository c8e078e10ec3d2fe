import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { id } from '../fakes/ids.ts'
import { createNetns, ipSync, kernelSupports, nsLinks, rootSkipReason } from '../helpers/netns.ts'
import { startPlugin } from '../helpers/plugin-process.ts'
import type { PluginProcess } from '../helpers/plugin-process.ts'
import { seedNetworkRecord } from '../helpers/state.ts'
import { call } from '../helpers/socket-client.ts'
import type { Reply } from '../helpers/socket-client.ts'

/**
 * 100 endpoint lifecycles at once through the real socket, real `ip`, a throw-away namespace.
 * Join and Leave run where the kernel has ipvlan; elsewhere CreateEndpoint / DeleteEndpoint (which
 * still runs `ip link del` for every endpoint) prove the serialisation and the clean state.
 */
const skip = rootSkipReason('host netns')
const COUNT = 100

describe('100 concurrent endpoint lifecycles against the plugin process', { skip }, () => {
  let ns: { name: string; remove: () => void }
  let plugin: PluginProcess
  let stateDir: string
  let ipvlan = false
  const net = id('conc-netns-net')

  before(async () => {
    ipvlan = kernelSupports('ipvlan')
    ns = createNetns()
    ipSync('-n', ns.name, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'peer0')
    ipSync('-n', ns.name, 'link', 'set', 'eth0', 'up')
    stateDir = join(mkdtempSync(join(tmpdir(), 'ipvlan-lan-conc-')), 'state')
    if (!ipvlan) {
      seedNetworkRecord(stateDir, net, '10.79.0.0/16', '10.79.0.1')
    }
    plugin = await startPlugin({ netns: ns.name, stateDir })
    if (ipvlan) {
      const created = await call(plugin.socket, 'NetworkDriver.CreateNetwork', {
        NetworkID: net,
        Options: { 'com.docker.network.generic': { parent: 'eth0', ipvlan_mode: 'l2' } },
        IPv4Data: [{ AddressSpace: 'LocalDefault', Pool: '10.79.0.0/16', Gateway: '10.79.0.1/16' }],
        IPv6Data: [],
      })
      assert.deepEqual(created, { status: 200, body: {} })
    }
  })
  after(async () => {
    await plugin.stop('SIGKILL')
    ns.remove()
    rmSync(join(stateDir, '..'), { recursive: true, force: true })
  })

  test(`${COUNT} lifecycles at once: no error, distinct link names, no leftover link or state file`, async () => {
    const lifecycle = async (index: number) => {
      const ids = { NetworkID: net, EndpointID: id(`conc-netns-ep-${index}`) }
      const replies: [string, Reply][] = []
      const step = async (method: string, body: unknown): Promise<Reply> => {
        const reply = await call(plugin.socket, `NetworkDriver.${method}`, body)
        replies.push([method, reply])
        return reply
      }
      await step('CreateEndpoint', {
        ...ids,
        Interface: {
          Address: `10.79.${Math.floor(index / 200) + 1}.${(index % 200) + 2}/16`,
          AddressIPv6: '',
          MacAddress: '',
        },
        Options: {},
      })
      const info = await step('EndpointOperInfo', ids)
      const value = info.body['Value'] as Record<string, unknown> | undefined
      let srcName: unknown
      if (ipvlan) {
        const joined = await step('Join', { ...ids, SandboxKey: `/x/${index}`, Options: {} })
        srcName = (joined.body['InterfaceName'] as { SrcName?: unknown } | undefined)?.SrcName
        await step('Leave', ids)
      }
      await step('DeleteEndpoint', ids)
      return { replies, link: value?.['ipvlan-lan.link'], srcName }
    }

    const started = Date.now()
    const results = await Promise.all(Array.from({ length: COUNT }, (_, i) => lifecycle(i)))
    const elapsed = Date.now() - started

    for (const [i, result] of results.entries()) {
      for (const [method, reply] of result.replies) {
        assert.equal(reply.status, 200, `lifecycle ${i} ${method}: ${JSON.stringify(reply.body)}`)
        assert.ok(!('Err' in reply.body), `lifecycle ${i} ${method}`)
      }
    }
    const links = results.map((r) => r.link)
    assert.ok(links.every((name) => typeof name === 'string' && /^ivl[0-9a-f]{12}$/.test(name)))
    assert.equal(new Set(links).size, COUNT, 'no duplicate link names')
    if (ipvlan)
      assert.deepEqual(
        results.map((r) => r.srcName),
        links,
        'Join used those names'
      )

    assert.deepEqual(
      nsLinks(ns.name)
        .map((l) => l.ifname)
        .sort(),
      ['eth0', 'lo', 'peer0'],
      'no leftover link'
    )
    assert.deepEqual(readdirSync(join(stateDir, 'endpoints')), [], 'no endpoint file, no temp file')
    assert.deepEqual(readdirSync(join(stateDir, 'networks')), [`${net}.json`])
    const status = await call(plugin.socket, 'IpvlanLan.Status')
    assert.equal(status.body['Endpoints'], 0)
    process.stdout.write(
      `# ${COUNT} lifecycles (${ipvlan ? 'with' : 'without'} Join/Leave) in ${elapsed} ms, ip runs ${String(status.body['IpProcesses'])}\n`
    )
  })

  test('DeleteNetwork afterwards leaves the operator parent and no state', async () => {
    assert.deepEqual(await call(plugin.socket, 'NetworkDriver.DeleteNetwork', { NetworkID: net }), {
      status: 200,
      body: {},
    })
    assert.deepEqual(readdirSync(join(stateDir, 'networks')), [])
    assert.deepEqual(
      nsLinks(ns.name)
        .map((l) => l.ifname)
        .sort(),
      ['eth0', 'lo', 'peer0']
    )
  })
})
