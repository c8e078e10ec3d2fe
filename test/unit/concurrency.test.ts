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
 * time. The tests assert safety on the outcome, not how the driver schedules its work: no two
 * links of one name are ever live at once (the fake records every add of a live name), no record
 * is lost, nothing is left after the deletes, no request fails. Each test also checks that its
 * requests really were in flight together, so it cannot pass by running them one by one.
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

type AddKind = 'ipvlan' | 'probe' | 'vlan' | 'dummy'

class SlowLinks extends FakeLinkLayer {
  delayMs = 1
  private inFlight = 0
  /** Most link calls in flight at one moment, over the whole run. */
  maxInFlight = 0
  /** Names being created right now; with `links`, the names that are live. */
  private readonly adding = new Set<string>()
  /** Every add of a name that was live at that moment ("method name"): a duplicate link. */
  readonly duplicateAdds: string[] = []
  /** Links this fake created, by kind (a probe is created and deleted in one call). */
  readonly created: Record<AddKind, number> = { ipvlan: 0, probe: 0, vlan: 0, dummy: 0 }
  /** When set, addIpvlan of that link name waits here after entering. */
  holdAddIpvlan: { name: string; entered: () => void; release: Promise<void> } | undefined

  private async track<T>(run: () => Promise<T>): Promise<T> {
    this.inFlight++
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight)
    try {
      await sleep(this.delayMs)
      return await run()
    } finally {
      this.inFlight--
    }
  }

  /** Records an add of a live name, then creates; the name is live from here on. */
  private async add(kind: AddKind, name: string, create: () => Promise<void>): Promise<void> {
    if (this.links.has(name) || this.adding.has(name)) this.duplicateAdds.push(`${kind} ${name}`)
    this.adding.add(name)
    try {
      await create()
      this.created[kind]++
    } finally {
      this.adding.delete(name)
    }
  }

  override list(): Promise<LinkInfo[]> {
    return this.track(() => super.list())
  }
  override show(name: string): Promise<LinkInfo | undefined> {
    return this.track(() => super.show(name))
  }
  override addIpvlan(spec: IpvlanSpec): Promise<void> {
    return this.track(async () => {
      const hold = this.holdAddIpvlan
      if (hold && hold.name === spec.name) {
        hold.entered()
        await hold.release
      }
      await this.add('ipvlan', spec.name, () => super.addIpvlan(spec))
    })
  }
  override probeIpvlan(spec: IpvlanSpec): Promise<void> {
    return this.track(() => this.add('probe', spec.name, () => super.probeIpvlan(spec)))
  }
  override addVlan(spec: {
    name: string
    master: string
    vlanId: number
    alias: string
  }): Promise<void> {
    return this.track(() => this.add('vlan', spec.name, () => super.addVlan(spec)))
  }
  override addDummy(spec: { name: string; alias: string }): Promise<void> {
    return this.track(() => this.add('dummy', spec.name, () => super.addDummy(spec)))
  }
  override setUp(name: string): Promise<void> {
    return this.track(() => super.setUp(name))
  }
  override remove(name: string): Promise<boolean> {
    return this.track(() => super.remove(name))
  }
}

interface Reply {
  status: number
  body: Record<string, unknown>
}

async function setup(existing = ['eth0', 'eth1'], { earlyLinks = true } = {}) {
  const links = new SlowLinks(existing)
  const store = new MemoryStore()
  const driver = await IpvlanDriver.open({
    hostId: 'node-a',
    links,
    store,
    log: silentLogger,
    earlyLinks,
  })
  const app = createApp({ driver, log: silentLogger })
  /** HTTP requests in flight now, and the most at one moment since the test last reset `max`. */
  const requests = { inFlight: 0, max: 0 }
  const post = async (method: string, body: unknown): Promise<Reply> => {
    requests.inFlight++
    requests.max = Math.max(requests.max, requests.inFlight)
    try {
      const res = await app.request(`/NetworkDriver.${method}`, {
        method: 'POST',
        body: JSON.stringify(body) + '\n',
      })
      const text = await res.text()
      return { status: res.status, body: JSON.parse(text) as Record<string, unknown> }
    } finally {
      requests.inFlight--
    }
  }
  return { links, store, driver, post, requests, existing }
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

async function createNetwork(env: Env, networkId: string, parent?: string): Promise<void> {
  const reply = await env.post('CreateNetwork', networkBody(networkId, parent))
  assert.deepEqual(reply, { status: 200, body: {} })
}

const endpointBody = (networkId: string, endpointId: string, index: number) => ({
  NetworkID: networkId,
  EndpointID: endpointId,
  Interface: {
    Address: `10.30.${Math.floor(index / 250)}.${(index % 250) + 2}/16`,
    AddressIPv6: '',
    MacAddress: '',
  },
  Options: {},
})

const srcNameOf = (reply: Reply): unknown =>
  (reply.body['InterfaceName'] as { SrcName?: unknown } | undefined)?.SrcName

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
    await env.post('CreateEndpoint', endpointBody(networkId, endpointId, index)),
  ])
  const joined = await env.post('Join', {
    ...ids,
    SandboxKey: `/var/run/netns/${index}`,
    Options: {},
  })
  replies.push(['Join', joined])
  replies.push(['Leave', await env.post('Leave', ids)])
  replies.push(['DeleteEndpoint', await env.post('DeleteEndpoint', ids)])
  return { replies, srcName: srcNameOf(joined) }
}

