import assert from 'node:assert/strict'
import {
  addDummy,
  assertPing,
  addressOf,
  docker,
  dockerOk,
  exec,
  gatewayOf,
  ip,
  ipOk,
  linkExists,
  ping,
  restartDockerd,
  runContainer,
} from './docker.ts'

/**
 * The parity suite: every scenario of moby's integration/network/ipvlan/ipvlan_test.go plus the
 * product's own, written once and run against Docker's built-in `ipvlan` driver (the control)
 * and against our plugin, in the same VM, on the same engine.
 */
export interface Scenario {
  name: string
  /** 'newer' = behaviour of newer engines that the built-in driver on Docker 20.10 lacks. */
  origin: 'moby' | 'issue' | 'newer'
  /**
   * The plugin must pass every scenario. The only exceptions are listed here, per scenario:
   * engines on which the scenario cannot pass with any driver, and why.
   */
  expectedFailure?: ExpectedFailure
  /**
   * What Docker does not let any remote (plugin) driver do, whatever the driver answers: the
   * plugin is expected to fail the scenario from `engineFrom` on, where the built-in passes it.
   * The reason names the Docker code that decides it.
   */
  remoteDriverLimit?: RemoteDriverLimit
  run(ctx: ScenarioContext): Promise<void>
}

export interface RemoteDriverLimit {
  engineFrom: number
  reason: string
}

/** A scenario that fails on engines older than `engineBelow` (major version), for both drivers. */
export interface ExpectedFailure {
  engineBelow: number
  reason: string
}

/** The expected failure of `scenario` on an engine of major version `engineMajor`, if any. */
export function expectedFailureOn(
  scenario: Scenario,
  engineMajor: number
): ExpectedFailure | undefined {
  const expected = scenario.expectedFailure
  return expected && engineMajor < expected.engineBelow ? expected : undefined
}

/** The remote-driver limit of `scenario` on an engine of major version `engineMajor`, if any. */
export function remoteDriverLimitOn(
  scenario: Scenario,
  engineMajor: number
): RemoteDriverLimit | undefined {
  const limit = scenario.remoteDriverLimit
  return limit && engineMajor >= limit.engineFrom ? limit : undefined
}

export class ScenarioContext {
  readonly driver: string
  /** Short prefix that keeps names of the two runs apart ("b" built-in, "p" plugin). */
  readonly tag: string
  readonly containers: string[] = []
  readonly networks: string[] = []
  readonly links: string[] = []

  constructor(driver: string, tag: string) {
    this.driver = driver
    this.tag = tag
  }

  /** A dummy master link of this run (≤ 6 chars so "name.VID" fits in 15 bytes). */
  async master(n: number): Promise<string> {
    const name = `${this.tag}dm${n}`
    await addDummy(name)
    this.links.push(name)
    return name
  }

  name(base: string): string {
    return `${this.tag}-${base}`
  }

  async network(base: string, args: string[]): Promise<string> {
    const name = this.name(base)
    this.networks.push(name)
    await dockerOk('network', 'create', '-d', this.driver, ...args, name)
    return name
  }

  async tryNetwork(base: string, args: string[]): Promise<{ code: number; output: string }> {
    const name = this.name(base)
    this.networks.push(name)
    return docker('network', 'create', '-d', this.driver, ...args, name)
  }

  async container(base: string, network: string, extra: string[] = []): Promise<string> {
    const name = this.name(base)
    this.containers.push(name)
    return runContainer(name, network, extra)
  }

  async cleanup(): Promise<void> {
    if (this.containers.length > 0) await docker('rm', '-f', ...this.containers)
    for (const network of [...this.networks].reverse()) await docker('network', 'rm', network)
    for (const link of this.links) await ip('link', 'del', 'dev', link)
  }
}

async function routes(container: string, v6 = false): Promise<string> {
  const result = await exec(container, 'ip', ...(v6 ? ['-6'] : []), 'route')
  assert.equal(result.code, 0, result.output)
  return result.stdout
}

