import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { IpvlanDriver } from '../../src/driver/driver.ts'
import { endpointLinkName } from '../../src/driver/naming.ts'
import { createApp } from '../../src/http/app.ts'
import type { IpvlanSpec, LinkInfo } from '../../src/driver/ports/link-layer.ts'
import { silentLogger } from '../../src/log.ts'
import { FakeLinkLayer } from '../fakes/fake-link-layer.ts'
import { id } from '../fakes/ids.ts'
import { MemoryStore } from '../fakes/memory-store.ts'

/**
 * Many requests at once through the HTTP app, over a fake kernel whose every call takes a little
 * time and counts how many calls are in flight per network at the same moment.
 */

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** A held-open point in a link call, released by the test. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void
  const promise = new Promise<void>((resolve) => {
    open = resolve
  })
  return { promise, open }
}

class SlowLinks extends FakeLinkLayer {
  delayMs = 1
  /** Maps a link name (parent or endpoint link) to the network it belongs to. */
  readonly owner = new Map<string, string>()
  private readonly inFlight = new Map<string, number>()
  readonly maxPerNetwork = new Map<string, number>()
  private global = 0
  maxGlobal = 0
  /** When set, addIpvlan of that link name waits here after entering. */
  holdAddIpvlan: { name: string; entered: () => void; release: Promise<void> } | undefined

  private async track<T>(link: string, run: () => Promise<T>): Promise<T> {
    const key = this.owner.get(link) ?? 'unknown'
    const now = (this.inFlight.get(key) ?? 0) + 1
    this.inFlight.set(key, now)
    this.maxPerNetwork.set(key, Math.max(this.maxPerNetwork.get(key) ?? 0, now))
    this.global++
    this.maxGlobal = Math.max(this.maxGlobal, this.global)
    try {
      await sleep(this.delayMs)
      return await run()
    } finally {
      this.inFlight.set(key, (this.inFlight.get(key) ?? 1) - 1)
      this.global--
    }
  }

  override list(): Promise<LinkInfo[]> {
    return this.track('', () => super.list())
  }
  override show(name: string): Promise<LinkInfo | undefined> {
    return this.track(name, () => super.show(name))
  }
  override addIpvlan(spec: IpvlanSpec): Promise<void> {
    return this.track(spec.parent, async () => {
      const hold = this.holdAddIpvlan
      if (hold && hold.name === spec.name) {
        hold.entered()
        await hold.release
      }
      await super.addIpvlan(spec)
    })
  }
  override probeIpvlan(spec: IpvlanSpec): Promise<void> {
    return this.track(spec.parent, () => super.probeIpvlan(spec))
  }
  override addVlan(spec: {
    name: string
    master: string
    vlanId: number
    alias: string
  }): Promise<void> {
    return this.track(spec.name, () => super.addVlan(spec))
  }
  override addDummy(spec: { name: string; alias: string }): Promise<void> {
    return this.track(spec.name, () => super.addDummy(spec))
  }
  override setUp(name: string): Promise<void> {
    return this.track(name, () => super.setUp(name))
  }
  override remove(name: string): Promise<boolean> {
    return this.track(name, () => super.remove(name))
  }
}

interface Reply {
  status: number
  body: Record<string, unknown>
}

async function setup(existing = ['eth0', 'eth1']) {
  const links = new SlowLinks(existing)
  const store = new MemoryStore()
  const driver = await IpvlanDriver.open({ links, store, log: silentLogger })
  const app = createApp({ driver, log: silentLogger })
  const post = async (method: string, body: unknown): Promise<Reply> => {
    const res = await app.request(`/NetworkDriver.${method}`, {
      method: 'POST',
      body: JSON.stringify(body) + '\n',
    })
    const text = await res.text()
    return { status: res.status, body: JSON.parse(text) as Record<string, unknown> }
  }
  return { links, store, driver, post }
}

type Env = Awaited<ReturnType<typeof setup>>

const networkBody = (networkId: string, parent?: string) => ({
  NetworkID: networkId,
  Options: {
    'com.docker.network.enable_ipv4': true,
    'com.docker.network.enable_ipv6': false,
    'com.docker.network.generic': parent === undefined ? {} : { parent },
  },
  IPv4Data: [{ AddressSpace: 'LocalDefault', Pool: '10.30.0.0/16', Gateway: '10.30.0.1/16' }],
  IPv6Data: [],
})

async function createNetwork(env: Env, networkId: string, parent: string): Promise<void> {
  env.links.owner.set(parent, networkId)
  const reply = await env.post('CreateNetwork', networkBody(networkId, parent))
  assert.deepEqual(reply, { status: 200, body: {} })
}

