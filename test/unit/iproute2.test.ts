import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { classify } from '../../src/link/classify.ts'
import { createIproute2 } from '../../src/link/iproute2.ts'
import type { IpvlanSpec, LinkLayer } from '../../src/driver/ports/link-layer.ts'
import { LinkError } from '../../src/driver/ports/link-layer.ts'
import { RecordingRunner, fail, ok } from '../fakes/recording-runner.ts'

const ALIAS = 'ipvlan-lan/feedf00d:ep:0123456789ab'

function setup(): { runner: RecordingRunner; links: LinkLayer } {
  const runner = new RecordingRunner()
  return { runner, links: createIproute2({ run: runner.run, timeoutMs: 1234 }) }
}

const spec = (extra: Partial<IpvlanSpec> = {}): IpvlanSpec => ({
  name: 'ivl0123456789ab',
  parent: 'eth0',
  mode: 'l2',
  flag: 'bridge',
  alias: ALIAS,
  ...extra,
})

const IP_LINK_JSON = JSON.stringify([
  {
    ifindex: 1,
    ifname: 'lo',
    flags: ['LOOPBACK', 'UP', 'LOWER_UP'],
    link_type: 'loopback',
  },
  {
    ifindex: 7,
    ifname: 'ivl0123456789ab',
    flags: ['BROADCAST', 'MULTICAST'],
    ifalias: ALIAS,
    linkinfo: { info_kind: 'ipvlan', info_data: { mode: 'l2', flags: 'bridge' } },
  },
  { ifindex: 8, flags: ['UP'] },
])

async function rejectsWithKind(promise: Promise<unknown>, kind: string): Promise<LinkError> {
  let caught: unknown
  await promise.then(
    () => assert.fail(`expected a LinkError of kind ${kind}`),
    (error: unknown) => {
      caught = error
    }
  )
  assert.ok(caught instanceof LinkError, `expected a LinkError, got ${String(caught)}`)
  assert.equal(caught.kind, kind)
  return caught
}

