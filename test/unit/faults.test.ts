import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import type { TestContext } from 'node:test'
import { IpvlanDriver } from '../../src/driver/driver.ts'
import { dummyParentName, endpointLinkName, probeLinkName } from '../../src/driver/naming.ts'
import { createApp } from '../../src/http/app.ts'
import type { IpvlanSpec } from '../../src/driver/ports/link-layer.ts'
import { LinkError } from '../../src/driver/ports/link-layer.ts'
import { silentLogger } from '../../src/log.ts'
import type { Store } from '../../src/driver/ports/store.ts'
import { JsonFileStore } from '../../src/store/json-file-store.ts'
import { FakeLinkLayer } from '../fakes/fake-link-layer.ts'
import { id } from '../fakes/ids.ts'
import { MemoryStore } from '../fakes/memory-store.ts'

/**
 * Each fault gets an error that names its cause, leaves nothing half-done, and the same request
 * succeeds once the fault is gone. Driven through the HTTP app, so the messages are the ones
 * Docker shows.
 */

const NET = id('faults net')
const EP = id('faults ep')
/** Links made at Join only: the path after a restart between CreateEndpoint and Join. */
const JOIN_PATH = { earlyLinks: false }
const EROFS = (): Error =>
  Object.assign(new Error('EROFS: read-only file system, open /state/networks/x.tmp'), {
    code: 'EROFS',
  })

interface Reply {
  status: number
  body: Record<string, unknown>
}

async function setup<S extends Store>(
  store: S,
  links = new FakeLinkLayer(['eth0', 'eth1']),
  { earlyLinks = true }: { earlyLinks?: boolean } = {}
) {
  const driver = await IpvlanDriver.open({
    hostId: 'node-a',
    links,
    store,
    log: silentLogger,
    earlyLinks,
  })
  const app = createApp({ driver, log: silentLogger })
  const post = async (method: string, body: unknown): Promise<Reply> => {
    const res = await app.request(`/NetworkDriver.${method}`, {
      method: 'POST',
      body: JSON.stringify(body) + '\n',
    })
    return { status: res.status, body: JSON.parse(await res.text()) as Record<string, unknown> }
  }
  return { links, store, driver, post }
}

const networkBody = (parent?: string, networkId = NET) => ({
  NetworkID: networkId,
  Options: {
    'com.docker.network.enable_ipv4': true,
    'com.docker.network.enable_ipv6': false,
    'com.docker.network.generic': parent === undefined ? {} : { parent },
  },
  IPv4Data: [{ AddressSpace: 'LocalDefault', Pool: '10.40.0.0/24', Gateway: '10.40.0.1/24' }],
  IPv6Data: [],
})
const endpointBody = (endpointId = EP, networkId = NET) => ({
  NetworkID: networkId,
  EndpointID: endpointId,
  Interface: { Address: '10.40.0.5/24', AddressIPv6: '', MacAddress: '' },
  Options: {},
})
const ids = (endpointId = EP, networkId = NET) => ({ NetworkID: networkId, EndpointID: endpointId })

const OK: Reply = { status: 200, body: {} }
const names = (links: FakeLinkLayer): string[] => [...links.links.keys()].sort()

function assertErr(reply: Reply, ...patterns: RegExp[]): void {
  assert.equal(reply.status, 500, JSON.stringify(reply.body))
  assert.deepEqual(Object.keys(reply.body), ['Err'])
  for (const pattern of patterns) assert.match(String(reply.body['Err']), pattern)
}