function endpointIds(label: string, count: number): string[] {
  const eps = Array.from({ length: count }, (_, i) => id(`${label}-${i}`))
  assert.equal(new Set(eps.map(endpointLinkName)).size, count, 'test ids give distinct names')
  return eps
}

interface Plan {
  network: string
  /** The parent link the network's endpoint links must hang off. */
  parent: string
  endpoints: string[]
}

function assertAllOk(replies: Iterable<[string, Reply]>): number {
  let count = 0
  for (const [what, reply] of replies) {
    assert.equal(reply.status, 200, `${what}: ${JSON.stringify(reply.body)}`)
    assert.ok(!('Err' in reply.body), `${what}: ${JSON.stringify(reply.body)}`)
    count++
  }
  return count
}

/**
 * Phase 1: CreateEndpoint then Join for every endpoint of every plan, all at once. Then every
 * endpoint has its record (store and driver) and exactly one live link under its Join's SrcName.
 */
async function createAndJoinAll(env: Env, plans: Plan[]): Promise<void> {
  const total = plans.reduce((n, plan) => n + plan.endpoints.length, 0)
  env.requests.max = 0
  const results = await Promise.all(
    plans.flatMap((plan) =>
      plan.endpoints.map(async (ep, i) => {
        const ids = { NetworkID: plan.network, EndpointID: ep }
        const created = await env.post('CreateEndpoint', endpointBody(plan.network, ep, i))
        const joined = await env.post('Join', { ...ids, SandboxKey: `/x/${i}`, Options: {} })
        return { plan, ep, created, joined }
      })
    )
  )
  assert.equal(env.requests.max, total, `all ${total} endpoints had a request in flight at once`)
  assert.equal(
    assertAllOk(
      results.flatMap((r): [string, Reply][] => [
        [`CreateEndpoint ${r.ep}`, r.created],
        [`Join ${r.ep}`, r.joined],
      ])
    ),
    2 * total
  )
  assert.deepEqual(env.links.duplicateAdds, [], 'no link name was added while live')

  // No lost record: every endpoint is in the store and in the driver's view, and nothing else.
  assert.equal(env.store.endpoints.size, total, 'endpoint records in the store')
  assert.equal(env.driver.endpoints().length, total, 'endpoints in the driver')
  const viewed = new Map(env.driver.endpoints().map((e) => [e.id, e]))
  const srcNames = new Set<string>()
  for (const { plan, ep, joined } of results) {
    const srcName = srcNameOf(joined)
    assert.equal(typeof srcName, 'string', `Join ${ep} named its link`)
    srcNames.add(srcName as string)
    const stored = env.store.endpoints.get(ep)
    assert.equal(stored?.networkId, plan.network, `stored record of ${ep}`)
    assert.equal(stored?.ifname, srcName, `stored link name of ${ep}`)
    assert.equal(viewed.get(ep)?.networkId, plan.network, `driver's record of ${ep}`)
    assert.equal(viewed.get(ep)?.ifname, srcName, `driver's link name of ${ep}`)
    const link = env.links.links.get(srcName as string)
    assert.equal(link?.kind, 'ipvlan', `the link of ${ep} is live`)
    assert.equal(link?.parent, plan.parent, `the link of ${ep} hangs off its network's parent`)
  }
  assert.equal(srcNames.size, total, 'every Join got its own link')
  const live = [...env.links.links.values()].filter((l) => l.kind === 'ipvlan').map((l) => l.name)
  assert.deepEqual(live.sort(), [...srcNames].sort(), 'exactly the joined links are live')
  assert.equal(env.links.created.ipvlan, total, 'one ipvlan link created per Join, no more')
}