describe('iproute2 link layer commands', () => {
  test('list runs "ip -j -d link show" and parses names, aliases, kinds and the UP flag', async () => {
    const { runner, links } = setup()
    runner.reply(ok(IP_LINK_JSON))
    const found = await links.list()
    assert.deepEqual(runner.calls, [{ args: ['-j', '-d', 'link', 'show'], input: undefined }])
    assert.deepEqual(found, [
      { name: 'lo', alias: undefined, kind: undefined, up: true },
      { name: 'ivl0123456789ab', alias: ALIAS, kind: 'ipvlan', up: false },
    ])
  })

  test('list treats empty output as no links', async () => {
    const { runner, links } = setup()
    runner.reply(ok(''))
    assert.deepEqual(await links.list(), [])
  })

  test('show runs "ip -j -d link show dev NAME" and returns the one link', async () => {
    const { runner, links } = setup()
    runner.reply(
      ok(JSON.stringify([{ ifname: 'eth0', flags: ['UP'], linkinfo: { info_kind: 'veth' } }]))
    )
    const link = await links.show('eth0')
    assert.deepEqual(runner.calls, [
      { args: ['-j', '-d', 'link', 'show', 'dev', 'eth0'], input: undefined },
    ])
    assert.deepEqual(link, { name: 'eth0', alias: undefined, kind: 'veth', up: true })
  })

  test('show maps \'Device "x" does not exist.\' to undefined', async () => {
    const { runner, links } = setup()
    runner.reply(fail('Device "eth9" does not exist.\n', 1))
    assert.equal(await links.show('eth9'), undefined)
  })

  test("show maps 'Cannot find device' to undefined", async () => {
    const { runner, links } = setup()
    runner.reply(fail('Cannot find device "eth9"\n', 1))
    assert.equal(await links.show('eth9'), undefined)
  })

  test('show passes other failures on', async () => {
    const { runner, links } = setup()
    runner.reply(fail('RTNETLINK answers: Operation not permitted\n', 2))
    const error = await rejectsWithKind(links.show('eth0'), 'failed')
    assert.match(error.message, /Operation not permitted/)
    assert.equal(error.command, 'ip -j -d link show dev eth0')
  })

  test('addIpvlan without mtu sends one ip -batch with the add and the alias', async () => {
    const { runner, links } = setup()
    await links.addIpvlan(spec())
    assert.deepEqual(runner.calls, [
      {
        args: ['-batch', '-'],
        input:
          'link add name ivl0123456789ab link eth0 type ipvlan mode l2 bridge\n' +
          `link set dev ivl0123456789ab alias ${ALIAS}\n`,
      },
    ])
  })

  test('addIpvlan with mtu puts "mtu N" before the type', async () => {
    const { runner, links } = setup()
    await links.addIpvlan(spec({ mode: 'l3s', flag: 'private', mtu: 1400, parent: 'eth0.10' }))
    assert.deepEqual(runner.calls, [
      {
        args: ['-batch', '-'],
        input:
          'link add name ivl0123456789ab link eth0.10 mtu 1400 type ipvlan mode l3s private\n' +
          `link set dev ivl0123456789ab alias ${ALIAS}\n`,
      },
    ])
  })

  test('probeIpvlan adds the ipvlan link, marks it and deletes it in the same batch', async () => {
    const { runner, links } = setup()
    await links.probeIpvlan(spec({ name: 'ivp0123456789ab', mode: 'l3', flag: 'vepa' }))
    assert.deepEqual(runner.calls, [
      {
        args: ['-batch', '-'],
        input:
          'link add name ivp0123456789ab link eth0 type ipvlan mode l3 vepa\n' +
          `link set dev ivp0123456789ab alias ${ALIAS}\n` +
          'link del dev ivp0123456789ab\n',
      },
    ])
  })

  test('addVlan creates the 802.1Q link, sets the alias and brings it up', async () => {
    const { runner, links } = setup()
    await links.addVlan({ name: 'eth0.10', master: 'eth0', vlanId: 10, alias: ALIAS })
    assert.deepEqual(runner.calls, [
      {
        args: ['-batch', '-'],
        input:
          'link add link eth0 name eth0.10 type vlan id 10\n' +
          `link set dev eth0.10 alias ${ALIAS}\n` +
          'link set dev eth0.10 up\n',
      },
    ])
  })

  test('addHostLink adds the ipvlan link, marks it, gives it its addresses (IPv6 without DAD) and brings it up, in one batch', async () => {
    const { runner, links } = setup()
    await links.addHostLink({
      ...spec({ name: 'ivh0123456789ab', mode: 'l3' }),
      addresses: ['192.168.10.2/32', '2001:db8::2/128'],
    })
    assert.deepEqual(runner.calls, [
      {
        args: ['-batch', '-'],
        input:
          'link add name ivh0123456789ab link eth0 type ipvlan mode l3 bridge\n' +
          `link set dev ivh0123456789ab alias ${ALIAS}\n` +
          'address add 192.168.10.2/32 dev ivh0123456789ab\n' +
          'address add 2001:db8::2/128 dev ivh0123456789ab nodad\n' +
          'link set dev ivh0123456789ab up\n',
      },
    ])
  })

  test('addRoutes adds every host route through the link in one batch; none runs nothing', async () => {
    const { runner, links } = setup()
    await links.addRoutes('ivh0', [])
    await links.addRoutes('ivh0', ['192.168.10.5/32', '2001:db8::5/128'])
    assert.deepEqual(runner.calls, [
      {
        args: ['-batch', '-'],
        input: 'route add 192.168.10.5/32 dev ivh0\nroute add 2001:db8::5/128 dev ivh0\n',
      },
    ])
  })

  test('routeDevices runs "ip -j -4|-6 route show exact D" and returns the devices', async () => {
    const { runner, links } = setup()
    runner.reply(ok(JSON.stringify([{ dst: '192.168.10.5', dev: 'eth0' }])))
    assert.deepEqual(await links.routeDevices('192.168.10.5/32'), ['eth0'])
    runner.reply(ok(''))
    assert.deepEqual(await links.routeDevices('2001:db8::5/128'), [])
    assert.deepEqual(
      runner.calls.map((call) => call.args),
      [
        ['-j', '-4', 'route', 'show', 'exact', '192.168.10.5/32'],
        ['-j', '-6', 'route', 'show', 'exact', '2001:db8::5/128'],
      ]
    )
  })

  test('defaultRoutes runs "ip -j -4|-6 route show default" and returns devices and metric', async () => {
    const { runner, links } = setup()
    runner.reply(
      ok(JSON.stringify([{ dst: 'default', gateway: '192.0.2.1', dev: 'eth0', flags: [] }])),
      ok(
        JSON.stringify([
          { dst: 'default', gateway: 'fe80::1', dev: 'enp3s0', metric: 1024, pref: 'medium' },
        ])
      )
    )
    assert.deepEqual(await links.defaultRoutes(4), [{ devices: ['eth0'], metric: 0 }])
    assert.deepEqual(await links.defaultRoutes(6), [{ devices: ['enp3s0'], metric: 1024 }])
    assert.deepEqual(
      runner.calls.map((call) => call.args),
      [
        ['-j', '-4', 'route', 'show', 'default'],
        ['-j', '-6', 'route', 'show', 'default'],
      ]
    )
  })

  test('defaultRoutes: none is an empty list, whether ip prints [] or nothing', async () => {
    const { runner, links } = setup()
    runner.reply(ok('[]\n'), ok(''))
    assert.deepEqual(await links.defaultRoutes(4), [])
    assert.deepEqual(await links.defaultRoutes(6), [])
  })

  test('defaultRoutes: a multipath route lists the device of every nexthop; several routes keep their metrics', async () => {
    const { runner, links } = setup()
    runner.reply(
      ok(
        JSON.stringify([
          {
            dst: 'default',
            metric: 10,
            flags: [],
            nexthops: [
              { gateway: '10.1.0.1', dev: 'eth0', weight: 1, flags: [] },
              { gateway: '10.2.0.1', dev: 'eth1', weight: 1, flags: [] },
            ],
          },
          { dst: 'default', gateway: '10.3.0.1', dev: 'wlan0', metric: 600, flags: [] },
        ])
      )
    )
    assert.deepEqual(await links.defaultRoutes(4), [
      { devices: ['eth0', 'eth1'], metric: 10 },
      { devices: ['wlan0'], metric: 600 },
    ])
  })

  test('defaultRoutes narrows what ip prints: other route types and tables left out, odd fields not trusted', async () => {
    const { runner, links } = setup()
    runner.reply(
      ok(
        JSON.stringify([
          { type: 'unreachable', dst: 'default', metric: 5, flags: [] },
          { type: 'blackhole', dst: 'default', flags: [] },
          { dst: 'default', dev: 'eth9', table: '100', flags: [] },
          null,
          'default',
          [],
          { dst: 'default', dev: 7, metric: -3 },
          { dst: 'default', nhid: 4, metric: 1.5 },
          { dst: 'default', nexthops: [null, { dev: 'eth2' }, { dev: ['x'] }], metric: 20 },
          { type: 'unicast', dst: 'default', dev: 'eth0', table: 'main', metric: 100 },
        ])
      )
    )
    assert.deepEqual(await links.defaultRoutes(4), [
      { devices: [], metric: 0 },
      { devices: [], metric: 0 },
      { devices: ['eth2'], metric: 20 },
      { devices: ['eth0'], metric: 100 },
    ])
  })

  test('defaultRoutes: output that is not a JSON list is an error naming the command', async () => {
    const { runner, links } = setup()
    runner.reply(ok('default via 192.0.2.1 dev eth0\n'))
    const notJson = await rejectsWithKind(links.defaultRoutes(4), 'failed')
    assert.match(notJson.message, /"ip -j -4 route show default" printed no JSON/)
    assert.equal(notJson.command, 'ip -j -4 route show default')
    runner.reply(ok('{"dst":"default"}'))
    const notList = await rejectsWithKind(links.defaultRoutes(6), 'failed')
    assert.match(notList.message, /"ip -j -6 route show default" printed JSON that is not a list/)
  })

  test('defaultRoutes: a failed ip run is a LinkError naming the command; a family other than 4 or 6 runs nothing', async () => {
    const { runner, links } = setup()
    runner.reply(fail('Error: ipv6 is disabled or not supported\n', 1))
    const error = await rejectsWithKind(links.defaultRoutes(6), 'failed')
    assert.equal(error.command, 'ip -j -6 route show default')
    assert.match(error.message, /ipv6 is disabled/)
    await rejectsWithKind(links.defaultRoutes(5 as 4), 'failed')
    assert.equal(runner.calls.length, 1)
  })

  test("removeRoutes deletes each route through the link; 'No such process' (already gone) is no error", async () => {
    const { runner, links } = setup()
    runner.reply(fail('RTNETLINK answers: No such process'))
    await links.removeRoutes('ivh0', ['192.168.10.5/32', '2001:db8::5/128'])
    assert.deepEqual(
      runner.calls.map((call) => call.args),
      [
        ['route', 'del', '192.168.10.5/32', 'dev', 'ivh0'],
        ['route', 'del', '2001:db8::5/128', 'dev', 'ivh0'],
      ]
    )
    runner.reply(fail('RTNETLINK answers: Operation not permitted'))
    await rejectsWithKind(links.removeRoutes('ivh0', ['192.168.10.5/32']), 'failed')
  })

  test('addDummy creates the dummy link, sets the alias and brings it up', async () => {
    const { runner, links } = setup()
    await links.addDummy({ name: 'di-0123456789ab', alias: ALIAS })
    assert.deepEqual(runner.calls, [
      {
        args: ['-batch', '-'],
        input:
          'link add name di-0123456789ab type dummy\n' +
          `link set dev di-0123456789ab alias ${ALIAS}\n` +
          'link set dev di-0123456789ab up\n',
      },
    ])
  })

  test('setUp runs "ip link set dev NAME up"', async () => {
    const { runner, links } = setup()
    await links.setUp('eth0.10')
    assert.deepEqual(runner.calls, [
      { args: ['link', 'set', 'dev', 'eth0.10', 'up'], input: undefined },
    ])
  })

  test('remove runs "ip link del dev NAME" and resolves true', async () => {
    const { runner, links } = setup()
    assert.equal(await links.remove('ivl0123456789ab'), true)
    assert.deepEqual(runner.calls, [
      { args: ['link', 'del', 'dev', 'ivl0123456789ab'], input: undefined },
    ])
  })

  describe('addIpvlans (several endpoint links in one ip -batch)', () => {
    const spec = (name: string): IpvlanSpec => ({
      name,
      parent: 'eth0',
      mode: 'l2',
      flag: 'bridge',
      alias: `ipvlan-lan/abcd1234:ep:${name}`,
    })
    const specs = [spec('ivla'), spec('ivlb'), spec('ivlc')]

    test('one batch without -force: add and alias of each link, in order', async () => {
      const { runner, links } = setup()
      assert.deepEqual(await links.addIpvlans(specs), { made: 3 })
      assert.equal(runner.calls.length, 1)
      assert.deepEqual(runner.calls[0]?.args, ['-batch', '-'])
      const lines = (runner.calls[0]?.input ?? '').trim().split('\n')
      assert.deepEqual(lines, [
        'link add name ivla link eth0 type ipvlan mode l2 bridge',
        'link set dev ivla alias ipvlan-lan/abcd1234:ep:ivla',
        'link add name ivlb link eth0 type ipvlan mode l2 bridge',
        'link set dev ivlb alias ipvlan-lan/abcd1234:ep:ivlb',
        'link add name ivlc link eth0 type ipvlan mode l2 bridge',
        'link set dev ivlc alias ipvlan-lan/abcd1234:ep:ivlc',
      ])
    })

    test('"Command failed -:N" says which link failed and how far the batch got', async () => {
      const { runner, links } = setup()
      runner.reply(fail('RTNETLINK answers: File exists\nCommand failed -:3\n', 1))
      const outcome = await links.addIpvlans(specs)
      assert.equal(outcome.made, 1)
      assert.equal(outcome.whole, undefined)
      assert.ok(outcome.error instanceof LinkError)
      assert.equal(outcome.error.kind, 'exists')
      assert.match(outcome.error.command, /link add name ivlb /)
      assert.doesNotMatch(outcome.error.message, /Command failed/)
    })

    test('a failed alias line fails its own link', async () => {
      const { runner, links } = setup()
      runner.reply(fail('Cannot find device "ivlc"\nCommand failed -:6\n', 1))
      const outcome = await links.addIpvlans(specs)
      assert.equal(outcome.made, 2)
      assert.equal(outcome.error?.kind, 'not-found')
    })

    test('a batch killed, timed out or silent about its line fails as a whole', async () => {
      for (const result of [
        { stdout: '', stderr: '', exitCode: undefined, timedOut: true, signal: 'SIGKILL' },
        { stdout: '', stderr: '', exitCode: undefined, timedOut: false, code: 'ENOENT' },
        { stdout: '', stderr: 'something odd\n', exitCode: 1, timedOut: false },
      ]) {
        const { runner, links } = setup()
        runner.reply(result)
        const outcome = await links.addIpvlans(specs)
        assert.equal(outcome.whole, true, JSON.stringify(result))
        assert.equal(outcome.made, 0)
        assert.ok(outcome.error instanceof LinkError)
      }
    })

    test('every spec is validated before anything runs; an empty list runs nothing', async () => {
      const { runner, links } = setup()
      await assert.rejects(links.addIpvlans([spec('ivla'), spec('-bad')]), /interface name/)
      assert.deepEqual(await links.addIpvlans([]), { made: 0 })
      assert.equal(runner.calls.length, 0)
    })
  })

  test('removeAll deletes every link in one "ip -batch -" and validates each name first', async () => {
    const { runner, links } = setup()
    await links.removeAll(['ivl0123456789ab', 'ivl0123456789ac'])
    assert.deepEqual(runner.calls, [
      {
        args: ['-batch', '-'],
        input: 'link del dev ivl0123456789ab\nlink del dev ivl0123456789ac\n',
      },
    ])
    await assert.rejects(links.removeAll(['ivl0123456789ab', '-bad']), /interface name/)
    assert.deepEqual(await links.removeAll([]), { made: 0 })
    assert.equal(runner.calls.length, 1, 'nothing run for a refused or empty list')
  })

  test('removeAll says how far a failing batch got and why the next link failed', async () => {
    const { runner, links } = setup()
    runner.reply(fail('Cannot find device "ivl0123456789ac"\nCommand failed -:2\n', 1))
    const outcome = await links.removeAll(['ivl0123456789ab', 'ivl0123456789ac', 'ivl0123456789ad'])
    assert.equal(outcome.made, 1)
    assert.equal(outcome.whole, undefined)
    assert.equal(outcome.error?.kind, 'not-found')
    assert.equal(outcome.error?.device, 'ivl0123456789ac')
    runner.reply({ stdout: '', stderr: '', exitCode: undefined, timedOut: true, signal: 'SIGKILL' })
    const killed = await links.removeAll(['ivl0123456789ab'])
    assert.equal(killed.whole, true)
    assert.equal(killed.error?.kind, 'timeout')
  })

  test("remove maps 'Cannot find device' to false", async () => {
    const { runner, links } = setup()
    runner.reply(fail('Cannot find device "ivl0123456789ab"\n', 1))
    assert.equal(await links.remove('ivl0123456789ab'), false)
  })

  test('remove maps \'Device "x" does not exist.\' to false', async () => {
    const { runner, links } = setup()
    runner.reply(fail('Device "ivl0123456789ab" does not exist.\n', 1))
    assert.equal(await links.remove('ivl0123456789ab'), false)
  })

  test('remove passes other failures on', async () => {
    const { runner, links } = setup()
    runner.reply(fail('RTNETLINK answers: Device or resource busy\n'))
    await rejectsWithKind(links.remove('eth0.10'), 'busy')
  })

  test('a failed batch names every batch line in the error command', async () => {
    const { runner, links } = setup()
    runner.reply(fail('RTNETLINK answers: File exists\nCommand failed -:1\n'))
    const error = await rejectsWithKind(links.addDummy({ name: 'di-x', alias: ALIAS }), 'exists')
    assert.equal(
      error.command,
      `ip -batch: link add name di-x type dummy; link set dev di-x alias ${ALIAS}; link set dev di-x up`
    )
    assert.equal(error.message, 'RTNETLINK answers: File exists; Command failed -:1')
  })

  test('a run that timed out is a timeout even with exit code 0', async () => {
    const { runner, links } = setup()
    runner.reply({ timedOut: true, exitCode: 0 })
    const error = await rejectsWithKind(links.setUp('eth0'), 'timeout')
    assert.match(error.message, /1234 ms/)
  })
})