describe('store write faults (MemoryStore.failWrites = EROFS)', () => {
  for (const parent of ['eth0.10', undefined]) {
    const made = parent ?? dummyParentName(NET)
    test(`CreateNetwork: the error names the state directory, the created parent ${made} is rolled back, no record; then it succeeds`, async () => {
      const { post, links, store, driver } = await setup(new MemoryStore())
      store.failWrites = EROFS()
      const reply = await post('CreateNetwork', networkBody(parent))
      assertErr(reply, /saving network: the state directory could not be written: EROFS/)
      assert.deepEqual(names(links), ['eth0', 'eth1'], 'created parent rolled back')
      assert.deepEqual(driver.networks(), [])
      assert.equal(store.networks.size, 0)

      store.failWrites = undefined
      assert.deepEqual(await post('CreateNetwork', networkBody(parent)), OK)
      assert.ok(links.links.has(made))
      assert.equal(store.networks.size, 1)
    })
  }

  test('CreateNetwork on an operator parent: the error names the state directory and eth0 is kept', async () => {
    const { post, links, store, driver } = await setup(new MemoryStore())
    store.failWrites = EROFS()
    assertErr(await post('CreateNetwork', networkBody('eth0')), /state directory/)
    assert.deepEqual(names(links), ['eth0', 'eth1'])
    assert.deepEqual(driver.networks(), [])
  })

  test('CreateEndpoint: no record anywhere; then it succeeds', async () => {
    const { post, store, driver } = await setup(new MemoryStore())
    assert.deepEqual(await post('CreateNetwork', networkBody('eth0')), OK)
    store.failWrites = EROFS()
    assertErr(
      await post('CreateEndpoint', endpointBody()),
      /saving endpoint: the state directory could not be written: EROFS/
    )
    assert.deepEqual(driver.endpoints(), [])
    assert.equal(store.endpoints.size, 0)
    // Join of the endpoint that was never recorded is refused, not half-served.
    assertErr(await post('Join', ids()), /not found/)

    store.failWrites = undefined
    assert.deepEqual(await post('CreateEndpoint', endpointBody()), OK)
    assert.equal(store.endpoints.size, 1)
    assert.equal((await post('Join', ids())).status, 200)
  })

  test('DeleteEndpoint: the error says the state directory, the record is kept, a retry succeeds', async () => {
    const { post, links, store, driver } = await setup(new MemoryStore())
    assert.deepEqual(await post('CreateNetwork', networkBody('eth0')), OK)
    assert.deepEqual(await post('CreateEndpoint', endpointBody()), OK)
    assert.equal((await post('Join', ids())).status, 200)
    store.failWrites = EROFS()
    assertErr(
      await post('DeleteEndpoint', ids()),
      /deleting endpoint: the state directory could not be written: EROFS/
    )
    assert.equal(driver.endpoints().length, 1, 'still known in memory')
    assert.equal(store.endpoints.size, 1, 'still on disk: the retry has something to delete')

    store.failWrites = undefined
    assert.deepEqual(await post('DeleteEndpoint', ids()), OK)
    assert.deepEqual(driver.endpoints(), [])
    assert.equal(store.endpoints.size, 0)
    assert.ok(!links.links.has(endpointLinkName(EP)))
  })

  test('DeleteNetwork: the error says the state directory, a retry removes the records and the parent', async () => {
    const { post, links, store, driver } = await setup(new MemoryStore())
    assert.deepEqual(await post('CreateNetwork', networkBody('eth0.10')), OK)
    assert.deepEqual(await post('CreateEndpoint', endpointBody()), OK)
    assert.equal((await post('Join', ids())).status, 200)
    store.failWrites = EROFS()
    assertErr(
      await post('DeleteNetwork', { NetworkID: NET }),
      /deleting network: the state directory could not be written: EROFS/
    )
    assert.equal(driver.networks().length, 1)
    assert.equal(store.networks.size, 1)

    store.failWrites = undefined
    assert.deepEqual(await post('DeleteNetwork', { NetworkID: NET }), OK)
    assert.deepEqual(driver.networks(), [])
    assert.deepEqual(driver.endpoints(), [])
    assert.equal(store.networks.size + store.endpoints.size, 0)
    assert.deepEqual(names(links), ['eth0', 'eth1'])
  })
})

