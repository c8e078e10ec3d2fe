import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import {
  addDummy,
  addressOf,
  docker,
  dockerdLogLines,
  dockerOk,
  hostLinks,
  ip,
  ping,
  restartDockerd,
  run,
  runContainer,
  waitFor,
} from './docker.ts'
import { waitForSocket } from '../helpers/socket-client.ts'
import { addressHolders, endStrandedTasks } from './address-holders.ts'
import { ensureInstalled, pluginEnabled, pluginStateDir, REGISTRY_PLUGIN } from './plugin.ts'

/**
 * Crash safety (lab): the plugin, then dockerd, killed with SIGKILL at random moments while
 * container start/stop cycles run several at once. Afterwards the survivors still reach each
 * other, new containers start, every state file parses, and once everything is removed nothing
 * of ours is left: no link, no record.
 */
const NAME = REGISTRY_PLUGIN
const MASTER = 'crm0'
const NET = 'crash-net'
// The network's subnet, 172.31.33.0/24, as the prefix its addresses start with.
const SUBNET_PREFIX = '172.31.33.'
// 3 cycles a lane: under emulation one `docker run` + `rm` takes 10-30 s and every kill costs a
// restart of 20-90 s during which the lanes wait, so each kill still lands while starts are in
// flight; with 5 a lane (15 cycles) Docker 28 took 8 min 11 s for the two kill tests, 3 plugin and
// 2 dockerd kills, all landed. CRASH_CYCLES=N for more.
const CYCLES = Number(process.env['CRASH_CYCLES'] ?? 9)
const WORKERS = 3
const ANCHORS = ['crash-x1', 'crash-x2', 'crash-x3']
const PLUGIN_KILLS = 3
const DOCKERD_KILLS = 2
let kills = 0
// Under emulation dockerd's own restart of a killed plugin often fails: containerd still reports
// the killed task as running ("cannot delete running task"), and Docker disables the plugin.
let enableCalls = 0
let lastEnableError = ''

let stateDir = ''
let pluginSocket = ''
let networkId = ''

/** What Docker and the kernel say of the plugin, for a failure message. */
async function pluginSituation(): Promise<string> {
  const enabled = await docker('plugin', 'inspect', '-f', '{{.Enabled}}', NAME)
  const daemonLog = dockerdLogLines({ filter: /plugin/i, last: 25 })
  return [
    `enabled: ${enabled.output}`,
    `plugin processes: ${JSON.stringify(await pluginPids())}`,
    `socket ${pluginSocket} exists: ${existsSync(pluginSocket)}`,
    `dockerd log, plugin lines:\n${daemonLog}`,
  ].join('\n')
}

async function pluginPids(): Promise<number[]> {
  const found = await run('pgrep', ['-f', '/opt/ipvlan-lan/dist/main.js'])
  return found.stdout.split(/\s+/).filter(Boolean).map(Number)
}

/**
 * Waits until a plugin process other than `killed` serves its socket. Docker disables a killed
 * plugin when its own restart fails: under emulation containerd can still report the killed task
 * as running, or the start misses Docker's ~12 s window. Neither is the plugin's doing: re-enable
 * it, as an operator would, and count the calls.
 */
async function waitUntilServing(what: string, killed: readonly number[]): Promise<void> {
  await waitFor(
    what,
    async () => {
      if (!(await pluginEnabled(NAME))) {
        enableCalls++
        const enabled = await docker('plugin', 'enable', NAME)
        if (enabled.code !== 0) lastEnableError = enabled.output
        return false
      }
      if (!(await pluginPids()).some((pid) => !killed.includes(pid))) return false
      return waitForSocket(pluginSocket, 5_000).then(
        () => true,
        () => false
      )
    },
    180_000
  ).catch(async (error: unknown) => {
    throw new Error(`${(error as Error).message}\n${await pluginSituation()}`)
  })
}

interface CycleReport {
  ok: number
  failed: number
  kills: number
}