describe('iproute2 link layer in a named network namespace', () => {
  test('every command is prefixed with "-n NAME"', async () => {
    const runner = new RecordingRunner()
    const links = createIproute2({ run: runner.run, timeoutMs: 1000, netns: 'lab1' })
    runner.reply(ok('[]'))
    await links.list()
    await links.setUp('eth0')
    await links.addDummy({ name: 'd0', alias: ALIAS })
    assert.deepEqual(
      runner.calls.map((call) => call.args),
      [
        ['-n', 'lab1', '-j', '-d', 'link', 'show'],
        ['-n', 'lab1', 'link', 'set', 'dev', 'eth0', 'up'],
        ['-n', 'lab1', '-batch', '-'],
      ]
    )
  })

  test('an invalid namespace name is refused before anything runs', () => {
    const runner = new RecordingRunner()
    assert.throws(
      () => createIproute2({ run: runner.run, timeoutMs: 1000, netns: '-x' }),
      /refusing to run ip/
    )
    assert.equal(runner.calls.length, 0)
  })
})

describe('classify', () => {
  const run = (stderr: string, extra: { timedOut?: boolean; exitCode?: number } = {}) =>
    classify({ stdout: '', stderr, exitCode: 2, timedOut: false, ...extra }, 'ip link add x', 500)

  test("maps 'Unknown device type' to unsupported", () => {
    assert.equal(run('Error: Unknown device type.\n').kind, 'unsupported')
  })

  test("maps 'Operation not supported' to unsupported", () => {
    assert.equal(run('RTNETLINK answers: Operation not supported\n').kind, 'unsupported')
  })

  test("maps 'File exists' to exists", () => {
    assert.equal(run('RTNETLINK answers: File exists\n').kind, 'exists')
  })

  test("maps 'Device or resource busy' to busy", () => {
    assert.equal(run('RTNETLINK answers: Device or resource busy\n').kind, 'busy')
  })

  test('maps timedOut to timeout whatever stderr says, naming the command and the limit', () => {
    const error = run('RTNETLINK answers: File exists', { timedOut: true })
    assert.equal(error.kind, 'timeout')
    assert.equal(error.message, '"ip link add x" did not finish within 500 ms and was killed')
  })

  test("maps 'Cannot find device' to not-found and records the device", () => {
    const error = run('Cannot find device "eth9"\n')
    assert.equal(error.kind, 'not-found')
    assert.equal(error.device, 'eth9')
  })

  test('maps \'Device "x" does not exist.\' to not-found and records the device', () => {
    const error = run('Device "eth9" does not exist.\n')
    assert.equal(error.kind, 'not-found')
    assert.equal(error.device, 'eth9')
  })

  test('maps anything else to failed, with the exit code when stderr is empty', () => {
    const error = run('', { exitCode: 255 })
    assert.equal(error.kind, 'failed')
    assert.equal(error.message, 'ip exited with code 255 and printed nothing')
    assert.equal(error.exitCode, 255)
    assert.equal(error.command, 'ip link add x')
  })
})