// The links of these tests are made at Join (earlyLinks: false), as they are when the plugin restarted
// between CreateEndpoint and Join or the early start failed; the early start has its own tests below.
describe('link faults', () => {
  const timeout = (): LinkError =>
    new LinkError(
      'timeout',
      '"ip -batch: link add name x" did not finish within 500 ms and was killed',
      'ip -batch'
    )

  test('a timeout on addIpvlan in Join: the error says it did not finish in time; the next Join succeeds', async () => {
    const { post, links, driver } = await setup(new MemoryStore(), undefined, JOIN_PATH)
    assert.deepEqual(await post('CreateNetwork', networkBody('eth0')), OK)
    assert.deepEqual(await post('CreateEndpoint', endpointBody()), OK)
    links.failNext('addIpvlan', timeout())
    assertErr(
      await post('Join', ids()),
      new RegExp(`creating ipvlan link "${endpointLinkName(EP)}" on parent "eth0"`),
      /did not finish within 500 ms and was killed/
    )
    assert.ok(!links.links.has(endpointLinkName(EP)))
    assert.equal(driver.endpoints().length, 1, 'the endpoint stays for the retry')

    const again = await post('Join', ids())
    assert.equal(again.status, 200, JSON.stringify(again.body))
    assert.deepEqual(again.body['InterfaceName'], {
      SrcName: endpointLinkName(EP),
      DstPrefix: 'eth',
    })
    assert.equal(links.links.get(endpointLinkName(EP))?.parent, 'eth0')
  })

  test('a hung link call blocks only its own network', async () => {
    const { post, links } = await setup(new MemoryStore(), undefined, JOIN_PATH)
    const other = id('faults other net')
    const otherEp = id('faults other ep')
    assert.deepEqual(await post('CreateNetwork', networkBody('eth0')), OK)
    assert.deepEqual(await post('CreateNetwork', networkBody('eth1', other)), OK)
    assert.deepEqual(await post('CreateEndpoint', endpointBody()), OK)
    assert.deepEqual(await post('CreateEndpoint', endpointBody(otherEp, other)), OK)
    links.failNext('addIpvlan', 'hang')
    let settled = false
    void post('Join', ids()).finally(() => {
      settled = true
    })
    await new Promise((resolve) => setImmediate(resolve))
    const joined = await post('Join', ids(otherEp, other))
    assert.equal(joined.status, 200, JSON.stringify(joined.body))
    assert.deepEqual(await post('EndpointOperInfo', ids()), {
      status: 200,
      body: { Value: { 'ipvlan-lan.link': endpointLinkName(EP) } },
    })
    assert.equal(settled, false, 'the hung Join is still waiting (in production ip is killed)')
  })

  for (const parent of ['eth0.10', undefined]) {
    const made = parent ?? dummyParentName(NET)
    test(`an unsupported ipvlan probe rolls back the parent ${made} and says the kernel lacks ipvlan; then it succeeds`, async () => {
      const { post, links, store, driver } = await setup(new MemoryStore())
      links.failNext(
        'probeIpvlan',
        new LinkError('unsupported', 'Error: Unknown device type.', 'ip -batch')
      )
      assertErr(
        await post('CreateNetwork', networkBody(parent)),
        /the host kernel has no ipvlan support \(CONFIG_IPVLAN\)/,
        /modprobe ipvlan/
      )
      assert.deepEqual(names(links), ['eth0', 'eth1'])
      assert.deepEqual(driver.networks(), [])
      assert.equal(store.writes, 0)

      assert.deepEqual(await post('CreateNetwork', networkBody(parent)), OK)
      assert.ok(links.links.has(made))
    })
  }

  test('an operator parent deleted under a network: Join says the parent does not exist and creates nothing', async () => {
    const { post, links, driver } = await setup(new MemoryStore(), undefined, JOIN_PATH)
    assert.deepEqual(await post('CreateNetwork', networkBody('eth1')), OK)
    assert.deepEqual(await post('CreateEndpoint', endpointBody()), OK)
    links.links.delete('eth1')
    assertErr(await post('Join', ids()), /parent interface "eth1" does not exist on the host/)
    assert.deepEqual(names(links), ['eth0'], 'eth1 is not re-created: it is the operator’s')
    assert.equal(driver.endpoints().length, 1)
    // The operator brings it back: the same Join now works.
    links.links.set('eth1', { name: 'eth1', alias: undefined, kind: 'device', up: true })
    assert.equal((await post('Join', ids())).status, 200)
  })

  for (const parent of ['eth0.10', undefined]) {
    const made = parent ?? dummyParentName(NET)
    test(`a parent we created (${made}) deleted under a network is re-created by Join`, async () => {
      const { post, links } = await setup(new MemoryStore(), undefined, JOIN_PATH)
      assert.deepEqual(await post('CreateNetwork', networkBody(parent)), OK)
      assert.deepEqual(await post('CreateEndpoint', endpointBody()), OK)
      const before = links.links.get(made)
      links.links.delete(made)
      const reply = await post('Join', ids())
      assert.equal(reply.status, 200, JSON.stringify(reply.body))
      const after = links.links.get(made)
      assert.equal(after?.kind, before?.kind)
      assert.equal(after?.alias, before?.alias, 'made again with our mark')
      assert.equal(links.links.get(endpointLinkName(EP))?.parent, made)
      assert.deepEqual(await post('DeleteEndpoint', ids()), OK)
      assert.deepEqual(await post('DeleteNetwork', { NetworkID: NET }), OK)
      assert.deepEqual(names(links), ['eth0', 'eth1'])
    })
  }

  test('an operator parent deleted before CreateEndpoint: the early start fails, Join says the parent does not exist', async () => {
    const { post, links, driver } = await setup(new MemoryStore())
    assert.deepEqual(await post('CreateNetwork', networkBody('eth1')), OK)
    links.links.delete('eth1')
    assert.deepEqual(await post('CreateEndpoint', endpointBody()), OK)
    await driver.settled()
    assertErr(await post('Join', ids()), /parent interface "eth1" does not exist on the host/)
    assert.deepEqual(names(links), ['eth0'], 'eth1 is not re-created: it is the operator’s')
  })

  for (const parent of ['eth0.10', undefined]) {
    const made = parent ?? dummyParentName(NET)
    test(`a parent we created (${made}) deleted before CreateEndpoint is re-created by the early start`, async () => {
      const { post, links, driver } = await setup(new MemoryStore())
      assert.deepEqual(await post('CreateNetwork', networkBody(parent)), OK)
      const before = links.links.get(made)
      links.links.delete(made)
      assert.deepEqual(await post('CreateEndpoint', endpointBody()), OK)
      await driver.settled()
      assert.equal(links.links.get(made)?.alias, before?.alias, 'made again with our mark')
      assert.equal(links.links.get(endpointLinkName(EP))?.parent, made)
      assert.equal((await post('Join', ids())).status, 200)
      assert.deepEqual(await post('DeleteEndpoint', ids()), OK)
      assert.deepEqual(await post('DeleteNetwork', { NetworkID: NET }), OK)
      assert.deepEqual(names(links), ['eth0', 'eth1'])
    })
  }
})

