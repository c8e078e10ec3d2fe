import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { until } from '../helpers/poll.ts'
import { run, waitFor } from '../lab/docker.ts'
import {
  addressesOn,
  ETCD,
  etcdAllocations,
  fleet,
  fleetOk,
  installOn,
  on,
  onOk,
  PLUGIN,
  removeAll,
  ROUTER,
  runningOn,
  startEtcd,
  startLanRegistry,
  stopEtcd,
} from '../lab/fleet.ts'

/**
 * Issue 9, the multi-host lab tier: three Docker hosts on one LAN in the lab VM
 * (scripts/lab/guest/fleet.sh), one etcd, the plugin installed on each from a registry the way
 * users install it, network driver and IPAM driver at once.
 */

const HOSTS = ['h1', 'h2', 'h3']
/** h2's containers, one directory each from `docker create` on (scripts/lab/guest/fleet.sh). */
const H2_CONTAINERS = '/var/lib/fleet/h2/containers'
const containerDirs = (): string[] => (existsSync(H2_CONTAINERS) ? readdirSync(H2_CONTAINERS) : [])
const NET = 'fl'
const SUBNET = '10.199.0.0/23'
const RANGE = '10.199.0.0/24'
const SWARM_SUBNET = '10.199.20.0/24'
const SWARM_RANGE = '10.199.20.0/25'
/** Short timers so reconciliation and the operator's reclaim are seen within the test. */
const SETTINGS = [
  `ETCD_ENDPOINTS=${ETCD}`,
  // Under emulation with 30 containers starting, etcd (sharing 2 emulated CPUs) sometimes took
  // over the default 3 s to answer; the setting is for such hosts.
  'ETCD_TIMEOUT_MS=20000',
  'IPAM_HEARTBEAT_INTERVAL=2s',
  'IPAM_RECONCILE_INTERVAL=5s',
  'IPAM_ORPHAN_AGE=20s',
]
/** The per-host NIC names fleet.sh gives (eth0, ens3, enp1s0): one option must fit them all. */
const PARENT = process.env['LAB_FLEET_PARENT'] ?? 'auto'
const NICS: Record<string, string> = { h1: 'eth0', h2: 'ens3', h3: 'enp1s0' }
/** LAB_FLEET_PARENT=per-host: each host's own NIC name, as without `auto`. */
function nic(h: string): string {
  const name = NICS[h]
  assert.ok(name, `no NIC name for host ${h}`)
  return name
}
const parentOf = (h: string): string => (PARENT === 'per-host' ? nic(h) : PARENT)

/**
 * Containers started at once per host: the issue's 30 (90 in all). They need the lab VM booted
 * with 8 GiB (LAB_MEM=8192, as make test does): in 4 GiB the 90 containers' shims, three dockerd,
 * three containerd and three plugins left 24 MiB available and the kernel stalled (RCU stalls,
 * 2026-12-04 21:55), which is what an earlier run's soft lockups were too.
 */
const PER_HOST = Number(process.env['FLEET_CONTAINERS'] ?? '30')
/** The VM's memory (MiB) 3 × PER_HOST containers need, checked before anything starts. */
const MEMORY_NEEDED_MIB = PER_HOST > 10 ? 7000 : 3500

const inRange = (address: string): boolean => /^10\.199\.0\.\d+$/.test(address)

async function createNetwork(h: string): Promise<void> {
  await onOk(
    h,
    'network',
    'create',
    '-d',
    PLUGIN,
    '--ipam-driver',
    PLUGIN,
    '-o',
    `parent=${parentOf(h)}`,
    '--subnet',
    SUBNET,
    '--ip-range',
    RANGE,
    '--gateway',
    ROUTER,
    NET
  )
}

/** One ping from `container` on host h to `address` (docker exec's result). */
const pingFrom = (h: string, container: string, address: string) =>
  on(h)('exec', container, 'ping', '-c', '1', '-W', '3', address)

/** The names startMany gives: `${prefix}${h}-0` … */
const batchNames = (h: string, prefix: string, count: number): string[] =>
  Array.from({ length: count }, (_, i) => `${prefix}${h}-${i}`)

