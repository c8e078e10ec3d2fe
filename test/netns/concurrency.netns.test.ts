import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { isValidIfname } from '../../src/ifname.ts'
import { id } from '../fakes/ids.ts'
import { createNetns, ipSync, kernelSupports, nsLinks, rootSkipReason } from '../helpers/netns.ts'
import { startPlugin } from '../helpers/plugin-process.ts'
import type { PluginProcess } from '../helpers/plugin-process.ts'
import { seedNetworkRecord } from '../helpers/state.ts'
import { call } from '../helpers/socket-client.ts'
import type { Reply } from '../helpers/socket-client.ts'

/**
 * 100 endpoints at once through the real socket, real `ip`, a throw-away namespace: all created
 * (and joined, where the kernel has ipvlan) at once, checked, then all left and deleted at once,
 * checked again. Without ipvlan, CreateEndpoint / DeleteEndpoint (which still runs `ip link del`
 * for every endpoint) run alone. The assertions are on the outcome (no request error, no record
 * lost, no link name twice, nothing left), not on how the plugin schedules the requests; each
 * phase checks that all its requests were in flight together, so it cannot pass one by one.
 */
const skip = rootSkipReason('host netns')
const COUNT = 100

describe('100 concurrent endpoints against the plugin process', { skip }, () => {
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

  test(`${COUNT} endpoints at once, then their deletes at once: no error, every record kept, distinct link names, no leftover link or state file`, async () => {
    const requests = { inFlight: 0, max: 0 }
    const send = async (method: string, body: unknown): Promise<Reply> => {
      requests.inFlight++
      requests.max = Math.max(requests.max, requests.inFlight)
      try {
        return await call(plugin.socket, `NetworkDriver.${method}`, body)
      } finally {
        requests.inFlight--
      }
    }
    const eps = Array.from({ length: COUNT }, (_, i) => id(`conc-netns-ep-${i}`))
    const assertAllOk = (replies: [string, Reply][]): void => {
      for (const [what, reply] of replies) {
        assert.equal(reply.status, 200, `${what}: ${JSON.stringify(reply.body)}`)
        assert.ok(!('Err' in reply.body), `${what}: ${JSON.stringify(reply.body)}`)
      }
    }
    const ourLinks = (): string[] =>
      nsLinks(ns.name)
        .map((l) => l.ifname)
        .filter((name) => !['eth0', 'lo', 'peer0'].includes(name))
        .sort()

    // Phase 1: every endpoint created (and joined) at once.
    const started = Date.now()
    const phase1 = await Promise.all(
      eps.map(async (ep, index) => {
        const ids = { NetworkID: net, EndpointID: ep }
        const replies: [string, Reply][] = []
        const step = async (method: string, body: unknown): Promise<Reply> => {
          const reply = await send(method, body)
          replies.push([`${method} ${index}`, reply])
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
        }
        return { ep, replies, link: value?.['ipvlan-lan.link'], srcName }
      })
    )
    assert.equal(requests.max, COUNT, `all ${COUNT} endpoints had a request in flight at once`)
    assertAllOk(phase1.flatMap((r) => r.replies))
    assert.equal(phase1.flatMap((r) => r.replies).length, COUNT * (ipvlan ? 3 : 2))

    const links = phase1.map((r) => r.link)
    for (const link of links)
      assert.ok(typeof link === 'string' && isValidIfname(link), `link name ${String(link)}`)
    assert.equal(new Set(links).size, COUNT, 'no duplicate link names')
    if (ipvlan) {
      assert.deepEqual(
        phase1.map((r) => r.srcName),
        links,
        'Join used those names'
      )
      assert.deepEqual(ourLinks(), [...(links as string[])].sort(), 'exactly those links live')
    }
    // No lost record: one state file per endpoint, naming its link, and the plugin counts them all.
    assert.deepEqual(
      readdirSync(join(stateDir, 'endpoints')).sort(),
      eps.map((ep) => `${ep}.json`).sort(),
      'one endpoint file each, no temp file'
    )
    for (const { ep, link } of phase1) {
      const record = JSON.parse(
        readFileSync(join(stateDir, 'endpoints', `${ep}.json`), 'utf8')
      ) as Record<string, unknown>
      assert.equal(record['networkId'], net, `record of ${ep}`)
      assert.equal(record['ifname'], link, `link name in the record of ${ep}`)
    }
    assert.equal((await call(plugin.socket, 'IpvlanLan.Status')).body['Endpoints'], COUNT)

    // Phase 2: every endpoint left and deleted at once.
    requests.max = 0
    const phase2 = await Promise.all(
      eps.map(async (ep, index): Promise<[string, Reply][]> => {
        const ids = { NetworkID: net, EndpointID: ep }
        const replies: [string, Reply][] = []
        if (ipvlan) replies.push([`Leave ${index}`, await send('Leave', ids)])
        replies.push([`DeleteEndpoint ${index}`, await send('DeleteEndpoint', ids)])
        return replies
      })
    )
    const elapsed = Date.now() - started
    assert.equal(requests.max, COUNT, `all ${COUNT} deletes had a request in flight at once`)
    assertAllOk(phase2.flat())
    assert.equal(phase2.flat().length, COUNT * (ipvlan ? 2 : 1))

    // Links go right after DeleteEndpoint answers; the drain call returns once they have.
    assert.equal((await call(plugin.socket, 'IpvlanLan.DrainLinkDeletes')).status, 200)
    assert.deepEqual(ourLinks(), [], 'no leftover link')
    assert.deepEqual(readdirSync(join(stateDir, 'endpoints')), [], 'no endpoint file, no temp file')
    assert.deepEqual(readdirSync(join(stateDir, 'networks')), [`${net}.json`])
    const status = await call(plugin.socket, 'IpvlanLan.Status')
    assert.equal(status.body['Endpoints'], 0)
    process.stdout.write(
      `# ${COUNT} endpoints (${ipvlan ? 'with' : 'without'} Join/Leave) in ${elapsed} ms, ip runs ${String(status.body['IpProcesses'])}\n`
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