/** Phase 2: Leave then DeleteEndpoint for every endpoint, all at once; no endpoint is left. */
async function leaveAndDeleteAll(env: Env, plans: Plan[]): Promise<void> {
  const total = plans.reduce((n, plan) => n + plan.endpoints.length, 0)
  env.requests.max = 0
  const results = await Promise.all(
    plans.flatMap((plan) =>
      plan.endpoints.map(async (ep): Promise<[string, Reply][]> => {
        const ids = { NetworkID: plan.network, EndpointID: ep }
        const left = await env.post('Leave', ids)
        return [
          [`Leave ${ep}`, left],
          [`DeleteEndpoint ${ep}`, await env.post('DeleteEndpoint', ids)],
        ]
      })
    )
  )
  assert.equal(env.requests.max, total, `all ${total} endpoints had a request in flight at once`)
  assert.equal(assertAllOk(results.flat()), 2 * total)
  assert.deepEqual(
    [...env.links.links.values()].filter((l) => l.kind === 'ipvlan').map((l) => l.name),
    [],
    'no endpoint link left'
  )
  assert.equal(env.store.endpoints.size, 0, 'no endpoint record left in the store')
  assert.deepEqual(env.driver.endpoints(), [], 'no endpoint left in the driver')
  assert.equal(env.driver.networks().length, plans.length, 'the networks are still there')
}

/** After the networks are deleted: the kernel is as it was, the store and the driver empty. */
function assertNothingLeft(env: Env): void {
  assert.deepEqual([...env.links.links.keys()].sort(), [...env.existing].sort(), 'kernel')
  assert.deepEqual(env.links.owned(), [], 'no link of ours')
  assert.equal(env.store.networks.size, 0, 'no network record in the store')
  assert.equal(env.store.endpoints.size, 0, 'no endpoint record in the store')
  assert.deepEqual(env.driver.networks(), [])
  assert.deepEqual(env.driver.endpoints(), [])
  assert.deepEqual(env.links.duplicateAdds, [], 'no link name was added while live')
}

