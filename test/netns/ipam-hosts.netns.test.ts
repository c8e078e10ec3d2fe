import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import type { SubnetKey } from '../../src/driver/ports/ipam-store.ts'
import { etcdPlugins } from '../helpers/etcd-plugins.ts'
import { sleep, until } from '../helpers/poll.ts'
import { etcdMissing } from '../helpers/etcd-process.ts'
import { rootSkipReason } from '../helpers/netns.ts'
import type { PluginProcess } from '../helpers/plugin-process.ts'
import { call } from '../helpers/socket-client.ts'
import { seedNetworkRecord } from '../helpers/state.ts'

/**
 * Several plugin processes (hosts) on one real etcd (Debian's etcd-server, 3.4), each managing
 * its own throw-away network namespace, with short IPAM timers: a dead host's addresses are
 * reclaimed only after IPAM_RECLAIM_AFTER or by the operator's call; the host that comes back
 * says so loudly; a second process with the same HOST_ID is refused. The network record is
 * seeded (no ipvlan needed: endpoints are created through the socket, their links may fail).
 * Waits are generous for the lab VM's emulation; the grace is checked from both sides.
 */
const missing = etcdMissing()
const skip = rootSkipReason('host netns')
const SUBNET = '10.78.0.0/24'
const POOL = `lan,${SUBNET}`
const KEY: SubnetKey = { addressSpace: 'lan', subnet: SUBNET }
const PREFIX = '/ipvlan-lan-hosts-test/'
const NET = 'a'.repeat(64)
const EP1 = '1'.repeat(64)
const EP2 = '2'.repeat(64)
const GRACE_S = 10

test('a real etcd is installed (scripts/deps.sh installs etcd-server)', () => {
  assert.equal(missing, undefined, missing)
})

