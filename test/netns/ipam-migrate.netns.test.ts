import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { before, describe, test } from 'node:test'
import type { StoredAllocation, SubnetKey } from '../../src/driver/ports/ipam-store.ts'
import { etcdPlugins } from '../helpers/etcd-plugins.ts'
import { until } from '../helpers/poll.ts'
import { etcdMissing } from '../helpers/etcd-process.ts'
import { ipSync, kernelSupports, rootSkipReason } from '../helpers/netns.ts'
import type { PluginProcess } from '../helpers/plugin-process.ts'
import { call } from '../helpers/socket-client.ts'
import { seedNetworkRecord } from '../helpers/state.ts'

/**
 * Adding etcd later, against a real etcd (Debian's etcd-server, 3.4): a network made on the
 * embedded backend with --gateway, --aux-address (IPv4 and IPv6) and a container, the plugin
 * restarted with etcd and a HOST_ID of its own, and another host (another plugin process) on the
 * same etcd. The IPAM calls are Docker's, through the socket; CreateNetwork is real where the
 * kernel has ipvlan, and its record is seeded where not.
 */
const missing = etcdMissing()
const skip = rootSkipReason('IPAM migration netns')
const SUBNET = '10.79.0.0/24'
const RANGE = '10.79.0.0/28'
const RANGED = `lan,${SUBNET},${RANGE}`
const KEY: SubnetKey = { addressSpace: 'lan', subnet: SUBNET }
const V6 = '2001:db8:79::/64'
const V6_POOL = `lan,${V6}`
const V6_KEY: SubnetKey = { addressSpace: 'lan', subnet: V6 }
const PREFIX = '/ipvlan-lan-migrate-test/'
const NET = 'b'.repeat(64)
const EP1 = '3'.repeat(64)
const GATEWAY = { RequestAddressType: 'com.docker.network.gateway' }
/** The holder the embedded backend recorded: HOST_ID was not set, so the host name. */
const OLD_HOST = process.env['HOST_ID'] || hostname()
/** Reserved on node-a's network: gateway, two aux addresses; and its container's address. */
const RESERVED = ['10.79.0.1', '10.79.0.2', '10.79.0.5']
const CONTAINER = '10.79.0.3'

const count = (text: string, pattern: RegExp): number =>
  text.split('\n').filter((line) => pattern.test(line)).length

test('a real etcd is installed (scripts/deps.sh installs etcd-server)', () => {
  assert.equal(missing, undefined, missing)
})