/** CreateEndpoint, Join, Leave, DeleteEndpoint in order; returns the replies and SrcName. */
async function lifecycle(
  env: Env,
  networkId: string,
  endpointId: string,
  index: number
): Promise<{ replies: [string, Reply][]; srcName: unknown }> {
  const ids = { NetworkID: networkId, EndpointID: endpointId }
  const replies: [string, Reply][] = []
  replies.push([
    'CreateEndpoint',
    await env.post('CreateEndpoint', {
      ...ids,
      Interface: {
        Address: `10.30.${Math.floor(index / 250)}.${(index % 250) + 2}/16`,
        AddressIPv6: '',
        MacAddress: '',
      },
      Options: {},
    }),
  ])
  const joined = await env.post('Join', {
    ...ids,
    SandboxKey: `/var/run/netns/${index}`,
    Options: {},
  })
  replies.push(['Join', joined])
  replies.push(['Leave', await env.post('Leave', ids)])
  replies.push(['DeleteEndpoint', await env.post('DeleteEndpoint', ids)])
  const name = joined.body['InterfaceName'] as { SrcName?: unknown } | undefined
  return { replies, srcName: name?.SrcName }
}

function endpointIds(label: string, count: number, networkId: string, env: Env): string[] {
  return Array.from({ length: count }, (_, i) => {
    const endpointId = id(`${label}-${i}`)
    env.links.owner.set(endpointLinkName(endpointId), networkId)
    return endpointId
  })
}