describe('iproute2 refuses invalid input without running ip', () => {
  const badNames = ['', '-x', 'a b', 'a/b', 'a:b', 'x'.repeat(16), 'eth\u00e9', '.hidden', 'a;b']

  async function refused(call: (links: LinkLayer) => Promise<unknown>, what: RegExp) {
    const { runner, links } = setup()
    const error = await rejectsWithKind(call(links), 'failed')
    assert.match(error.message, /refusing to run ip/)
    assert.match(error.message, what)
    assert.equal(runner.calls.length, 0)
  }

  for (const bad of badNames) {
    test(`interface name ${JSON.stringify(bad)} is refused by every operation`, async () => {
      const name = /interface name/
      await refused((l) => l.show(bad), name)
      await refused((l) => l.setUp(bad), name)
      await refused((l) => l.remove(bad), name)
      await refused((l) => l.addDummy({ name: bad, alias: ALIAS }), name)
      await refused((l) => l.addVlan({ name: bad, master: 'eth0', vlanId: 10, alias: ALIAS }), name)
      await refused((l) => l.addVlan({ name: 'v10', master: bad, vlanId: 10, alias: ALIAS }), name)
      await refused((l) => l.addIpvlan(spec({ name: bad })), name)
      await refused((l) => l.addIpvlan(spec({ parent: bad })), name)
      await refused((l) => l.probeIpvlan(spec({ name: bad })), name)
      await refused((l) => l.addHostLink({ ...spec({ name: bad }), addresses: [] }), name)
      await refused((l) => l.addRoutes(bad, ['10.0.0.1/32']), name)
      await refused((l) => l.removeRoutes(bad, ['10.0.0.1/32']), name)
    })
  }

  for (const bad of ['', 'has space', 'a'.repeat(201), 'x;reboot', 'new\nline', 'quote"s']) {
    test(`alias ${JSON.stringify(bad.slice(0, 20))} is refused`, async () => {
      await refused((l) => l.addIpvlan(spec({ alias: bad })), /alias/)
      await refused((l) => l.probeIpvlan(spec({ alias: bad })), /alias/)
      await refused((l) => l.addDummy({ name: 'd0', alias: bad }), /alias/)
      await refused((l) => l.addVlan({ name: 'e.1', master: 'e', vlanId: 1, alias: bad }), /alias/)
    })
  }

  for (const bad of [
    '192.168.10.5',
    '192.168.10.0/24',
    '2001:db8::/64',
    '-f/32',
    'a;b/32',
    '1.2.3.4/32 x',
  ]) {
    test(`route destination ${JSON.stringify(bad)} is refused: only host routes reach ip`, async () => {
      const route = /route destination/
      await refused((l) => l.addRoutes('ivh0', [bad]), route)
      await refused((l) => l.removeRoutes('ivh0', [bad]), route)
      await refused((l) => l.routeDevices(bad), route)
      await refused((l) => l.addHostLink({ ...spec({ name: 'ivh0' }), addresses: [bad] }), route)
    })
  }

  test('an alias of exactly 200 characters is accepted', async () => {
    const { runner, links } = setup()
    await links.addDummy({ name: 'd0', alias: 'a'.repeat(200) })
    assert.equal(runner.calls.length, 1)
  })

  test('an ipvlan mode outside l2, l3, l3s is refused', async () => {
    await refused((l) => l.addIpvlan(spec({ mode: 'l4' as IpvlanSpec['mode'] })), /ipvlan mode/)
    await refused((l) => l.addIpvlan(spec({ mode: 'l2 up' as IpvlanSpec['mode'] })), /ipvlan mode/)
  })

  test('an ipvlan flag outside bridge, private, vepa is refused', async () => {
    await refused((l) => l.addIpvlan(spec({ flag: 'passthru' as IpvlanSpec['flag'] })), /flag/)
  })

  for (const mtu of [67, 65536, 1500.5, Number.NaN, -1]) {
    test(`mtu ${mtu} is refused`, async () => {
      await refused((l) => l.addIpvlan(spec({ mtu })), /mtu/)
      await refused((l) => l.probeIpvlan(spec({ mtu })), /mtu/)
    })
  }

  test('mtu 68 and 65535 are accepted', async () => {
    const { runner, links } = setup()
    await links.addIpvlan(spec({ mtu: 68 }))
    await links.addIpvlan(spec({ mtu: 65535 }))
    assert.equal(runner.calls.length, 2)
  })

  for (const vlanId of [0, 4095, 1.5, -10, Number.NaN]) {
    test(`vlan id ${vlanId} is refused`, async () => {
      await refused(
        (l) => l.addVlan({ name: 'eth0.x', master: 'eth0', vlanId, alias: ALIAS }),
        /vlan id/
      )
    })
  }

  test('vlan ids 1 and 4094 are accepted', async () => {
    const { runner, links } = setup()
    await links.addVlan({ name: 'eth0.1', master: 'eth0', vlanId: 1, alias: ALIAS })
    await links.addVlan({ name: 'eth0.4094', master: 'eth0', vlanId: 4094, alias: ALIAS })
    assert.equal(runner.calls.length, 2)
  })
})