/** iproute2 runs Join as one batch: "link add" then "link set alias". A kill in between... */
class KilledMidBatch extends FakeLinkLayer {
  killNext: 'addIpvlan' | undefined
  override async addIpvlan(spec: IpvlanSpec): Promise<void> {
    if (this.killNext !== 'addIpvlan') return super.addIpvlan(spec)
    this.killNext = undefined
    await super.addIpvlan(spec)
    const link = this.links.get(spec.name)
    if (link) link.alias = undefined
    throw new LinkError(
      'timeout',
      `"ip -batch: link add name ${spec.name} ..." did not finish within 500 ms and was killed`,
      'ip -batch'
    )
  }
}

describe('half-made links (ip killed between the lines of a batch)', () => {
  test(
    'a Join killed after "link add" but before "link set alias" can be retried',
    {},
    async () => {
      const links = new KilledMidBatch(['eth0'])
      const { post } = await setup(new MemoryStore(), links, JOIN_PATH)
      assert.deepEqual(await post('CreateNetwork', networkBody('eth0')), OK)
      assert.deepEqual(await post('CreateEndpoint', endpointBody()), OK)
      links.killNext = 'addIpvlan'
      assertErr(await post('Join', ids()), /did not finish within 500 ms/)
      assert.equal(links.links.get(endpointLinkName(EP))?.alias, undefined, 'half-made link')
      const again = await post('Join', ids())
      assert.equal(again.status, 200, JSON.stringify(again.body))
    }
  )

  test(
    'a probe link left by a crash mid-probe is cleared and CreateNetwork succeeds',
    {},
    async () => {
      const { post, links } = await setup(new MemoryStore(), new FakeLinkLayer(['eth0']))
      links.links.set(probeLinkName('feedf00d', NET), {
        name: probeLinkName('feedf00d', NET),
        alias: undefined,
        kind: 'ipvlan',
        up: false,
        parent: 'eth0',
      })
      const reply = await post('CreateNetwork', networkBody('eth0'))
      assert.deepEqual(reply, OK)
      assert.deepEqual(names(links), ['eth0'])
    }
  )
})