/** Starts `count` containers on host h at once; returns each name with docker run's result. */
async function startMany(h: string, prefix: string, count: number) {
  const names = batchNames(h, prefix, count)
  return Promise.all(
    names.map(async (name) => ({
      name,
      result: await on(h)(
        'run',
        '-d',
        '--name',
        name,
        '--net',
        NET,
        'busybox:lab',
        'sleep',
        '86400'
      ),
    }))
  )
}

/** Every running container of every live host on NET, name → address; asserts no address twice. */
async function fleetAddresses(
  hosts: string[]
): Promise<Map<string, { h: string; address: string }>> {
  const all = new Map<string, { h: string; address: string }>()
  const seen = new Map<string, string>()
  for (const h of hosts) {
    const names = await runningOn(h, 'fl-')
    if (names.length === 0) continue
    for (const [name, address] of await addressesOn(h, NET, names)) {
      assert.ok(inRange(address), `${h}/${name} has no address in ${RANGE}: "${address}"`)
      const twice = seen.get(address)
      assert.equal(twice, undefined, `DUPLICATE ${address}: ${h}/${name} and ${twice}`)
      seen.set(address, `${h}/${name}`)
      all.set(`${h}/${name}`, { h, address })
    }
  }
  return all
}

/**
 * No leak: once reconciliation has run, each live host holds in etcd exactly the dynamic
 * addresses of its running containers.
 */
