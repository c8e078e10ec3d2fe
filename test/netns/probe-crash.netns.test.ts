import assert from 'node:assert/strict'
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { id } from '../fakes/ids.ts'
import { createNetns, ipSync, kernelSupports, nsLinks, rootSkipReason } from '../helpers/netns.ts'
import { startPlugin } from '../helpers/plugin-process.ts'
import type { PluginProcess } from '../helpers/plugin-process.ts'
import { call } from '../helpers/socket-client.ts'
import { until } from '../helpers/poll.ts'

/**
 * The plugin SIGKILLed while its network-creation probe link exists (after "link add", before
 * "link del"): the stranded probe must be swept at the next start, whether the crash came before
 * its alias was set (found by its name) or after (found by its alias). An `ip` wrapper runs the
 * probe batch's first lines for real, then stops, so the kill lands at exactly that point.
 */
const skip =
  rootSkipReason('host netns') ||
  (kernelSupports('ipvlan')
    ? false
    : loud('this kernel has no ipvlan, so no probe link can exist: runs in the lab netns tier'))

function loud(reason: string): string {
  process.stderr.write(`\n!!! probe crash tests NOT RUN here: ${reason}\n\n`)
  return reason
}

/**
 * An `ip` that runs the first `lines` lines of a probe batch, records its pid, and hangs. The
 * plugin feeds one long-lived `ip -force -batch -` a line at a time, each followed by an
 * end-of-line mark, and sends the next line only once the mark has answered: so when the probe's
 * line `lines + 1` arrives, the ones before it have run, and the stand-in stops there.
 */
function stallingIp(dir: string, lines: number): { bin: string; stalled: string } {
  const stalled = join(dir, `stalled-${lines}`)
  const bin = join(dir, `ip-stall-${lines}`)
  writeFileSync(
    bin,
    `#!/bin/bash
# Test stand-in for ip: passes everything through to a real ip, except that it stops inside a
# probe batch (an ipvlan link named ivp*).
case " $* " in
  *" -batch - "*)
    coproc REAL { exec ip "$@" >/dev/null; }
    probe=0
    while IFS= read -r line; do
      if [[ "$line" == *"type ipvlan"* && "$line" == *"name ivp"* ]]; then probe=1; fi
      if ((probe)) && [[ "$line" != *end-of-line* ]]; then
        if ((probe > ${lines})); then
          echo $$ > '${stalled}'
          exec sleep 600
        fi
        probe=$((probe + 1))
      fi
      printf '%s\n' "$line" >&"\${REAL[1]}"
    done
    eval "exec \${REAL[1]}>&-"
    wait
    ;;
esac
exec ip "$@"
`
  )
  chmodSync(bin, 0o755)
  return { bin, stalled }
}

const createBody = (networkId: string) => ({
  NetworkID: networkId,
  Options: { 'com.docker.network.generic': { parent: 'eth0', ipvlan_mode: 'l2' } },
  IPv4Data: [{ AddressSpace: 'LocalDefault', Pool: '10.78.0.0/24', Gateway: '10.78.0.1/24' }],
  IPv6Data: null,
})

describe('a probe link stranded by SIGKILL is swept at the next start', { skip }, () => {
  let ns: { name: string; remove: () => void }
  const dir = mkdtempSync(join(tmpdir(), 'ipvlan-lan-probe-'))
  const running: PluginProcess[] = []

  before(() => {
    ns = createNetns()
    ipSync('-n', ns.name, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'peer0')
    ipSync('-n', ns.name, 'link', 'set', 'eth0', 'up')
  })
  after(async () => {
    for (const plugin of running) await plugin.stop('SIGKILL')
    ns.remove()
  })

  for (const [lines, when] of [
    [1, 'before its alias was set'],
    [2, 'after its alias was set'],
  ] as const) {
    test(`killed ${when}`, async () => {
      const net = id(`probe crash ${lines}`)
      const ip = stallingIp(dir, lines)
      const first = await startPlugin({ netns: ns.name, args: ['--ip-bin', ip.bin] })
      running.push(first)
      const instance = readFileSync(join(first.stateDir, 'instance-id'), 'utf8').trim()
      const pending = call(first.socket, 'NetworkDriver.CreateNetwork', createBody(net)).catch(
        (error: unknown) => error
      )
      await until('the probe batch to stall', () => existsSync(ip.stalled), 60_000, 50)
      const probes = nsLinks(ns.name).filter((l) => l.linkinfo?.info_kind === 'ipvlan')
      const [probe, ...others] = probes
      assert.ok(probe && others.length === 0, 'exactly the probe link exists at the kill')
      assert.match(probe.ifname, new RegExp(`^ivp${instance}[0-9a-f]{4}$`))
      if (lines === 2) assert.equal(probe.ifalias, `ipvlan-lan/${instance}:probe:${net}`)
      else assert.equal(probe.ifalias, undefined)

      await first.stop('SIGKILL')
      process.kill(Number(readFileSync(ip.stalled, 'utf8')), 'SIGKILL')
      assert.ok((await pending) instanceof Error, 'the request died with the plugin')
      assert.ok(
        nsLinks(ns.name).some((l) => l.ifname === probe.ifname),
        'stranded'
      )
      assert.deepEqual(readdirSync(join(first.stateDir, 'networks')), [], 'nothing recorded')

      const second = await startPlugin({ netns: ns.name, stateDir: first.stateDir })
      running.push(second)
      await until(
        'start-up reconciliation',
        () => second.output().includes('start-up reconciliation done'),
        60_000,
        50
      )
      assert.ok(!nsLinks(ns.name).some((l) => l.ifname === probe.ifname), 'probe swept')
      assert.match(second.output(), new RegExp(`removed leftover link.*${probe.ifname}`))

      const created = await call(second.socket, 'NetworkDriver.CreateNetwork', createBody(net))
      assert.equal(created.status, 200, JSON.stringify(created.body))
      const deleted = await call(second.socket, 'NetworkDriver.DeleteNetwork', { NetworkID: net })
      assert.equal(deleted.status, 200)
      assert.deepEqual(
        nsLinks(ns.name)
          .map((l) => l.ifname)
          .sort(),
        ['eth0', 'lo', 'peer0']
      )
      await second.stop('SIGKILL')
    })
  }
})