describe('concurrent requests', () => {
  test('100 endpoints of one network created and joined at once, then left and deleted at once: every record kept, no duplicate link, nothing left', async () => {
    const env = await setup(['eth0'])
    const plan: Plan = {
      network: id('conc-one'),
      parent: 'eth0',
      endpoints: endpointIds('conc-one-ep', 100),
    }
    await createNetwork(env, plan.network, 'eth0')

    await createAndJoinAll(env, [plan])
    await leaveAndDeleteAll(env, [plan])

    assert.deepEqual(await env.post('DeleteNetwork', { NetworkID: plan.network }), {
      status: 200,
      body: {},
    })
    assertNothingLeft(env)
  })

  test('100 whole endpoint lifecycles at once on one network: no error, distinct links, nothing left', async () => {
    const env = await setup(['eth0'])
    const net = id('conc-life')
    await createNetwork(env, net, 'eth0')
    const eps = endpointIds('conc-life-ep', 100)

    env.requests.max = 0
    const results = await Promise.all(eps.map((ep, i) => lifecycle(env, net, ep, i)))

    assert.equal(env.requests.max, 100, 'all 100 lifecycles had a request in flight at once')
    assert.equal(
      assertAllOk(
        results.flatMap((r, i) =>
          r.replies.map(([method, reply]): [string, Reply] => [`lifecycle ${i} ${method}`, reply])
        )
      ),
      400
    )
    const srcNames = results.map((r) => r.srcName)
    assert.ok(srcNames.every((name) => typeof name === 'string'))
    assert.equal(new Set(srcNames).size, 100, 'every Join got its own link')
    assert.equal(env.links.created.ipvlan, 100, 'one ipvlan link created per Join, no more')
    assert.deepEqual(env.links.duplicateAdds, [], 'no link name was added while live')
    assert.deepEqual([...env.links.links.keys()], ['eth0'], 'only the parent is left')
    assert.deepEqual(env.driver.endpoints(), [])
    assert.equal(env.store.endpoints.size, 0, 'no endpoint record left')
    assert.equal(env.driver.networks().length, 1)

    assert.equal((await env.post('DeleteNetwork', { NetworkID: net })).status, 200)
    assertNothingLeft(env)
  })

  test('three networks (two existing parents, one dummy) created, filled, emptied and deleted at once: every record kept, no duplicate link, nothing left', async () => {
    const env = await setup(['eth0', 'eth1'])
    const [netA, netB, netC] = [id('conc-multi-a'), id('conc-multi-b'), id('conc-multi-c')]

    env.requests.max = 0
    await Promise.all([
      createNetwork(env, netA, 'eth0'),
      createNetwork(env, netB, 'eth1'),
      createNetwork(env, netC), // no parent option: the driver makes a dummy parent
    ])
    assert.equal(env.requests.max, 3, 'the three CreateNetwork were in flight at once')
    assert.equal(env.driver.networks().length, 3)
    assert.equal(env.store.networks.size, 3)
    const made = [...env.links.links.values()].filter((l) => !env.existing.includes(l.name))
    assert.deepEqual(
      made.map((l) => l.kind),
      ['dummy'],
      'one link made: the dummy parent'
    )
    assert.deepEqual(env.links.duplicateAdds, [], 'no probe or parent name added while live')

    const plans: Plan[] = [
      { network: netA, parent: 'eth0', endpoints: endpointIds('conc-multi-a-ep', 40) },
      { network: netB, parent: 'eth1', endpoints: endpointIds('conc-multi-b-ep', 40) },
      { network: netC, parent: made[0]?.name ?? '', endpoints: endpointIds('conc-multi-c-ep', 40) },
    ]
    assert.equal(new Set(plans.flatMap((p) => p.endpoints)).size, 120, 'distinct endpoint ids')

    await createAndJoinAll(env, plans)
    await leaveAndDeleteAll(env, plans)

    env.requests.max = 0
    const deleted = await Promise.all(
      plans.map(async (p): Promise<[string, Reply]> => [
        `DeleteNetwork ${p.network}`,
        await env.post('DeleteNetwork', { NetworkID: p.network }),
      ])
    )
    assert.equal(env.requests.max, 3, 'the three DeleteNetwork were in flight at once')
    assert.equal(assertAllOk(deleted), 3)
    assertNothingLeft(env)
    // Link calls of different networks overlapped at least once, or the run proved little.
    assert.ok(env.links.maxInFlight > 1, `link calls overlapped (max ${env.links.maxInFlight})`)
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

  test('Joins of different endpoints of one network run concurrently; DeleteNetwork waits for them, and later Joins wait for it', async () => {
    // Links made at Join (as after a restart between CreateEndpoint and Join), where it is held.
    const env = await setup(['eth0'], { earlyLinks: false })
    const net = id('concurrent-joins')
    await createNetwork(env, net, 'eth0')
    const [slow, fast, late] = ['slow', 'fast', 'late'].map((name) => id(`cj-${name}`)) as [
      string,
      string,
      string,
    ]
    for (const [index, ep] of [slow, fast, late].entries()) {
      assert.equal((await env.post('CreateEndpoint', endpointBody(net, ep, index))).status, 200)
    }
    const entered = gate()
    const release = gate()
    env.links.holdAddIpvlan = {
      name: endpointLinkName(slow),
      entered: entered.open,
      release: release.promise,
    }
    const slowJoin = env.post('Join', { NetworkID: net, EndpointID: slow })
    await entered.promise
    // Not serialised behind the held Join of another endpoint of the same network.
    const fastJoin = await env.post('Join', { NetworkID: net, EndpointID: fast })
    assert.equal(fastJoin.status, 200, JSON.stringify(fastJoin.body))
    assert.ok(env.links.links.has(endpointLinkName(fast)), 'joined while the other Join is held')

    // The network's deletion excludes its endpoints' changes: it waits for the held Join, and a
    // Join that arrives after it waits for the deletion (and then finds no network).
    let deleted = false
    const deleting = env.post('DeleteNetwork', { NetworkID: net }).then((reply) => {
      deleted = true
      return reply
    })
    await sleep(20)
    const lateJoin = env.post('Join', { NetworkID: net, EndpointID: late })
    await sleep(20)
    assert.equal(deleted, false, 'DeleteNetwork ran while a Join held the network')
    assert.ok(
      !env.links.links.has(endpointLinkName(late)),
      'a Join queued behind DeleteNetwork ran first'
    )
    release.open()
    assert.equal((await slowJoin).status, 200)
    assert.equal((await deleting).status, 200)
    assert.equal((await lateJoin).status, 500, 'the late Join finds the network gone')
    assert.deepEqual([...env.links.links.keys()], ['eth0'], 'nothing left')
  })

  test(
    'DeleteEndpoint naming another network cannot pull an endpoint from under its Join',
    {},
    async () => {
      // Links made at Join (as after a restart between CreateEndpoint and Join), where it is held.
      const env = await setup(['eth0', 'eth1'], { earlyLinks: false })
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