/** Runs CYCLES start/stop cycles on WORKERS lanes while `kill` strikes every 3–7 s. */
async function cyclesUnderFire(tag: string, kill: () => Promise<void>): Promise<CycleReport> {
  const report: CycleReport = { ok: 0, failed: 0, kills: 0 }
  let next = 0
  let done = false
  // While dockerd restarts the killed process, lanes start nothing new: Docker disables a plugin
  // that is not listening ~12 s after a restart (moby pluginPostStart), and under emulation a
  // start competing with three container starts can take longer. Cycles in flight at the kill
  // are still cut off: that is what this test is about.
  let restarting: Promise<void> = Promise.resolve()
  const lane = async (): Promise<void> => {
    while (next < CYCLES) {
      await restarting
      const name = `crash-${tag}-${next++}`
      const started = await docker(
        'run',
        '-d',
        '--name',
        name,
        '--net',
        NET,
        'busybox:lab',
        'sleep',
        '600'
      )
      if (started.code === 0) report.ok++
      else report.failed++
      await docker('rm', '-f', name)
    }
  }
  const killer = async (): Promise<void> => {
    while (!done) {
      await new Promise((resolve) => setTimeout(resolve, 3000 + Math.random() * 4000))
      if (done) return
      const attempt = kill()
      restarting = attempt.catch(() => {})
      await attempt
      report.kills++
    }
  }
  // Held until the lanes finish, so a failure inside the killer fails the test, not the process.
  const killing = killer().catch((error: unknown) => error)
  await Promise.all(Array.from({ length: WORKERS }, lane))
  done = true
  const failure = await killing
  if (failure) throw failure
  return report
}

/**
 * The survivors reach each other, a new container starts and every state file parses. After
 * dockerd's SIGKILLs (`dockerdKilled`), a new container refused with "address already in use"
 * because Docker stranded a task holding that address (README, Reliability, "Known issue,
 * Docker's"; the built-in driver meets it too: bench/dockerd-kill-leak.sh AT=addr) gets the
 * operator's remedy: those tasks' processes are ended, and the start is tried again. Only such
 * tasks: an address held anywhere else (the host, a sandbox Docker still has) still fails the
 * test. Returns what was ended, for the test's diagnostics.
 */
async function assertHealthy(label: string, dockerdKilled = false): Promise<string[]> {
  const ended: string[] = []
  await waitFor(
    `${label}: anchors running`,
    async () => {
      const states = await Promise.all(
        ANCHORS.map((a) => docker('inspect', '-f', '{{.State.Running}}', a))
      )
      return states.every((s) => s.stdout === 'true')
    },
    120_000
  )
  const target = await addressOf('crash-x1', NET)
  for (const anchor of ANCHORS.slice(1)) {
    const result = await ping(anchor, target)
    assert.equal(result.code, 0, `${label}: ${anchor} -> x1: ${result.output}`)
  }
  let last = ''
  await waitFor(
    `${label}: a new container starts`,
    async () => {
      await docker('rm', '-f', 'crash-new')
      const started = await docker(
        'run',
        '-d',
        '--name',
        'crash-new',
        '--net',
        NET,
        'busybox:lab',
        'sleep',
        '600'
      )
      last = started.output
      if (started.code === 0) return true
      if (dockerdKilled && last.includes('address already in use')) {
        ended.push(...(await endStrandedTasks(SUBNET_PREFIX)))
      }
      return false
    },
    120_000
  ).catch(async (error: unknown) => {
    throw new Error(
      `${(error as Error).message}; the last docker run said: ${last}\n` +
        `holders of the subnet's addresses:\n${await addressHolders(SUBNET_PREFIX, NET)}`
    )
  })
  const fresh = await ping('crash-new', target)
  assert.equal(fresh.code, 0, `${label}: new container -> x1: ${fresh.output}`)
  await docker('rm', '-f', 'crash-new')
  for (const folder of ['networks', 'endpoints']) {
    for (const file of readdirSync(join(stateDir, folder))) {
      if (!file.endsWith('.json')) continue
      JSON.parse(readFileSync(join(stateDir, folder, file), 'utf8'))
    }
  }
  return ended
}

