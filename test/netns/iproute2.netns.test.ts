import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createIproute2 } from '../../src/link/iproute2.ts'
import { LinkError } from '../../src/driver/ports/link-layer.ts'
import type { LinkLayer } from '../../src/driver/ports/link-layer.ts'
import { ResidentIp } from '../../src/link/resident-ip.ts'
import { execaRunner } from '../../src/link/runner.ts'
import { join } from 'node:path'
import { REPO } from '../helpers/plugin-process.ts'
import { createNetns, ipSync, kernelSupports, nsLinks, rootSkipReason } from '../helpers/netns.ts'

/**
 * The link layer against real `ip` and the running kernel, inside a throw-away namespace. Each
 * kernel-dependent case checks the branch this kernel supports: on the host (no ipvlan, 802.1Q or
 * dummy) the plain "unsupported" error, in the lab VM the real links with the right settings.
 */
const skip = rootSkipReason('host netns')

/**
 * Each case runs twice: every change in an `ip -batch -` of its own (per-call), and through one
 * long-lived `ip -force -batch -` (resident, as the plugin runs): same answers, same errors.
 */
for (const mode of ['per-call', 'resident'] as const) {
  describe(`iproute2 link layer in a network namespace (${mode} ip)`, { skip }, () => {
    let ns: { name: string; remove: () => void }
    let links: LinkLayer
    let resident: ResidentIp | undefined
    let spawned = 0
    let residentSpawns = 0
    /** Processes the resident ip started again for a name whose link was made again. */
    let staleRespawns = 0
    const veth = (name: string, peer: string): void => {
      ipSync('-n', ns.name, 'link', 'add', name, 'type', 'veth', 'peer', 'name', peer)
    }
    /** Processes a batch may start: one per call, or none once the resident one runs. */
    const assertOneProcess = (started: number): void => {
      if (mode === 'per-call') assert.equal(started, 1, 'one ip process')
      else assert.equal(started, 0, 'no ip started: the resident one ran it')
    }
    const support = { ipvlan: false, vlan: false, dummy: false }

    before(() => {
      support.ipvlan = kernelSupports('ipvlan')
      support.vlan = kernelSupports('vlan')
      support.dummy = kernelSupports('dummy')
      process.stdout.write(`# kernel supports: ${JSON.stringify(support)}\n`)
      ns = createNetns()
      ipSync('-n', ns.name, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'peer0')
      ipSync('-n', ns.name, 'link', 'set', 'eth0', 'up')
      if (mode === 'resident') {
        resident = new ResidentIp({
          globalArgs: ['-n', ns.name],
          timeoutMs: 5000,
          onSpawn: () => residentSpawns++,
        })
      }
      links = createIproute2({
        run: execaRunner({ timeoutMs: 5000, onSpawn: () => spawned++ }),
        batch: resident?.run,
        timeoutMs: 5000,
        netns: ns.name,
      })
    })
    after(() => {
      resident?.close()
      ns.remove()
    })

    test('list and show report names, kinds, state and our alias', async () => {
      ipSync('-n', ns.name, 'link', 'set', 'dev', 'peer0', 'alias', 'ipvlan-lan/abcd1234:ep:x')
      const all = await links.list()
      const peer = all.find((link) => link.name === 'peer0')
      assert.deepEqual(peer, {
        name: 'peer0',
        alias: 'ipvlan-lan/abcd1234:ep:x',
        kind: 'veth',
        up: false,
      })
      const eth0 = await links.show('eth0')
      assert.equal(eth0?.kind, 'veth')
      assert.equal(eth0?.alias, undefined)
    })

    test('show of a missing link is undefined and remove of a missing link is false', async () => {
      assert.equal(await links.show('nosuch0'), undefined)
      assert.equal(await links.remove('nosuch0'), false)
    })

    test('setUp and remove act on a real link', async () => {
      ipSync('-n', ns.name, 'link', 'add', 'tmp0', 'type', 'veth', 'peer', 'name', 'tmp1')
      await links.setUp('tmp0')
      assert.ok(
        nsLinks(ns.name)
          .find((l) => l.ifname === 'tmp0')
          ?.flags?.includes('UP')
      )
      assert.equal(await links.remove('tmp0'), true)
      assert.equal(await links.show('tmp0'), undefined)
    })

    test('addIpvlan: a real ipvlan link with mode, flag, MTU and alias in one ip process', async () => {
      const spec = {
        name: 'ivltest1',
        parent: 'eth0',
        mode: 'l3s',
        flag: 'private',
        mtu: 1400,
        alias: 'ipvlan-lan/abcd1234:ep:y',
      } as const
      const before = spawned
      if (!support.ipvlan) {
        await assert.rejects(
          links.addIpvlan(spec),
          (error: unknown) => error instanceof LinkError && error.kind === 'unsupported'
        )
        assert.equal(await links.show('ivltest1'), undefined, 'nothing left behind')
        return
      }
      await links.addIpvlan(spec)
      assertOneProcess(spawned - before)
      const link = nsLinks(ns.name).find((l) => l.ifname === 'ivltest1')
      assert.equal(link?.linkinfo?.info_kind, 'ipvlan')
      assert.equal(link?.ifalias, spec.alias)
      assert.equal(link?.linkinfo?.info_data?.['mode'], 'l3s')
      assert.match(JSON.stringify(link?.linkinfo?.info_data), /private/)
      await assert.rejects(
        links.addIpvlan(spec),
        (error: unknown) => error instanceof LinkError && error.kind === 'exists'
      )
      assert.equal(await links.remove('ivltest1'), true)
    })

    test('addIpvlans: one ip process, stops at the first failing link, says which, never touches the link in the way', async () => {
      const spec = (name: string) =>
        ({
          name,
          parent: 'eth0',
          mode: 'l2',
          flag: 'bridge',
          alias: `ipvlan-lan/abcd1234:ep:${name}`,
        }) as const
      // The operator's link, in the way of the second spec.
      ipSync('-n', ns.name, 'link', 'add', 'ivlb2', 'type', 'veth', 'peer', 'name', 'ivlb2p')
      ipSync('-n', ns.name, 'link', 'set', 'dev', 'ivlb2', 'alias', 'operator')
      const before = spawned
      const outcome = await links.addIpvlans([spec('ivlb1'), spec('ivlb2'), spec('ivlb3')])
      assertOneProcess(spawned - before)
      assert.equal(outcome.whole, undefined, JSON.stringify(outcome))
      if (!support.ipvlan) {
        assert.equal(outcome.made, 0)
        assert.equal(outcome.error?.kind, 'unsupported')
      } else {
        assert.equal(outcome.made, 1, 'the first was made')
        assert.equal(outcome.error?.kind, 'exists', outcome.error?.message)
        assert.match(outcome.error?.command ?? '', /ivlb2/, "the error is the second spec's")
        assert.equal(await links.show('ivlb3'), undefined, 'nothing after the failure was tried')
        assert.equal((await links.show('ivlb1'))?.alias, spec('ivlb1').alias)
        assert.equal(await links.remove('ivlb1'), true)
      }
      assert.equal(
        (await links.show('ivlb2'))?.alias,
        'operator',
        'the link in the way is untouched'
      )
      assert.equal(await links.remove('ivlb2'), true)
    })

    test('addIpvlan on a missing parent names the parent', async () => {
      const spec = {
        name: 'ivltest2',
        parent: 'nosuch0',
        mode: 'l2',
        flag: 'bridge',
        alias: 'ipvlan-lan/abcd1234:ep:z',
      } as const
      await assert.rejects(links.addIpvlan(spec), (error: unknown) => {
        assert.ok(error instanceof LinkError)
        if (support.ipvlan) {
          assert.equal(error.kind, 'not-found')
          assert.equal(error.device, 'nosuch0')
        }
        return true
      })
    })

    test('probeIpvlan leaves no link behind', async () => {
      const spec = {
        name: 'ivptest',
        parent: 'eth0',
        mode: 'l2',
        flag: 'bridge',
        alias: 'ipvlan-lan/abcd1234:probe:p',
      } as const
      if (support.ipvlan) await links.probeIpvlan(spec)
      else
        await assert.rejects(
          links.probeIpvlan(spec),
          (e: unknown) => e instanceof LinkError && e.kind === 'unsupported'
        )
      assert.equal(await links.show('ivptest'), undefined)
    })

    test('addVlan creates an 802.1Q sub-interface that is up and marked', async () => {
      const spec = {
        name: 'eth0.42',
        master: 'eth0',
        vlanId: 42,
        alias: 'ipvlan-lan/abcd1234:parent:n',
      }
      if (!support.vlan) {
        await assert.rejects(
          links.addVlan(spec),
          (e: unknown) => e instanceof LinkError && e.kind === 'unsupported'
        )
        return
      }
      await links.addVlan(spec)
      const link = nsLinks(ns.name).find((l) => l.ifname === 'eth0.42')
      assert.equal(link?.linkinfo?.info_kind, 'vlan')
      assert.equal(link?.linkinfo?.info_data?.['id'], 42)
      assert.equal(link?.ifalias, spec.alias)
      assert.ok(link?.flags?.includes('UP'))
      await links.remove('eth0.42')
    })

    test('addDummy creates a dummy parent that is up and marked', async () => {
      const spec = { name: 'di-0123456789ab', alias: 'ipvlan-lan/abcd1234:parent:n' }
      if (!support.dummy) {
        await assert.rejects(
          links.addDummy(spec),
          (e: unknown) => e instanceof LinkError && e.kind === 'unsupported'
        )
        return
      }
      await links.addDummy(spec)
      const link = nsLinks(ns.name).find((l) => l.ifname === spec.name)
      assert.equal(link?.linkinfo?.info_kind, 'dummy')
      assert.ok(link?.flags?.includes('UP'))
      await links.remove(spec.name)
    })

    test('an ip that hangs is killed at the timeout and reported as such', async () => {
      const hanging = createIproute2({
        run: execaRunner({ ipBin: join(REPO, 'test', 'fixtures', 'hanging-ip'), timeoutMs: 300 }),
        timeoutMs: 300,
      })
      const started = Date.now()
      await assert.rejects(
        hanging.setUp('eth0'),
        (e: unknown) => e instanceof LinkError && e.kind === 'timeout'
      )
      assert.ok(Date.now() - started < 5000)
    })

    test('a link deleted and made again behind our back is the one the next batch acts on', async () => {
      // A long-lived ip must not act on a cached ifindex: Docker moves endpoint links in and out
      // of namespaces, and another tool may re-create a name we used.
      const index = (): number | undefined =>
        nsLinks(ns.name).find((l) => l.ifname === 'ivlagain')?.ifindex
      veth('ivlagain', 'ivlagainp')
      const first = index()
      assert.equal((await links.removeAll(['ivlagain'])).error, undefined)
      assert.equal(index(), undefined, 'the first link was deleted')
      veth('ivlpad0', 'ivlpad1')
      veth('ivlagain', 'ivlagainp')
      const second = index()
      assert.ok(
        first !== undefined && second !== undefined && first !== second,
        `${first} ${second}`
      )
      const outcome = await links.removeAll(['ivlagain'])
      assert.equal(outcome.error, undefined, outcome.error?.message)
      assert.equal(index(), undefined, 'the second link, same name, new index, was deleted')
      assert.equal((await links.removeAll(['ivlpad0'])).error, undefined)
    })

    test('a name ip looked up, then deleted and made again by another tool, is looked up afresh', async () => {
      // ip caches name -> ifindex for its whole life (iproute2 lib/ll_map.c): an operator
      // re-creating a parent (eth0.10, a dummy) under the same name while the plugin runs.
      const route = (destination: string): string =>
        ipSync('-n', ns.name, 'route', 'show', destination, 'dev', 'ivlstale')
      veth('ivlstale', 'ivlstalep')
      await links.setUp('ivlstale')
      await links.addRoutes('ivlstale', ['10.77.0.1/32'])
      assert.match(route('10.77.0.1'), /10\.77\.0\.1/, 'the first route is there')
      const spawnsBefore = residentSpawns
      ipSync('-n', ns.name, 'link', 'del', 'ivlstale')
      veth('ivlstale', 'ivlstalep')
      await links.setUp('ivlstale')
      assert.equal((await links.show('ivlstale'))?.up, true, 'the new link is up')
      await links.addRoutes('ivlstale', ['10.77.0.2/32'])
      assert.match(route('10.77.0.2'), /10\.77\.0\.2/, 'the route went to the new link')
      if (mode === 'resident') {
        staleRespawns = residentSpawns - spawnsBefore
        assert.equal(staleRespawns, 1, 'one new ip for the stale name, which then served the rest')
      }
      assert.equal(await links.remove('ivlstale'), true, 'remove found the new link')
      assert.equal(await links.show('ivlstale'), undefined)
    })

    if (mode === 'resident') {
      test('every batch of this suite ran in the one process it started, and one after the stale name', () => {
        assert.equal(staleRespawns, 1, 'the stale-name case ran')
        assert.equal(residentSpawns, 1 + staleRespawns)
      })
    }
  })
}