describe('concurrent requests', () => {
  test('100 endpoint lifecycles at once on one network: no error, distinct links, nothing left', async () => {
    const env = await setup(['eth0'])
    const net = id('conc-one')
    await createNetwork(env, net, 'eth0')
    const eps = endpointIds('conc-one-ep', 100, net, env)
    assert.equal(new Set(eps.map(endpointLinkName)).size, 100, 'test ids give distinct names')

    const results = await Promise.all(eps.map((ep, i) => lifecycle(env, net, ep, i)))

    for (const [i, result] of results.entries()) {
      for (const [method, reply] of result.replies) {
        assert.equal(reply.status, 200, `lifecycle ${i} ${method}: ${JSON.stringify(reply.body)}`)
        assert.ok(!('Err' in reply.body))
      }
    }
    const srcNames = results.map((r) => r.srcName)
    assert.ok(srcNames.every((name) => typeof name === 'string'))
    assert.equal(new Set(srcNames).size, 100, 'every Join got its own link')
    assert.deepEqual([...env.links.links.keys()], ['eth0'], 'only the parent is left')
    assert.deepEqual(env.driver.endpoints(), [])
    assert.equal(env.store.endpoints.size, 0, 'no endpoint record left')
    assert.equal(env.driver.networks().length, 1)
    assert.equal(env.links.calls.filter((c) => c.method === 'addIpvlan').length, 100)
    assert.equal(env.links.maxPerNetwork.get(net), 1, 'one link call at a time per network')
  })

  test('two networks: calls of one network never overlap, calls of different networks do', async () => {
    const env = await setup(['eth0', 'eth1'])
    const netA = id('conc-two-a')
    const netB = id('conc-two-b')
    await createNetwork(env, netA, 'eth0')
    await createNetwork(env, netB, 'eth1')
    const epsA = endpointIds('conc-two-a-ep', 50, netA, env)
    const epsB = endpointIds('conc-two-b-ep', 50, netB, env)

    const results = await Promise.all([
      ...epsA.map((ep, i) => lifecycle(env, netA, ep, i)),
      ...epsB.map((ep, i) => lifecycle(env, netB, ep, i)),
    ])

    for (const result of results)
      for (const [method, reply] of result.replies)
        assert.equal(reply.status, 200, `${method}: ${JSON.stringify(reply.body)}`)
    assert.equal(new Set(results.map((r) => r.srcName)).size, 100)
    assert.equal(env.links.maxPerNetwork.get(netA), 1, 'network A serialised')
    assert.equal(env.links.maxPerNetwork.get(netB), 1, 'network B serialised')
    assert.ok(env.links.maxGlobal >= 2, `networks ran in parallel (max ${env.links.maxGlobal})`)
    assert.deepEqual([...env.links.links.keys()].sort(), ['eth0', 'eth1'])
    assert.equal(env.store.endpoints.size, 0)
  })

  for (const parent of ['eth0', 'eth0.10']) {
    test(`two different networks created at once on the same parent ${parent}: exactly one wins`, async () => {
      for (let round = 0; round < 5; round++) {
        const env = await setup(['eth0'])
        const nets = [
          id(`same-parent-${parent}-${round}-a`),
          id(`same-parent-${parent}-${round}-b`),
        ]
        const replies = await Promise.all(
          nets.map((net) => env.post('CreateNetwork', networkBody(net, parent)))
        )
        const won = replies.filter((r) => r.status === 200)
        const lost = replies.filter((r) => r.status !== 200)
        assert.equal(won.length, 1, JSON.stringify(replies))
        assert.equal(lost.length, 1)
        assert.equal(lost[0]?.status, 500)
        assert.match(
          String(lost[0]?.body['Err']),
          new RegExp(`already using parent interface "${parent.replace('.', '\\.')}"`)
        )
        const winner = nets[replies.indexOf(won[0] as Reply)]
        assert.deepEqual(
          env.driver.networks().map((n) => n.id),
          [winner]
        )
        assert.deepEqual([...env.store.networks.keys()], [winner])
        assert.ok(env.links.links.has(parent), 'the parent is still there')
        if (parent === 'eth0.10') {
          assert.equal(env.links.calls.filter((c) => c.method === 'addVlan').length, 1)
          assert.deepEqual(await env.post('DeleteNetwork', { NetworkID: winner }), {
            status: 200,
            body: {},
          })
          assert.deepEqual([...env.links.links.keys()], ['eth0'], 'the 802.1Q parent went with it')
        }
      }
    })
  }

  test('DeleteNetwork racing CreateEndpoint and Join never leaves an endpoint without its network', async () => {
    const outcomes = { created: 0, refused: 0, joined: 0 }
    for (let round = 0; round < 40; round++) {
      const env = await setup(['eth0'])
      env.links.delayMs = round % 3
      const net = id(`race-net-${round}`)
      const parent = round % 2 === 0 ? 'eth0' : undefined
      const created = await env.post('CreateNetwork', networkBody(net, parent))
      assert.equal(created.status, 200, JSON.stringify(created.body))
      const old = id(`race-old-${round}`)
      assert.equal(
        (
          await env.post('CreateEndpoint', {
            NetworkID: net,
            EndpointID: old,
            Interface: { Address: '10.30.0.2/16' },
          })
        ).status,
        200
      )
      const fresh = [0, 1, 2].map((i) => id(`race-new-${round}-${i}`))
      const ops: Promise<[string, Reply]>[] = []
      const launch = (name: string, method: string, body: unknown, after: number): void => {
        ops.push(
          sleep(after).then(async () => [name, await env.post(method, body)] as [string, Reply])
        )
      }
      const at = (k: number): number => (round + k) % 3
      launch('delete', 'DeleteNetwork', { NetworkID: net }, at(0))
      for (const [i, ep] of fresh.entries()) {
        launch(
          `create ${i}`,
          'CreateEndpoint',
          { NetworkID: net, EndpointID: ep, Interface: { Address: `10.30.0.${i + 3}/16` } },
          at(i + 1)
        )
        launch(`join ${i}`, 'Join', { NetworkID: net, EndpointID: ep }, at(i + 2))
      }
      launch('join old', 'Join', { NetworkID: net, EndpointID: old }, at(1))
      const replies = await Promise.all(ops)

      for (const [name, reply] of replies) {
        if (name.startsWith('create')) outcomes[reply.status === 200 ? 'created' : 'refused']++
        if (name.startsWith('join') && reply.status === 200) outcomes.joined++
        if (reply.status === 200) continue
        assert.equal(reply.status, 500, `${name}: ${JSON.stringify(reply.body)}`)
        assert.match(
          String(reply.body['Err']),
          /not found/,
          `${name}: ${JSON.stringify(reply.body)}`
        )
      }
      assert.equal(replies.find(([name]) => name === 'delete')?.[1].status, 200)
      assert.deepEqual(env.driver.networks(), [], `round ${round}: network deleted`)
      assert.deepEqual(
        env.driver.endpoints(),
        [],
        `round ${round}: no endpoint outlives its network`
      )
      assert.equal(env.store.networks.size + env.store.endpoints.size, 0, `round ${round}: store`)
      assert.deepEqual([...env.links.links.keys()], ['eth0'], `round ${round}: no link left`)
    }
    // Both orders happened, or the race was not exercised.
    assert.ok(
      outcomes.created > 0 && outcomes.refused > 0 && outcomes.joined > 0,
      JSON.stringify(outcomes)
    )
  })

  test(
    'DeleteEndpoint naming another network cannot pull an endpoint from under its Join',
    {},
    async () => {
      const env = await setup(['eth0', 'eth1'])
      const netA = id('wrong-net-a')
      const netB = id('wrong-net-b')
      await createNetwork(env, netA, 'eth0')
      await createNetwork(env, netB, 'eth1')
      const ep = id('wrong-net-ep')
      const ids = { NetworkID: netA, EndpointID: ep }
      assert.equal((await env.post('CreateEndpoint', { ...ids, Interface: {} })).status, 200)
      const entered = gate()
      const release = gate()
      env.links.holdAddIpvlan = {
        name: endpointLinkName(ep),
        entered: entered.open,
        release: release.promise,
      }
      const joining = env.post('Join', ids)
      await entered.promise
      // The delete names the wrong network, yet must queue behind the Join on the right one.
      const deleting = env.post('DeleteEndpoint', { NetworkID: netB, EndpointID: ep })
      await new Promise((resolve) => setTimeout(resolve, 20))
      assert.ok(
        env.driver.endpoints().some((e) => e.id === ep),
        'not deleted while Join runs'
      )
      release.open()
      const joined = await joining
      const deleted = await deleting
      assert.equal(joined.status, 200)
      assert.equal(deleted.status, 200)
      // Whatever the answer, a link must never outlive its endpoint record.
      const linkLeft = env.links.links.has(endpointLinkName(ep))
      const recordLeft = env.driver.endpoints().some((e) => e.id === ep)
      assert.ok(!linkLeft || recordLeft, 'the joined link is left with no endpoint record')
    }
  )
})