async function assertNoLeak(hosts: string[]): Promise<void> {
  let last = ''
  try {
    await waitFor(
      'etcd to hold exactly the running containers’ addresses',
      async () => {
        const running = await fleetAddresses(hosts)
        const want = [...running.values()].map((c) => `${c.h} ${c.address}`).sort()
        const held = (await etcdAllocations())
          .filter((a) => a.kind === 'dynamic')
          .flatMap((a) => a.hosts.map((host) => `${host} ${a.address}`))
          .sort()
        last = `running: ${want.join(', ')}\netcd: ${held.join(', ')}`
        return JSON.stringify(want) === JSON.stringify(held)
      },
      120_000
    )
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${last}`)
  }
}

describe('many hosts on one LAN (three dockerd, one etcd)', { timeout: 3_600_000 }, () => {
  before(async () => {
    const total = Number(/MemTotal:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1])
    assert.ok(
      total / 1024 >= MEMORY_NEEDED_MIB,
      `${3 * PER_HOST} containers need a lab VM of ${MEMORY_NEEDED_MIB} MiB or more; this one has ${Math.round(total / 1024)} MiB: boot it with LAB_MEM=8192 (or set FLEET_CONTAINERS=10)`
    )
    await fleetOk('down')
    await run('rm', ['-rf', '/tmp/fleet-etcd'])
    // The LAN first: etcd and the registry listen on its router address.
    await fleetOk('up', String(HOSTS.length))
    await startEtcd()
    const reference = await startLanRegistry()
    // One at a time: three node processes starting at once under emulation miss Docker's window.
    for (const h of HOSTS) await installOn(h, reference, SETTINGS)
    for (const h of HOSTS) await createNetwork(h)
  })

  after(async () => {
    await fleet('down')
    await stopEtcd()
  })

  test(`3 hosts × ${PER_HOST} containers started at once on one subnet: ${3 * PER_HOST} distinct addresses, cross-host pings`, async () => {
    const names = (h: string) => batchNames(h, 'fl-a-', PER_HOST)
    try {
      const started = (await Promise.all(HOSTS.map((h) => startMany(h, 'fl-a-', PER_HOST)))).flat()
      const failed = started.filter((s) => s.result.code !== 0)
      assert.deepEqual(
        failed.map((s) => `${s.name}: ${s.result.output}`),
        [],
        'every container started'
      )
      const running = await fleetAddresses(HOSTS)
      assert.equal(
        running.size,
        3 * PER_HOST,
        'every container of the three hosts has its own address'
      )
      const held = (await etcdAllocations()).filter((a) => a.kind === 'dynamic')
      assert.equal(held.length, 3 * PER_HOST, 'etcd holds one dynamic allocation per container')
      for (const h of HOSTS) {
        const mine = held.filter((a) => a.hosts.includes(h))
        assert.equal(mine.length, PER_HOST, `${h} holds its ${PER_HOST} addresses in etcd`)
      }
      // One container of each host pings one of every other host, over the LAN bridge.
      for (const from of HOSTS) {
        for (const to of HOSTS.filter((h) => h !== from)) {
          const target = running.get(`${to}/fl-a-${to}-0`)
          assert.ok(target, `${to}/fl-a-${to}-0 is running`)
          const pinged = await pingFrom(from, `fl-a-${from}-0`, target.address)
          assert.equal(pinged.code, 0, `${from} → ${to} (${target.address}): ${pinged.output}`)
        }
      }
      // Removed again: every address goes back.
      await Promise.all(HOSTS.map((h) => removeAll(h, names(h))))
      const left = (await etcdAllocations()).filter((a) => a.kind === 'dynamic')
      assert.deepEqual(left, [], 'no dynamic allocation left after docker rm')
    } catch (error) {
      // Nothing of this test left for the ones after: a 3 × 30 run's leftovers (30 on h2) made
      // h2's restart in the kill test time out.
      await Promise.all(HOSTS.map((h) => on(h)('rm', '-f', ...names(h))))
      throw error
    }
  })

  test('Swarm: config-only network per node, config-from on the manager, a service spread over three nodes gets distinct addresses and its tasks reach each other', async () => {
    const [manager, ...workers] = HOSTS as [string, ...string[]]
    await onOk(manager, 'swarm', 'init', '--advertise-addr', '10.199.1.1')
    const token = await onOk(manager, 'swarm', 'join-token', '-q', 'worker')
    for (const h of workers)
      await onOk(
        h,
        'swarm',
        'join',
        '--token',
        token,
        '--advertise-addr',
        `10.199.1.${h.slice(1)}`,
        '10.199.1.1:2377'
      )
    // VLAN 20 of each node's default-route NIC, whatever its name: one option for the fleet.
    for (const h of HOSTS)
      await onOk(
        h,
        'network',
        'create',
        '--config-only',
        '-o',
        `parent=${PARENT === 'per-host' ? `${nic(h)}.20` : 'auto.20'}`,
        '--subnet',
        SWARM_SUBNET,
        '--ip-range',
        SWARM_RANGE,
        '--ipam-driver',
        PLUGIN,
        'sw-cfg'
      )
    await onOk(
      manager,
      'network',
      'create',
      '-d',
      PLUGIN,
      '--scope',
      'swarm',
      '--config-from',
      'sw-cfg',
      'sw-net'
    )
    await onOk(
      manager,
      'service',
      'create',
      '--detach',
      '--name',
      'sw-web',
      '--replicas',
      '3',
      '--endpoint-mode',
      'dnsrr',
      '--network',
      'sw-net',
      '--no-resolve-image',
      'busybox:lab',
      'sleep',
      '86400'
    )
    const tasks = new Map<string, string>() // address → host/container
    await waitFor(
      'the 3 tasks to run',
      async () => {
        tasks.clear()
        for (const h of HOSTS) {
          const ids = (
            await onOk(h, 'ps', '-q', '--filter', 'label=com.docker.swarm.service.name=sw-web')
          )
            .split('\n')
            .filter((id) => id !== '')
          if (ids.length === 0) continue
          const out = await onOk(
            h,
            'inspect',
            '-f',
            '{{.Id}} {{(index .NetworkSettings.Networks "sw-net").IPAddress}}',
            ...ids
          )
          for (const line of out.split('\n')) {
            const [id, address] = line.split(' ')
            assert.ok(
              address && /^10\.199\.20\.\d+$/.test(address),
              `${h}/${id} has no address in ${SWARM_RANGE}: ${line}`
            )
            const other = tasks.get(address)
            assert.equal(other, undefined, `DUPLICATE ${address}: ${h}/${id} and ${other}`)
            tasks.set(address, `${h} ${id}`)
          }
        }
        return tasks.size === 3
      },
      600_000
    )
    const hostsWithTasks = new Set([...tasks.values()].map((t) => t.split(' ')[0]))
    assert.equal(
      hostsWithTasks.size,
      3,
      `tasks spread over the three nodes: ${[...tasks.entries()].join('; ')}`
    )
    const held = (await etcdAllocations()).filter(
      (a) => a.kind === 'dynamic' && a.address.startsWith('10.199.20.')
    )
    assert.deepEqual(
      held.map((a) => a.address).sort(),
      [...tasks.keys()].sort(),
      "etcd holds exactly the tasks' addresses"
    )
    // Each task pings a task of every other node over the LAN (VLAN 20).
    const byHost = new Map<string, { address: string; id: string }>()
    for (const [address, where] of tasks) {
      const [h, id] = where.split(' ') as [string, string]
      if (!byHost.has(h)) byHost.set(h, { address, id })
    }
    for (const [from, task] of byHost)
      for (const [to, target] of byHost) {
        if (from === to) continue
        const pinged = await pingFrom(from, task.id, target.address)
        assert.equal(
          pinged.code,
          0,
          `task on ${from} → task on ${to} (${target.address}): ${pinged.output}`
        )
      }
    await onOk(manager, 'service', 'rm', 'sw-web')
    await waitFor(
      'the tasks to go',
      async () => {
        for (const h of HOSTS)
          if (
            (await onOk(
              h,
              'ps',
              '-aq',
              '--filter',
              'label=com.docker.swarm.service.name=sw-web'
            )) !== ''
          )
            return false
        return true
      },
      300_000
    )
    await onOk(manager, 'network', 'rm', 'sw-net')
    for (const h of workers) await onOk(h, 'swarm', 'leave')
    await onOk(manager, 'swarm', 'leave', '--force')
    for (const h of HOSTS) await onOk(h, 'network', 'rm', 'sw-cfg')
    await waitFor(
      "the tasks' addresses to be released",
      async () =>
        (await etcdAllocations()).every(
          (a) => !(a.kind === 'dynamic' && a.address.startsWith('10.199.20.'))
        ),
      120_000
    )
  })

  test('SIGKILL of one host’s plugin and dockerd mid-start: no duplicate, no leaked allocation after it comes back', async (t) => {
    const before = new Set(containerDirs())
    const starting = startMany('h2', 'fl-k-', 12)
    const others = Promise.all(['h1', 'h3'].map((h) => startMany(h, 'fl-k-', 3)))
    // Kill as soon as the first container of the batch is created (its directory in h2's data
    // root, read straight from the disk): the rest are mid-start. Asking `docker ps` for it, or
    // waiting for one to run, was too late under emulation: all of them had started by then.
    await until(
      'a first container to be created on h2',
      () => containerDirs().some((id) => !before.has(id)),
      300_000,
      20
    )
    await fleetOk('kill', 'h2')
    const killedBatch = await starting
    const cut = killedBatch.filter((s) => s.result.code !== 0).length
    // h2 comes back before any assertion: a failure here must not leave it down for the tests after.
    await fleetOk('start', 'h2')
    await waitFor(
      'the plugin to serve again on h2',
      async () => (await on('h2')('network', 'inspect', NET)).code === 0,
      120_000
    )
    t.diagnostic(`the kill cut ${cut} of h2's ${killedBatch.length} starts`)
    assert.ok(
      cut > 0,
      `the kill landed after h2 had started all ${killedBatch.length} containers (no start was cut)`
    )
    const otherBatch = (await others).flat()
    assert.deepEqual(
      otherBatch.filter((s) => s.result.code !== 0).map((s) => `${s.name}: ${s.result.output}`),
      [],
      'the other hosts’ starts are unaffected'
    )
    // Docker does not restart them (no restart policy): remove what is left of the batch.
    const leftovers = (
      await onOk('h2', 'ps', '-a', '--filter', 'name=^fl-k-', '--format', '{{.Names}}')
    )
      .split('\n')
      .filter((n) => n !== '')
    if (leftovers.length > 0) await onOk('h2', 'rm', '-f', ...leftovers)
    const again = await startMany('h2', 'fl-k2-', 3)
    assert.deepEqual(
      again.filter((s) => s.result.code !== 0).map((s) => `${s.name}: ${s.result.output}`),
      [],
      'h2 starts containers again'
    )
    const running = await fleetAddresses(HOSTS)
    assert.equal(running.size, 9, 'h1 and h3 keep 3 each, h2 has its 3 new ones')
    await assertNoLeak(HOSTS)
  })

  test('etcd stopped for 30 s mid-run: clear errors, running containers unaffected, then recovery with no duplicate', async () => {
    await stopEtcd()
    const stoppedAt = Date.now()
    // etcd comes back whatever happens meanwhile: the tests after need it.
    try {
      const during = await on('h1')(
        'run',
        '-d',
        '--name',
        'fl-e-h1-0',
        '--net',
        NET,
        'busybox:lab',
        'sleep',
        '86400'
      )
      const tookMs = Date.now() - stoppedAt
      assert.notEqual(during.code, 0, 'a start needing an address fails while etcd is down')
      assert.match(during.output, /etcd/, `the error says etcd: ${during.output}`)
      assert.ok(
        during.output.includes(ETCD.replace('http://', '')),
        `the error names the endpoint: ${during.output}`
      )
      assert.ok(tookMs < 60_000, `the failure came within a bounded time (${tookMs} ms)`)
      await on('h1')('rm', '-f', 'fl-e-h1-0')
      // Running containers keep talking across hosts meanwhile.
      const running = await fleetAddresses(HOSTS)
      const target = running.get('h3/fl-k-h3-0')
      assert.ok(target, 'h3/fl-k-h3-0 runs')
      const pinged = await pingFrom('h1', 'fl-k-h1-0', target.address)
      assert.equal(pinged.code, 0, `h1 → h3 with etcd down: ${pinged.output}`)
      const rest = 30_000 - (Date.now() - stoppedAt)
      if (rest > 0) await new Promise((resolve) => setTimeout(resolve, rest))
    } finally {
      await startEtcd()
    }
    const after = (await Promise.all(HOSTS.map((h) => startMany(h, 'fl-e-', 3)))).flat()
    assert.deepEqual(
      after.filter((s) => s.result.code !== 0).map((s) => `${s.name}: ${s.result.output}`),
      [],
      'starts work again once etcd is back'
    )
    assert.equal((await fleetAddresses(HOSTS)).size, 18)
    await assertNoLeak(HOSTS)
  })

  test('a host removed for good: its addresses reclaimed by the operator’s documented call', async () => {
    const before = (await etcdAllocations()).filter(
      (a) => a.hosts.includes('h3') && a.kind === 'dynamic'
    )
    assert.ok(before.length >= 4, `h3 holds its containers' addresses (${before.length})`)
    await fleetOk('remove', 'h3')
    // Its heartbeat must be older than three of its intervals (2 s) before the call is accepted.
    await new Promise((resolve) => setTimeout(resolve, 8000))
    const dockerdPid = await fleetOk('pid', 'h1')
    const id = await onOk('h1', 'plugin', 'inspect', '-f', '{{.Id}}', PLUGIN)
    // The README's call, run on h1 (inside its mount namespace, where its plugin socket is).
    const reclaimed = await run('nsenter', [
      '-t',
      dockerdPid,
      '-m',
      'curl',
      '-sS',
      '--fail-with-body',
      '--unix-socket',
      `/run/docker/plugins/${id}/ipvlan-lan.sock`,
      '-d',
      '{"Host":"h3"}',
      'http://plugin/IpamAdmin.ReclaimHost',
    ])
    assert.equal(reclaimed.code, 0, `reclaim: ${reclaimed.output}`)
    const answer = JSON.parse(reclaimed.stdout) as {
      Released: { Address: string }[]
      Conflicts: unknown[]
    }
    const released = answer.Released.map((r) => r.Address)
    for (const a of before) assert.ok(released.includes(a.address), `${a.address} released`)
    assert.deepEqual(answer.Conflicts, [])
    const still = (await etcdAllocations()).filter((a) => a.hosts.includes('h3'))
    assert.deepEqual(still, [], 'etcd holds nothing for h3')
    // A reclaimed address is free for the fleet again.
    const first = before[0]
    assert.ok(first)
    const reuse = first.address
    await onOk(
      'h1',
      'run',
      '-d',
      '--name',
      'fl-r-h1-0',
      '--net',
      NET,
      '--ip',
      reuse,
      'busybox:lab',
      'sleep',
      '86400'
    )
    assert.equal((await addressesOn('h1', NET, ['fl-r-h1-0'])).get('fl-r-h1-0'), reuse)
    await onOk('h1', 'rm', '-f', 'fl-r-h1-0')
    await assertNoLeak(['h1', 'h2'])
  })
})