describe('a real JsonFileStore whose directory becomes unwritable', () => {
  async function stateDir(t: TestContext): Promise<string> {
    const base = await mkdtemp(join(tmpdir(), 'ipvlan-lan-faults-'))
    t.after(() => rm(base, { recursive: true, force: true }))
    return join(base, 'state')
  }

  /** Root ignores permissions, so "unwritable" is a regular file where a directory must be. */
  async function breakDir(path: string): Promise<() => Promise<void>> {
    const saved = await readdir(path)
    assert.deepEqual(saved, [], 'only empty folders are broken in these tests')
    await rm(path, { recursive: true })
    await writeFile(path, 'not a directory\n')
    return async () => {
      await rm(path)
      await mkdir(path, { mode: 0o700 })
    }
  }

  test('opening a state directory below a regular file fails, naming the path', async (t) => {
    const dir = await stateDir(t)
    await mkdir(dir)
    const file = join(dir, 'file')
    await writeFile(file, 'x')
    const store = new JsonFileStore(join(file, 'state'), silentLogger)
    await assert.rejects(
      IpvlanDriver.open({ hostId: 'node-a', links: new FakeLinkLayer(), store, log: silentLogger }),
      (error: NodeJS.ErrnoException) => {
        assert.equal(error.code, 'ENOTDIR')
        assert.ok(error.message.includes(join(file, 'state')), error.message)
        return true
      }
    )
  })

  test('CreateNetwork: the error names the state directory, the 802.1Q parent is rolled back; after repair it succeeds', async (t) => {
    const dir = await stateDir(t)
    const { post, links, driver } = await setup(new JsonFileStore(dir, silentLogger))
    const repair = await breakDir(join(dir, 'networks'))
    const reply = await post('CreateNetwork', networkBody('eth0.10'))
    assertErr(
      reply,
      /saving network: the state directory could not be written: ENOTDIR/,
      new RegExp(dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    )
    assert.deepEqual(names(links), ['eth0', 'eth1'])
    assert.deepEqual(driver.networks(), [])

    await repair()
    assert.deepEqual(await post('CreateNetwork', networkBody('eth0.10')), OK)
    assert.deepEqual(await readdir(join(dir, 'networks')), [`${NET}.json`])
  })

  test('CreateEndpoint and DeleteEndpoint: errors name the state directory; after repair they succeed', async (t) => {
    const dir = await stateDir(t)
    const { post, links, driver } = await setup(new JsonFileStore(dir, silentLogger))
    assert.deepEqual(await post('CreateNetwork', networkBody('eth0')), OK)
    const endpoints = join(dir, 'endpoints')

    let repair = await breakDir(endpoints)
    assertErr(
      await post('CreateEndpoint', endpointBody()),
      /saving endpoint: the state directory could not be written: ENOTDIR/,
      new RegExp(endpoints.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    )
    assert.deepEqual(driver.endpoints(), [])
    await repair()
    assert.deepEqual(await post('CreateEndpoint', endpointBody()), OK)
    assert.deepEqual(await readdir(endpoints), [`${EP}.json`])
    assert.equal((await post('Join', ids())).status, 200)

    // Now the directory goes away with the record in it: deletes fail, then succeed.
    const saved = await readdir(endpoints)
    await rm(endpoints, { recursive: true })
    await writeFile(endpoints, 'not a directory\n')
    repair = async () => {
      await rm(endpoints)
      await mkdir(endpoints, { mode: 0o700 })
      for (const name of saved)
        await writeFile(join(endpoints, name), JSON.stringify({ placeholder: true }))
    }
    assertErr(
      await post('DeleteEndpoint', ids()),
      /deleting endpoint: the state directory could not be written: ENOTDIR/
    )
    assert.equal(driver.endpoints().length, 1, 'kept in memory for the retry')
    await repair()
    assert.deepEqual(await post('DeleteEndpoint', ids()), OK)
    assert.deepEqual(await readdir(endpoints), [])
    assert.deepEqual(driver.endpoints(), [])
    assert.deepEqual(names(links), ['eth0', 'eth1'])
  })
})