describe(
  'adding etcd later: the gateways and aux addresses of a network made on the embedded backend are copied into etcd',
  { skip },
  () => {
    const hosts = etcdPlugins({ prefix: PREFIX, tmpName: 'ipvlan-lan-migrate-', missing })
    const { base, store } = hosts
    const aState = join(base, 'a-state')
    let ns: { name: string; remove: () => void } | undefined
    const entries = async (key: SubnetKey) =>
      new Map((await store().read(key)).allocations.map((a) => [a.address, a]))
    const plain = (entry: StoredAllocation | undefined) =>
      entry && { kind: entry.kind, holders: entry.holders }

    /** A plugin process on this test's netns with second-long timers; with `hostId`, on etcd. */
    const plugin = (stateDir: string | undefined, hostId?: string) =>
      hosts.start({ netns: ns?.name, stateDir, hostId, orphanAge: '60s' })
    const ask = async (
      on: PluginProcess,
      poolId: string,
      address = '',
      options: Record<string, string> | null = null
    ) =>
      (
        await call(on.socket, 'IpamDriver.RequestAddress', {
          PoolID: poolId,
          Address: address,
          Options: options,
        })
      ).body

    let ipvlan = false
    let a: PluginProcess
    let b: PluginProcess

    before(() => {
      ipvlan = kernelSupports('ipvlan')
      ns = hosts.netns()
      if (ipvlan) {
        ipSync('-n', ns.name, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'peer0')
        ipSync('-n', ns.name, 'link', 'set', 'eth0', 'up')
      }
    })

    test('on the embedded backend: a network with --gateway and --aux-address (IPv4, IPv6) and a container, held in the host’s own files only', async () => {
      // Without ipvlan in this kernel, the record CreateNetwork would write, seeded first.
      if (!ipvlan)
        seedNetworkRecord(aState, NET, SUBNET, '10.79.0.1', 'lan', {
          auxAddresses: ['10.79.0.2', '10.79.0.5'],
          ipv6: [
            {
              pool: V6,
              gateway: '2001:db8:79::1',
              addressSpace: 'lan',
              auxAddresses: ['2001:db8:79::2'],
            },
          ],
        })
      const embedded = await plugin(aState)
      const pool = await call(embedded.socket, 'IpamDriver.RequestPool', {
        AddressSpace: 'lan',
        Pool: SUBNET,
        SubPool: RANGE,
        Options: {},
        V6: false,
      })
      assert.equal(pool.body['PoolID'], RANGED, JSON.stringify(pool.body))
      const pool6 = await call(embedded.socket, 'IpamDriver.RequestPool', {
        AddressSpace: 'lan',
        Pool: V6,
        SubPool: '',
        Options: {},
        V6: true,
      })
      assert.equal(pool6.body['PoolID'], V6_POOL, JSON.stringify(pool6.body))
      // What dockerd asks before CreateNetwork: the gateway, then each aux address (no options).
      for (const [poolId, address, options, expected] of [
        [RANGED, '10.79.0.1', GATEWAY, '10.79.0.1/24'],
        [RANGED, '10.79.0.2', null, '10.79.0.2/24'],
        [RANGED, '10.79.0.5', null, '10.79.0.5/24'],
        [V6_POOL, '2001:db8:79::1', GATEWAY, '2001:db8:79::1/64'],
        [V6_POOL, '2001:db8:79::2', null, '2001:db8:79::2/64'],
      ] as const)
        assert.deepEqual(await ask(embedded, poolId, address, options), {
          Address: expected,
          Data: {},
        })
      if (ipvlan) {
        const created = await call(embedded.socket, 'NetworkDriver.CreateNetwork', {
          NetworkID: NET,
          Options: {
            'com.docker.network.generic': { parent: 'eth0', ipvlan_mode: 'l2' },
            'com.docker.network.enable_ipv6': true,
          },
          IPv4Data: [
            {
              AddressSpace: 'lan',
              Pool: SUBNET,
              Gateway: '10.79.0.1/24',
              AuxAddresses: { router: '10.79.0.2/24', printer: '10.79.0.5/24' },
            },
          ],
          IPv6Data: [
            {
              AddressSpace: 'lan',
              Pool: V6,
              Gateway: '2001:db8:79::1/64',
              AuxAddresses: { router6: '2001:db8:79::2/64' },
            },
          ],
        })
        assert.equal(created.status, 200, JSON.stringify(created.body))
      }
      assert.deepEqual(await ask(embedded, RANGED), { Address: `${CONTAINER}/24`, Data: {} })
      const endpoint = await call(embedded.socket, 'NetworkDriver.CreateEndpoint', {
        NetworkID: NET,
        EndpointID: EP1,
        Interface: { Address: `${CONTAINER}/24`, AddressIPv6: '', MacAddress: '' },
        Options: {},
      })
      assert.equal(endpoint.status, 200, JSON.stringify(endpoint.body))
      await embedded.stop()
      const file = JSON.parse(
        readFileSync(join(aState, 'ipam', 'lan', '10.79.0.0_24.json'), 'utf8')
      ) as { allocations: StoredAllocation[] }
      assert.deepEqual(
        file.allocations.map((e) => `${e.address} ${e.kind} ${e.holders.map((h) => h.host)}`),
        [
          `10.79.0.1 gateway ${OLD_HOST}`,
          `10.79.0.2 static ${OLD_HOST}`,
          `10.79.0.3 dynamic ${OLD_HOST}`,
          `10.79.0.5 static ${OLD_HOST}`,
        ]
      )
      assert.deepEqual((await store().read(KEY)).allocations, [], 'nothing in etcd yet')
    })

    test('meanwhile host B, on etcd from the start, made the same network (its share of the gateway), and one of its containers got the aux address 10.79.0.2: the gap', async () => {
      b = await plugin(join(base, 'b-state'), 'node-b')
      await until('B proves its HOST_ID', () => /heartbeat written/.test(b.output()))
      assert.deepEqual(await ask(b, RANGED, '10.79.0.1', GATEWAY), {
        Address: '10.79.0.1/24',
        Data: {},
      })
      assert.deepEqual(await ask(b, RANGED), { Address: '10.79.0.2/24', Data: {} })
    })

    test('restarted with ETCD_ENDPOINTS and HOST_ID node-a: after one reconciliation its gateways and aux addresses are held in etcd by node-a, the gateway shared with node-b; the aux address B’s container holds is an error naming address, network and holder', async () => {
      a = await plugin(aState, 'node-a')
      await until('the first reconciliation pass of A', () =>
        /msg="ipam reconciliation pass"/.test(a.output())
      )
      const first =
        a
          .output()
          .split('\n')
          .find((l) => /msg="ipam reconciliation pass"/.test(l)) ?? ''
      assert.match(first, /^level=info /)
      const copied = /"copied":\[([^\]]*)\]/.exec(first)?.[1]?.split(',').sort()
      assert.deepEqual(copied, [
        '"10.79.0.1"',
        '"10.79.0.5"',
        '"2001:db8:79::1"',
        '"2001:db8:79::2"',
      ])
      assert.match(first, /"reservationsHeldElsewhere":\["10\.79\.0\.2"\]/)
      assert.match(first, /"retaken":\["10\.79\.0\.3"\]/)

      const v4 = await entries(KEY)
      assert.deepEqual(plain(v4.get('10.79.0.1')), {
        kind: 'gateway',
        holders: [
          { host: 'node-b', poolId: RANGED, options: GATEWAY },
          { host: 'node-a', poolId: RANGED, options: GATEWAY },
        ],
      })
      assert.deepEqual(plain(v4.get('10.79.0.5')), {
        kind: 'static',
        holders: [{ host: 'node-a', poolId: RANGED }],
      })
      assert.deepEqual(plain(v4.get('10.79.0.2')), {
        kind: 'dynamic',
        holders: [{ host: 'node-b', poolId: RANGED }],
      })
      assert.deepEqual(
        v4.get(CONTAINER)?.holders.map((h) => h.host),
        ['node-a']
      )
      const v6 = await entries(V6_KEY)
      assert.deepEqual(plain(v6.get('2001:db8:79::1')), {
        kind: 'gateway',
        holders: [{ host: 'node-a', poolId: V6_POOL, options: GATEWAY }],
      })
      assert.deepEqual(plain(v6.get('2001:db8:79::2')), {
        kind: 'static',
        holders: [{ host: 'node-a', poolId: V6_POOL }],
      })

      const out = a.output()
      assert.equal(
        count(
          out,
          /^level=info msg="ipam: copied the gateway 10\.79\.0\.1 of network bbbbbbbbbbbb from this host's embedded IPAM table into etcd"/
        ),
        1,
        out
      )
      assert.match(
        out,
        /level=error msg="ipam: NOT COPIED INTO ETCD: the aux address 10\.79\.0\.2 of network bbbbbbbbbbbb on this host is held by host node-b as a dynamic address; .*"holders":\["node-b"\]/
      )
    })

    test('the pass again and again changes nothing (same revisions, each copy said once); once B’s container is gone, the aux address is copied', async () => {
      const before = [...(await entries(KEY)).values(), ...(await entries(V6_KEY)).values()]
      assert.equal(before.length, 6) // 4 IPv4 (gateway, 2 aux, container), 2 IPv6
      const passes = count(a.output(), /msg="ipam reconciliation pass"/)
      await until(
        'three more passes of A',
        () => count(a.output(), /msg="ipam reconciliation pass"/) >= passes + 3
      )
      const later = [...(await entries(KEY)).values(), ...(await entries(V6_KEY)).values()]
      assert.deepEqual(later, before)
      assert.equal(count(a.output(), /msg="ipam: copied the /), 4, a.output())
      assert.ok(count(a.output(), /NOT COPIED INTO ETCD: the aux address 10\.79\.0\.2/) >= 4)

      const released = await call(b.socket, 'IpamDriver.ReleaseAddress', {
        PoolID: RANGED,
        Address: '10.79.0.2',
      })
      assert.equal(released.status, 200, JSON.stringify(released.body))
      await until('A copies 10.79.0.2', () =>
        /msg="ipam: copied the aux address 10\.79\.0\.2/.test(a.output())
      )
      assert.deepEqual(plain((await entries(KEY)).get('10.79.0.2')), {
        kind: 'static',
        holders: [{ host: 'node-a', poolId: RANGED }],
      })
    })

    test('host B allocates dynamically from an ip-range that covers them: never a gateway, aux or container address of node-a, until the range is full', async () => {
      const got: string[] = []
      let last: Record<string, unknown> = {}
      for (let i = 0; i < 20; i++) {
        last = await ask(b, RANGED)
        if (typeof last['Address'] !== 'string') break
        got.push(last['Address'].split('/')[0] ?? '')
      }
      // The /28 lies in the /24: .1 to .15 are usable, 4 of them node-a's.
      assert.equal(got.length, 11, JSON.stringify(got))
      for (const address of [...RESERVED, CONTAINER]) assert.ok(!got.includes(address), address)
      assert.match(String(last['Error']), /no free address left in ip-range 10\.79\.0\.0\/28/)
      const v6 = await ask(b, V6_POOL)
      assert.deepEqual(v6, { Address: '2001:db8:79::3/64', Data: {} })
    })
  }
)