/** Two containers on `network` reach each other by address. */
async function pair(ctx: ScenarioContext, network: string): Promise<{ a: string; b: string }> {
  const base = network.slice(ctx.tag.length + 1)
  const a = await ctx.container(`${base}-a`, network)
  const b = await ctx.container(`${base}-b`, network)
  return { a, b }
}

const dualStack = (subnets: [string, string][], extra: string[] = []): string[] => [
  '--ipv6',
  ...subnets.flatMap(([subnet, gateway]) => [
    '--subnet',
    subnet,
    ...(gateway ? ['--gateway', gateway] : []),
  ]),
  ...extra,
]

async function multiSubnet(ctx: ScenarioContext, mode: 'l2' | 'l3', parent: string): Promise<void> {
  const [s1, s2, v61, v62] =
    mode === 'l2'
      ? ['172.28.200', '172.28.202', '2001:db8:abc8', '2001:db8:abc6']
      : ['172.28.10', '172.28.12', '2001:db8:abc9', '2001:db8:abc7']
  const net = await ctx.network(`ms${mode}`, [
    ...(parent ? ['-o', `parent=${parent}`] : []),
    '-o',
    `ipvlan_mode=${mode}`,
    ...dualStack([
      [`${s1}.0/24`, ''],
      [`${s2}.0/24`, `${s2}.254`],
      [`${v61}::/64`, ''],
      [`${v62}::/64`, `${v62}::254`],
    ]),
  ])
  const ip4 = (s: string, n: number) => ['--ip', `${s}.${n}`]
  const ip6 = (s: string, n: number) => ['--ip6', `${s}::${n}`]
  const c1 = await ctx.container('ms1', net, [...ip4(s1, 20), ...ip6(v61, 20)])
  const c2 = await ctx.container('ms2', net, [...ip4(s1, 21), ...ip6(v61, 21)])
  const c3 = await ctx.container('ms3', net, [...ip4(s2, 20), ...ip6(v62, 20)])
  const c4 = await ctx.container('ms4', net, [...ip4(s2, 21), ...ip6(v62, 21)])
  assert.equal(await addressOf(c1, net), `${s1}.20`, 'static --ip honoured')
  assert.equal(await addressOf(c1, net, true), `${v61}::20`, 'static --ip6 honoured')
  await assertPing(c2, `${s1}.20`)
  await assertPing(c2, `${v61}::20`)
  await assertPing(c4, `${s2}.20`)
  await assertPing(c4, `${v62}::20`)
  if (mode === 'l2' && parent) {
    assert.equal(await gatewayOf(c3, net), `${s2}.254`, 'explicit IPv4 gateway used')
    assert.equal(await gatewayOf(c3, net, true), `${v62}::254`, 'explicit IPv6 gateway used')
    assert.match(await routes(c3), new RegExp(`default via ${s2}\\.254 dev eth0`))
  } else {
    // l3, or no parent (internal): no next hop at all.
    for (const c of [c1, c3]) {
      assert.equal(await gatewayOf(c, net), '', `no IPv4 gateway on ${c}`)
      assert.equal(await gatewayOf(c, net, true), '', `no IPv6 gateway on ${c}`)
    }
  }
  if (mode === 'l3') {
    // L3 routes between the subnets that share the parent.
    await assertPing(c3, `${s1}.20`)
  }
}