// 350-774 s in the runs so far (the machine's speed varies that much): about twice the slowest.
describe('crash safety', { timeout: 25 * 60_000 }, () => {
  before(async () => {
    await ensureInstalled()
    stateDir = await pluginStateDir()
    const id = await dockerOk('plugin', 'inspect', '-f', '{{.Id}}', NAME)
    pluginSocket = `/run/docker/plugins/${id}/ipvlan-lan.sock`
    await addDummy(MASTER)
    const args = ['-o', `parent=${MASTER}.33`, '--subnet', `${SUBNET_PREFIX}0/24`, NET]
    networkId = await dockerOk('network', 'create', '-d', NAME, ...args)
    for (const anchor of ANCHORS) await runContainer(anchor, NET, ['--restart=always'])
  })

  after(async () => {
    await docker('rm', '-f', ...ANCHORS, 'crash-new')
    await docker('network', 'rm', NET)
    await ip('link', 'del', 'dev', MASTER)
  })

  test(`plugin SIGKILLed at random during ${CYCLES} start/stop cycles (${WORKERS} at once)`, async (t) => {
    const report = await cyclesUnderFire('p', async () => {
      if (kills >= PLUGIN_KILLS) return
      kills++
      const killed = await pluginPids()
      for (const pid of killed) process.kill(pid, 'SIGKILL')
      // dockerd restarts the plugin and gives it ~12 s to listen; a plugin killed again inside
      // that window is disabled by Docker itself (moby plugin manager pluginPostStart), whatever
      // the plugin does. So the next kill waits until the restarted plugin is serving.
      await waitUntilServing('the plugin to be restarted and serving', killed)
      // Let Docker's own dial of the new socket (every 3 s) mark it started before the next kill.
      await new Promise((resolve) => setTimeout(resolve, 5_000))
    })
    t.diagnostic(
      `cycles ok=${report.ok} failed=${report.failed} plugin kills=${kills}, docker plugin enable calls after Docker disabled it: ${enableCalls}${lastEnableError ? ` (last error: ${lastEnableError})` : ''}`
    )
    assert.ok(kills >= 1, 'the plugin was killed at least once')
    // Docker can also disable the plugin after a restart that served: its exit handler deletes the
    // plugin's socket folder and restarts it again on a late or duplicate exit event of the killed
    // task (moby plugin/manager.go HandleExitEvent; containerd/containerd#2299). Seen once in CI,
    // with no plugin process left. The same operator's re-enable applies, and it is counted.
    const enableCallsBefore = enableCalls
    await waitUntilServing('the plugin to be serving after the cycles', [])
    if (enableCalls > enableCallsBefore) {
      t.diagnostic(`re-enabled after the cycles:\n${await pluginSituation()}`)
    }
    await assertHealthy('after plugin kills')
  })

  test(`dockerd SIGKILLed during ${CYCLES} start/stop cycles`, async (t) => {
    let kills = 0
    const report = await cyclesUnderFire('d', async () => {
      if (kills >= DOCKERD_KILLS) return // every dockerd restart costs ~15 s under emulation
      kills++
      await restartDockerd('SIGKILL')
    })
    t.diagnostic(`cycles ok=${report.ok} failed=${report.failed} dockerd kills=${kills}`)
    assert.ok(kills >= 1, 'dockerd was killed at least once')
    const ended = await assertHealthy('after dockerd kills', true)
    if (ended.length > 0) {
      t.diagnostic(
        `Docker stranded ${ended.length} task(s) holding addresses of the network (its known issue); ended: ${ended.join('; ')}`
      )
    }
  })

  test('once everything is removed, no link and no record of ours is left', async () => {
    const leftovers = await docker('ps', '-aq', '--filter', 'name=crash-')
    if (leftovers.stdout) await docker('rm', '-f', ...leftovers.stdout.split('\n'))
    await docker('rm', '-f', ...ANCHORS)
    await dockerOk('network', 'rm', NET)
    const ours = (await hostLinks()).filter(
      (l) => l.alias?.startsWith('ipvlan-lan/') || /^(ivl|ivp)/.test(l.name)
    )
    assert.deepEqual(ours, [], 'links left')
    assert.ok(
      !(await hostLinks()).some((l) => l.name === `${MASTER}.33`),
      'the created 802.1Q parent is gone'
    )
    // The plugin is shared with the other lab tests: look only at this network's records.
    const endpoints = readdirSync(join(stateDir, 'endpoints')).map(
      (file) =>
        JSON.parse(readFileSync(join(stateDir, 'endpoints', file), 'utf8')) as { networkId: string }
    )
    assert.deepEqual(
      endpoints.filter((e) => e.networkId === networkId),
      [],
      'endpoint records left'
    )
    assert.ok(
      !readdirSync(join(stateDir, 'networks')).includes(`${networkId}.json`),
      'network record left'
    )
  })
})