describe(
  'hosts on one etcd: heartbeats, dead-host reclaim, the comeback warning, one HOST_ID twice',
  { skip },
  () => {
    const hosts = etcdPlugins({ prefix: PREFIX, tmpName: 'ipvlan-lan-hosts-', missing })
    const { base, plugins, store } = hosts
    const holders = async () =>
      Object.fromEntries(
        (await store().read(KEY)).allocations.map((a) => [a.address, a.holders.map((h) => h.host)])
      )

    /** A plugin process as host `hostId` in a namespace of its own, with seconds-long IPAM timers. */
    const host = (hostId: string, extra: string[] = [], stateDir?: string) =>
      hosts.start({ netns: hosts.netns().name, stateDir, hostId, orphanAge: '2s', extra })
    const ask = async (plugin: PluginProcess, address = '') =>
      (
        await call(plugin.socket, 'IpamDriver.RequestAddress', {
          PoolID: POOL,
          Address: address,
          Options: {},
        })
      ).body

    let a: PluginProcess
    let bState: string

    test('host B: an orphan of its own is released after IPAM_ORPHAN_AGE; its endpoints’ addresses are kept', async () => {
      a = await host('node-a', ['--ipam-reclaim-after', `${GRACE_S}s`])
      bState = join(base, 'b-state')
      seedNetworkRecord(bState, NET, SUBNET, '10.78.0.254', 'lan')
      const b = await host('node-b', [], bState)
      await until('B proves HOST_ID node-b is its own', () => /heartbeat written/.test(b.output()))
      assert.deepEqual(await ask(b), { Address: '10.78.0.1/24', Data: {} })
      assert.deepEqual(await ask(b), { Address: '10.78.0.2/24', Data: {} })
      assert.deepEqual(await ask(b), { Address: '10.78.0.3/24', Data: {} }) // no endpoint: an orphan
      for (const [ep, address] of [
        [EP1, '10.78.0.1/24'],
        [EP2, '10.78.0.2/24'],
      ] as const) {
        const created = await call(b.socket, 'NetworkDriver.CreateEndpoint', {
          NetworkID: NET,
          EndpointID: ep,
          Interface: { Address: address, AddressIPv6: '', MacAddress: '' },
          Options: {},
        })
        assert.equal(created.status, 200, JSON.stringify(created.body))
      }
      await until(
        'B releases its orphan 10.78.0.3',
        async () => !('10.78.0.3' in (await holders()))
      )
      assert.match(
        b.output(),
        /level=warn msg="ipam: released an allocation of this host that no endpoint uses".*10\.78\.0\.3/
      )
      assert.deepEqual(await holders(), { '10.78.0.1': ['node-b'], '10.78.0.2': ['node-b'] })
    })

    test(`host B killed: its addresses are kept within IPAM_RECLAIM_AFTER (${GRACE_S}s), reclaimed by host A after it, loudly`, async () => {
      const b = plugins[1]
      assert.ok(b)
      await b.stop('SIGKILL')
      const killed = Date.now()
      await sleep((GRACE_S - 4) * 1000)
      assert.deepEqual(
        await holders(),
        { '10.78.0.1': ['node-b'], '10.78.0.2': ['node-b'] },
        'kept within the grace'
      )
      assert.doesNotMatch(a.output(), /RECLAIMED/)
      await until(
        'A reclaims node-b',
        async () => Object.keys(await holders()).length === 0,
        30_000
      )
      const waited = (Date.now() - killed) / 1000
      assert.ok(waited >= GRACE_S - 1.5, `reclaimed ${waited} s after the kill`)
      const line =
        a
          .output()
          .split('\n')
          .find((l) => /RECLAIMED/.test(l)) ?? ''
      assert.match(line, /^level=warn msg="ipam: RECLAIMED 2 address\(es\) of host node-b"/)
      assert.match(
        line,
        /"host":"node-b","by":"node-a".*"addresses":\["10\.78\.0\.1","10\.78\.0\.2"\].*"ageSeconds":(9|[1-9][0-9]+)/
      )
    })

    test('host B comes back: an error for each endpoint whose address was reclaimed, naming the new holder; a free one is taken back', async () => {
      // Meanwhile host A hands the lowest free address to one of its containers.
      assert.deepEqual(await ask(a), { Address: '10.78.0.1/24', Data: {} })
      const b = await host('node-b', [], bState)
      await until('B judges its endpoints', () =>
        /ADDRESS RECLAIMED: 10\.78\.0\.2/.test(b.output())
      )
      const lines = b
        .output()
        .split('\n')
        .filter((l) => l.startsWith('level=error'))
      assert.ok(
        lines.some((l) =>
          /ADDRESS RECLAIMED: 10\.78\.0\.1 of endpoint 111111111111 on this host is now held by host node-a.*"endpoint":"111111111111"/.test(
            l
          )
        ),
        b.output()
      )
      assert.ok(
        lines.some((l) =>
          /ADDRESS RECLAIMED: 10\.78\.0\.2 of endpoint 222222222222 .*taken back/.test(l)
        ),
        b.output()
      )
      assert.deepEqual(await holders(), { '10.78.0.1': ['node-a'], '10.78.0.2': ['node-b'] })
    })

    test('operator reclaim on another host’s socket: refused while the host beats, then releases all it held', async () => {
      const c = await host('node-c')
      await until('C proves its HOST_ID', () => /heartbeat written/.test(c.output()))
      assert.deepEqual(await ask(c), { Address: '10.78.0.3/24', Data: {} })
      let reply = await call(a.socket, 'IpamAdmin.ReclaimHost', { Host: 'node-c' })
      assert.equal(reply.status, 409)
      assert.match(String(reply.body['Error']), /node-c" wrote its heartbeat .* it looks alive/)
      await c.stop('SIGKILL')
      await sleep(3500) // three of its 1 s intervals
      reply = await call(a.socket, 'IpamAdmin.ReclaimHost', { Host: 'node-c' })
      assert.equal(reply.status, 200, JSON.stringify(reply.body))
      assert.deepEqual(reply.body['Released'], [
        { Subnet: SUBNET, Address: '10.78.0.3', Kind: 'dynamic' },
      ])
      assert.deepEqual(reply.body['Conflicts'], [])
      assert.ok(!('10.78.0.3' in (await holders())))
      assert.match(a.output(), /RECLAIMED 1 address\(es\) of host node-c.*"reason":"operator"/)
    })

    test('a second live process with HOST_ID node-a: it sees A beating, says so and refuses IPAM requests; A goes on', async () => {
      const twin = await host('node-a')
      await until('the twin detects A', () =>
        /ANOTHER LIVE PLUGIN PROCESS WRITES THIS HOST_ID/.test(twin.output())
      )
      const refused = await ask(twin)
      assert.match(
        String(refused['Error']),
        /^HOST_ID "node-a" is used by another live plugin process too/
      )
      assert.deepEqual(await ask(a), { Address: '10.78.0.3/24', Data: {} })
      assert.doesNotMatch(a.output(), /ANOTHER LIVE PLUGIN PROCESS/)
    })
  }
)