export const SCENARIOS: Scenario[] = [
  {
    name: 'sub-interface parent.VID created, then removed with the network',
    origin: 'moby',
    async run(ctx) {
      const master = await ctx.master(1)
      const parent = `${master}.60`
      const net = await ctx.network('subif', ['-o', `parent=${parent}`])
      assert.ok(await linkExists(parent), `${parent} was created`)
      await dockerOk('network', 'rm', net)
      assert.ok(!(await linkExists(parent)), `${parent} was deleted with the network`)
      assert.ok(await linkExists(master), 'the master is kept')
    },
  },
  {
    name: "operator's sub-interface is kept after network rm",
    origin: 'moby',
    async run(ctx) {
      const master = await ctx.master(2)
      const parent = `${master}.70`
      await ipOk('link', 'add', 'link', master, 'name', parent, 'type', 'vlan', 'id', '70')
      ctx.links.unshift(parent)
      const net = await ctx.network('keep', ['-o', `parent=${parent}`])
      await dockerOk('network', 'rm', net)
      assert.ok(await linkExists(parent), 'a parent the operator made is never deleted')
    },
  },
  {
    name: 'second network on the same parent rejected',
    origin: 'moby',
    async run(ctx) {
      const master = await ctx.master(3)
      await ctx.network('ovl1', ['-o', `parent=${master}.30`])
      const second = await ctx.tryNetwork('ovl2', ['-o', `parent=${master}.30`])
      assert.notEqual(second.code, 0, 'the second network must be refused')
      assert.match(second.output, /already using parent interface/)
    },
  },
  {
    name: 'l2 without parent: containers reach each other',
    origin: 'moby',
    async run(ctx) {
      const net = await ctx.network('l2nil', [])
      const { a, b } = await pair(ctx, net)
      await assertPing(b, await addressOf(a, net))
    },
  },
  {
    name: 'l2 --internal: peers reach each other, no route out',
    origin: 'moby',
    async run(ctx) {
      const net = await ctx.network('l2int', ['--internal'])
      const { a, b } = await pair(ctx, net)
      const out = await ping(a, '8.8.8.8')
      assert.match(out.output, /Network is unreachable/)
      await assertPing(b, await addressOf(a, net))
    },
  },
  {
    name: 'l3 without parent, two subnets: containers reach each other',
    origin: 'moby',
    async run(ctx) {
      const net = await ctx.network('l3nil', [
        '-o',
        'ipvlan_mode=l3',
        '--subnet',
        '172.28.230.0/24',
        '--subnet',
        '172.28.220.0/24',
      ])
      const a = await ctx.container('l3a', net, ['--ip', '172.28.220.10'])
      const b = await ctx.container('l3b', net, ['--ip', '172.28.230.10'])
      void a
      await assertPing(b, '172.28.220.10')
    },
  },
  {
    name: 'l3 --internal: peers reach each other, no route out',
    origin: 'moby',
    async run(ctx) {
      const net = await ctx.network('l3int', [
        '-o',
        'ipvlan_mode=l3',
        '--internal',
        '--subnet',
        '172.28.231.0/24',
        '--subnet',
        '172.28.221.0/24',
      ])
      const a = await ctx.container('l3ia', net, ['--ip', '172.28.221.10'])
      const b = await ctx.container('l3ib', net, ['--ip', '172.28.231.10'])
      assert.match((await ping(a, '8.8.8.8')).output, /Network is unreachable/)
      await assertPing(b, '172.28.221.10')
    },
  },
  {
    name: 'l2 multi-subnet dual stack with parent (--ip/--ip6, gateways)',
    origin: 'moby',
    async run(ctx) {
      await multiSubnet(ctx, 'l2', await ctx.master(4))
    },
  },
  {
    name: 'l2 multi-subnet dual stack without parent',
    origin: 'moby',
    async run(ctx) {
      await multiSubnet(ctx, 'l2', '')
    },
  },
  {
    name: 'l3 multi-subnet dual stack',
    origin: 'moby',
    async run(ctx) {
      await multiSubnet(ctx, 'l3', await ctx.master(5))
    },
  },
  {
    name: 'l2 addressing: default via the gateway (IPv4 and IPv6)',
    origin: 'moby',
    async run(ctx) {
      const master = await ctx.master(6)
      const net = await ctx.network('l2addr', [
        '-o',
        `parent=${master}`,
        ...dualStack([
          ['172.28.140.0/24', '172.28.140.254'],
          ['2001:db8:abcb::/64', '2001:db8:abcb::254'],
        ]),
      ])
      const c = await ctx.container('l2addr', net)
      assert.match(await routes(c), /default via 172\.28\.140\.254 dev eth0/)
      assert.match(await routes(c, true), /default via 2001:db8:abcb::254 dev eth0/)
    },
  },
  {
    name: 'l3 addressing: default dev eth0 (IPv4 and IPv6)',
    origin: 'moby',
    async run(ctx) {
      const master = await ctx.master(7)
      const net = await ctx.network('l3addr', [
        '-o',
        `parent=${master}`,
        '-o',
        'ipvlan_mode=l3',
        ...dualStack([
          ['172.28.160.0/24', '172.28.160.254'],
          ['2001:db8:abcd::/64', '2001:db8:abcd::254'],
        ]),
      ])
      const c = await ctx.container('l3addr', net)
      assert.match(await routes(c), /default dev eth0/)
      assert.match(await routes(c, true), /default dev eth0/)
      assert.equal(await gatewayOf(c, net), '', 'no next hop in l3')
    },
  },
  {
    name: '/31 point-to-point l3 network',
    origin: 'moby',
    expectedFailure: {
      engineBelow: 28,
      reason:
        "Docker < 28's IPAM finds no address for the gateway it reserves in a /31 whatever the driver: network create fails with 'failed to allocate gateway' (Docker >= 28 asks the driver first, GwAllocChecker, and the plugin declines the gateway on l3)",
    },
    async run(ctx) {
      const master = await ctx.master(8)
      const net = await ctx.network('p2p', [
        '-o',
        `parent=${master}`,
        '-o',
        'ipvlan_mode=l3',
        '--subnet',
        '192.168.135.0/31',
      ])
      const a = await ctx.container('p2pa', net)
      const b = await ctx.container('p2pb', net)
      await assertPing(b, await addressOf(a, net))
    },
  },
  {
    name: 'dockerd restart: network and its created sub-interface persist',
    origin: 'moby',
    async run(ctx) {
      const master = await ctx.master(9)
      const parent = `${master}.70`
      const net = await ctx.network('persist', [
        '-o',
        `parent=${parent}`,
        '--subnet',
        '172.28.90.0/24',
      ])
      await restartDockerd()
      assert.equal(
        (await docker('network', 'inspect', net)).code,
        0,
        'network still known to Docker'
      )
      assert.ok(await linkExists(parent), `${parent} still exists`)
      const { a, b } = await pair(ctx, net)
      await assertPing(b, await addressOf(a, net))
    },
  },
  {
    name: 'l3s: containers reach each other',
    origin: 'newer',
    async run(ctx) {
      const master = await ctx.master(10)
      const net = await ctx.network('l3s', [
        '-o',
        `parent=${master}`,
        '-o',
        'ipvlan_mode=l3s',
        '--subnet',
        '172.28.170.0/24',
      ])
      const { a, b } = await pair(ctx, net)
      assert.match(await routes(a), /default dev eth0/)
      await assertPing(b, await addressOf(a, net))
    },
  },
  {
    name: 'ipvlan_flag=private: containers cannot reach each other',
    origin: 'newer',
    async run(ctx) {
      const master = await ctx.master(11)
      const net = await ctx.network('priv', [
        '-o',
        `parent=${master}`,
        '-o',
        'ipvlan_flag=private',
        '--subnet',
        '172.28.180.0/24',
      ])
      const { a, b } = await pair(ctx, net)
      const result = await ping(b, await addressOf(a, net))
      assert.notEqual(result.code, 0, 'private slaves must not reach each other')
    },
  },
  {
    name: 'ipvlan_flag=bridge (default): containers reach each other',
    origin: 'issue',
    async run(ctx) {
      const master = await ctx.master(12)
      const net = await ctx.network('brflag', [
        '-o',
        `parent=${master}`,
        '-o',
        'ipvlan_flag=bridge',
        '--subnet',
        '172.28.181.0/24',
      ])
      const { a, b } = await pair(ctx, net)
      await assertPing(b, await addressOf(a, net))
    },
  },
  {
    name: 'invalid ipvlan_mode rejected by name',
    origin: 'issue',
    async run(ctx) {
      const result = await ctx.tryNetwork('badmode', ['-o', 'ipvlan_mode=l4'])
      assert.notEqual(result.code, 0)
      assert.match(result.output, /ipvlan_mode|ipvlan mode/)
    },
  },
  {
    name: 'invalid ipvlan_flag rejected by name',
    origin: 'newer',
    async run(ctx) {
      const result = await ctx.tryNetwork('badflag', ['-o', 'ipvlan_flag=loud'])
      assert.notEqual(result.code, 0)
      assert.match(result.output, /ipvlan_flag|ipvlan flag/)
    },
  },
  {
    name: 'missing parent rejected (no such link, no such master)',
    origin: 'issue',
    async run(ctx) {
      const plain = await ctx.tryNetwork('nopar1', ['-o', 'parent=nosuch0'])
      assert.notEqual(plain.code, 0)
      const vlan = await ctx.tryNetwork('nopar2', ['-o', 'parent=nosuch0.10'])
      assert.notEqual(vlan.code, 0)
      assert.match(vlan.output, /nosuch0/)
    },
  },
  {
    name: '--mac-address refused with a clear error',
    origin: 'issue',
    async run(ctx) {
      const master = await ctx.master(13)
      const net = await ctx.network('mac', [
        '-o',
        `parent=${master}`,
        '--subnet',
        '172.28.182.0/24',
      ])
      const name = ctx.name('mac')
      ctx.containers.push(name)
      const result = await docker(
        'run',
        '-d',
        '--name',
        name,
        '--net',
        net,
        '--mac-address',
        '02:42:ac:11:00:99',
        'busybox:lab',
        'sleep',
        '60'
      )
      assert.notEqual(result.code, 0, 'a MAC cannot be set on an ipvlan link')
      assert.match(result.output, /mac/i)
    },
  },
  {
    name: 'network connect / disconnect on running containers',
    origin: 'issue',
    async run(ctx) {
      const m1 = await ctx.master(14)
      const m2 = await ctx.master(15)
      const first = await ctx.network('conn1', [
        '-o',
        `parent=${m1}`,
        '--subnet',
        '172.28.183.0/24',
      ])
      const second = await ctx.network('conn2', [
        '-o',
        `parent=${m2}`,
        '--subnet',
        '172.28.184.0/24',
      ])
      const { a, b } = await pair(ctx, first)
      await dockerOk('network', 'connect', second, a)
      await dockerOk('network', 'connect', '--ip', '172.28.184.50', second, b)
      assert.equal((await exec(a, 'ip', 'link', 'show', 'eth1')).code, 0, 'eth1 appears on connect')
      await assertPing(a, '172.28.184.50')
      await dockerOk('network', 'disconnect', second, b)
      assert.notEqual(
        (await exec(b, 'ip', 'link', 'show', 'eth1')).code,
        0,
        'eth1 goes on disconnect'
      )
      assert.notEqual((await ping(a, '172.28.184.50')).code, 0)
      await assertPing(a, await addressOf(b, first))
    },
  },
  {
    name: 'six containers started in parallel',
    origin: 'issue',
    async run(ctx) {
      const master = await ctx.master(16)
      const net = await ctx.network('par', [
        '-o',
        `parent=${master}`,
        '--subnet',
        '172.28.185.0/24',
      ])
      const names = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => ctx.container(`par${n}`, net)))
      const addresses = await Promise.all(names.map((name) => addressOf(name, net)))
      assert.equal(new Set(addresses).size, 6, `six distinct addresses: ${addresses.join(' ')}`)
      for (const address of addresses.slice(1)) await assertPing(names[0] ?? '', address)
    },
  },
  {
    name: 'dockerd restart: a --restart=always container comes back connected',
    origin: 'issue',
    async run(ctx) {
      const master = await ctx.master(17)
      const net = await ctx.network('always', [
        '-o',
        `parent=${master}`,
        '--subnet',
        '172.28.186.0/24',
      ])
      const a = await ctx.container('always', net, ['--restart=always', '--ip', '172.28.186.10'])
      void a
      await restartDockerd()
      const running = await docker('inspect', '-f', '{{.State.Running}}', ctx.name('always'))
      assert.equal(running.stdout, 'true', 'the restart=always container is running again')
      const b = await ctx.container('always-peer', net)
      await assertPing(b, '172.28.186.10')
    },
  },
  {
    name: 'IPv6-only network (--ipv4=false --ipv6): no IPv4 address, IPv6 reaches the peer',
    origin: 'newer',
    expectedFailure: {
      engineBelow: 28,
      reason:
        'Docker < 28 has no --ipv4=false (API < 1.47 ignores EnableIPv4): every network gets an IPv4 pool, so eth0 has an IPv4 address whatever the driver',
    },
    async run(ctx) {
      const net = await ctx.network('v6only', [
        '-o',
        'ipvlan_mode=l3',
        '--ipv4=false',
        '--ipv6',
        '--subnet',
        '2001:db8:ab60::/64',
      ])
      const { a, b } = await pair(ctx, net)
      for (const c of [a, b]) {
        const v4 = await exec(c, 'ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0')
        assert.equal(v4.code, 0, v4.output)
        assert.equal(v4.stdout, '', `no IPv4 address on ${c}'s eth0`)
      }
      const address = await addressOf(a, net, true)
      assert.match(address, /^2001:db8:ab60::/, `an address of the IPv6 subnet: ${address}`)
      await assertPing(b, address)
    },
  },
  {
    name: 'IPv4-only network: eth0 has IPv6 disabled (disable_ipv6=1), dual stack has it on',
    origin: 'newer',
    async run(ctx) {
      const v4 = await ctx.network('v4only', ['-o', 'ipvlan_mode=l3', '--subnet', '10.42.42.0/24'])
      const dual = await ctx.network('v4v6', [
        '-o',
        'ipvlan_mode=l3',
        ...dualStack([
          ['10.42.43.0/24', ''],
          ['2001:db8:ab61::/64', ''],
        ]),
      ])
      const sysctl = async (c: string): Promise<string> => {
        const r = await exec(c, 'sysctl', '-n', 'net.ipv6.conf.eth0.disable_ipv6')
        assert.equal(r.code, 0, r.output)
        return r.stdout.trim()
      }
      const c4 = await ctx.container('v4only', v4)
      const c6 = await ctx.container('v4v6', dual)
      assert.equal(await sysctl(c4), '1', 'IPv6 disabled on an IPv4-only endpoint')
      assert.equal(await sysctl(c6), '0', 'IPv6 enabled on a dual-stack endpoint')
      const inet6 = await exec(c4, 'ip', '-o', '-6', 'addr', 'show', 'dev', 'eth0')
      assert.equal(inet6.stdout, '', `no IPv6 address (not even link-local) on ${c4}'s eth0`)
    },
  },
  {
    name: '/30 l3 network: no gateway taken, both usable addresses go to containers',
    origin: 'newer',
    expectedFailure: {
      engineBelow: 28,
      reason:
        'Docker < 28 reserves a gateway in every IPv4 subnet whatever the driver: a /30 has room for one container (Docker >= 28 asks the driver first, GwAllocChecker, and the plugin declines the gateway on l3)',
    },
    async run(ctx) {
      const master = await ctx.master(18)
      const net = await ctx.network('p2p30', [
        '-o',
        `parent=${master}`,
        '-o',
        'ipvlan_mode=l3',
        '--subnet',
        '192.168.136.0/30',
      ])
      const { a, b } = await pair(ctx, net)
      const addresses = [await addressOf(a, net), await addressOf(b, net)].sort()
      assert.deepEqual(addresses, ['192.168.136.1', '192.168.136.2'])
      await assertPing(b, await addressOf(a, net))
    },
  },
  {
    name: '/31 point-to-point l3s network, and /31 without parent (internal l2)',
    origin: 'newer',
    expectedFailure: {
      engineBelow: 28,
      reason:
        "Docker < 28's IPAM finds no address for the gateway it reserves in a /31 whatever the driver: network create fails with 'failed to allocate gateway'",
    },
    async run(ctx) {
      const master = await ctx.master(19)
      const l3s = await ctx.network('p2ps', [
        '-o',
        `parent=${master}`,
        '-o',
        'ipvlan_mode=l3s',
        '--subnet',
        '192.168.137.0/31',
      ])
      const internal = await ctx.network('p2pi', ['--subnet', '192.168.138.0/31'])
      for (const net of [l3s, internal]) {
        const { a, b } = await pair(ctx, net)
        await assertPing(b, await addressOf(a, net))
      }
    },
  },
  {
    name: '--ip-range and --aux-address honoured',
    origin: 'newer',
    async run(ctx) {
      const master = await ctx.master(20)
      const net = await ctx.network('range', [
        '-o',
        `parent=${master}`,
        '--subnet',
        '172.28.187.0/24',
        '--ip-range',
        '172.28.187.128/29',
        '--aux-address',
        'reserved=172.28.187.129',
      ])
      const names = [await ctx.container('range1', net), await ctx.container('range2', net)]
      names.push(await ctx.container('range3', net))
      const last = (a: string): number => Number(a.split('.')[3])
      const addresses = await Promise.all(names.map((name) => addressOf(name, net)))
      assert.equal(new Set(addresses).size, 3, `distinct: ${addresses.join(' ')}`)
      for (const address of addresses) {
        assert.match(address, /^172\.28\.187\./, address)
        assert.ok(last(address) >= 128 && last(address) <= 135, `${address} in --ip-range`)
        assert.notEqual(address, '172.28.187.129', 'the --aux-address is never handed out')
      }
      await assertPing(names[0] ?? '', addresses[2] ?? '')
    },
  },
  {
    name: 'custom interface name in the container (endpoint driver-opt ifname)',
    origin: 'newer',
    expectedFailure: {
      engineBelow: 28,
      reason:
        'Docker < 28 has no com.docker.network.endpoint.ifname: the interface is eth0 whatever the driver',
    },
    remoteDriverLimit: {
      engineFrom: 28,
      reason:
        'Docker\'s remote-driver proxy drops the name: its Join calls SetNames(SrcName, DstPrefix, "") (daemon/libnetwork/drivers/remote/driver.go, v28.5.2 and master), so a plugin can set only the prefix (eth) and Docker numbers it',
    },
    async run(ctx) {
      const master = await ctx.master(21)
      const net = await ctx.network('ifname', [
        '-o',
        `parent=${master}.71`,
        '--subnet',
        '172.28.188.0/24',
      ])
      const name = ctx.name('ifname')
      ctx.containers.push(name)
      await docker('rm', '-f', name)
      await dockerOk(
        'run',
        '-d',
        '--name',
        name,
        '--network',
        `name=${net},driver-opt=com.docker.network.endpoint.ifname=foobar`,
        'busybox:lab',
        'sleep',
        '3600'
      )
      const link = await exec(name, 'ip', '-o', 'link', 'show', 'foobar')
      assert.equal(link.code, 0, `no interface foobar in the container: ${link.output}`)
      const peer = await ctx.container('ifname-peer', net)
      await assertPing(peer, await addressOf(name, net))
    },
  },
]
