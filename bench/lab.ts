/**
 * The lab part of the suite, inside the lab VM (ipvlan kernel, dockerd): benchmarks 1-5a.
 *
 *   node --import tsx bench/lab.ts --out FILE [--only driver,docker,cluster-ipam,burst,run] [--pairs 60]
 *     [--scale-rounds 30] [--throughput-rounds 20] [--per-round 32] [--clients 32] [--sizes 10,100,1000]
 *     [--docker-pairs 20] [--docker-warmup 1] [--burst 30] [--burst-rounds 3] [--ipam-docker-pairs 10]
 *     [--state-root /var/lib/ipvlan-lan-bench] [--engine-tag 28]
 *
 * --engine-tag T: this run is on another engine than the suite's first (scripts/bench.sh runs
 * `--only docker,cluster-ipam` again on Docker 28): its rows' ids get "@T" (1@28, 1b@28, ...) so both engines'
 * figures sit in one table, each against that engine's own built-in driver. `docker` runs 1 to 1c
 * then 1d; `burst` alone runs 1d only (BENCH_ONLY=burst npm run bench), `run` 1 to 1c only
 * (BENCH_ONLY=run).
 *
 * Order: the docker plugin is created (dockerd copies and digests the rootfs, minutes under TCG)
 * while the scale plugins are filled, since neither is a measurement; then the scale rounds, driver
 * cost, throughput run one at a time; then the docker plugin is enabled, on an idle guest (a
 * plugin that takes more than ~12 s to listen is stopped by Docker), and the containers run. The
 * part file is rewritten after each benchmark, so a failure keeps what was measured before it.
 */
import { mkdirSync } from 'node:fs'
import { kernelSupports } from '../test/helpers/netns.ts'
import { burst, cleanUpDocker, containers, createPlugin, enablePlugin } from './lab-docker.ts'
import { cleanUpClusterIpam, clusterIpam } from './lab-docker-ipam.ts'
import type { DriverOptions, Filled } from './lab-driver.ts'
import {
  disposeLab,
  driverCost,
  fillScale,
  measureScale,
  pluginOutputs,
  tearDownDriver,
  throughput,
} from './lab-driver.ts'
import type { Row } from './lib/result.ts'
import { flag, intFlag, log, ms, writePart } from './lib/result.ts'
import { now } from './lib/stats.ts'

const out = flag('out')
const only = new Set(flag('only', 'driver,docker,cluster-ipam').split(','))
for (const part of only) {
  if (!['driver', 'docker', 'cluster-ipam', 'burst', 'run'].includes(part)) {
    throw new Error(
      `--only: expected driver, docker, cluster-ipam, burst or run (comma-separated), got ${part}`
    )
  }
}
/** Benchmarks 1 (docker, burst, run) and 9c (cluster-ipam) run on the plugin installed in dockerd. */
const dockerPlugin = ['docker', 'burst', 'run', 'cluster-ipam'].some((part) => only.has(part))
const options: DriverOptions = {
  stateRoot: flag('state-root', '/var/lib/ipvlan-lan-bench'),
  pairs: intFlag('pairs', 60),
  scaleRounds: intFlag('scale-rounds', 30),
  throughputRounds: intFlag('throughput-rounds', 20),
  perRound: intFlag('per-round', 32),
  clients: intFlag('clients', 32),
  sizes: sizes(flag('sizes', '10,100,1000')),
}
function sizes(text: string): [number, number, number] {
  const [a, b, c, ...rest] = text.split(',').map(Number)
  if (a === undefined || b === undefined || c === undefined || rest.length || !(a < b && b < c)) {
    throw new Error('--sizes: expected three increasing counts, e.g. 10,100,1000')
  }
  return [a, b, c]
}
const docker = { pairs: intFlag('docker-pairs', 20), warmup: intFlag('docker-warmup', 1) }
const burstOptions = { size: intFlag('burst', 30), rounds: intFlag('burst-rounds', 3) }
const ipamOptions = { pairs: intFlag('ipam-docker-pairs', 10), warmup: docker.warmup }

const engineTag = flag('engine-tag', '')
if (engineTag !== '' && !/^[0-9.]+$/.test(engineTag)) {
  throw new Error(`--engine-tag: expected an engine version such as 28, got ${engineTag}`)
}
const startedAt = new Date().toISOString()
const started = now()
const rows: Row[] = []
const raw: Record<string, unknown> = { options, docker }
const failures: string[] = []

const save = (): void =>
  writePart(out, {
    part: engineTag ? `lab@${engineTag}` : 'lab',
    where: engineTag ? `lab VM, Docker ${engineTag}` : 'lab VM',
    startedAt,
    durationMs: now() - started,
    rows: engineTag ? rows.map((row) => ({ ...row, id: `${row.id}@${engineTag}` })) : rows,
    raw: { ...raw, failures },
  })

async function section(name: string, fn: () => Promise<void>): Promise<void> {
  const t0 = now()
  try {
    await fn()
  } catch (error) {
    const message = (error as Error).stack ?? String(error)
    failures.push(`${name}: ${(error as Error).message}`)
    log(`${name} FAILED: ${message}\n${pluginOutputs()}`)
  }
  raw[`${name}Ms`] = now() - t0
  save()
}

async function main(): Promise<void> {
  if (!kernelSupports('ipvlan')) throw new Error('this kernel has no ipvlan: run in the lab VM')
  mkdirSync(options.stateRoot, { recursive: true })
  let createMs: number | undefined
  let filled: Filled[] | undefined
  await section('setup', async () => {
    const install = dockerPlugin ? createPlugin() : Promise.resolve(undefined)
    const fill = only.has('driver') ? fillScale(options) : Promise.resolve(undefined)
    const [a, b] = await Promise.allSettled([install, fill])
    if (a.status === 'fulfilled') createMs = a.value
    if (b.status === 'fulfilled') filled = b.value
    const failed = [a, b].flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []))
    if (failed.length) throw new Error(failed.map((error) => error.message).join('; '))
  })
  if (filled) {
    const sized = filled
    await section('scale', () => measureScale(options, sized, rows, raw))
  }
  await tearDownDriver()
  if (only.has('driver')) {
    await section('driver', async () => {
      const { lab } = await driverCost(options, rows, raw)
      save()
      await throughput(options, lab, rows, raw)
      await disposeLab(lab)
    })
    await tearDownDriver()
  }
  if (createMs !== undefined) {
    const created = createMs
    await section('docker', async () => {
      const enableMs = await enablePlugin()
      if (only.has('docker') || only.has('run')) {
        await containers({ ...docker, installMs: created + enableMs }, rows, raw)
        save()
      }
      if (only.has('docker') || only.has('burst')) await burst(burstOptions, rows, raw)
    })
    // Last: it reconfigures the plugin (etcd) that benchmark 1 measured without it.
    if (only.has('cluster-ipam')) {
      await section('clusterIpam', () => clusterIpam(ipamOptions, rows, raw))
    }
  }
  if (dockerPlugin) {
    await cleanUpClusterIpam()
    await cleanUpDocker()
  }
  log(`lab part done in ${ms(now() - started)}${failures.length ? ' WITH FAILURES' : ''}`)
  if (failures.length) process.exit(1)
}

main().catch(async (error: unknown) => {
  log(`lab part FAILED: ${(error as Error).stack ?? String(error)}`)
  failures.push(String(error))
  save()
  await tearDownDriver().catch(() => {})
  await cleanUpClusterIpam().catch(() => {})
  await cleanUpDocker().catch(() => {})
  process.exit(1)
})
