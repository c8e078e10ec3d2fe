/**
 * Benchmarks 2-5a, on a kernel with ipvlan (the lab VM): the real plugin program (compiled
 * dist/main.js) on its socket, managing a throw-away network namespace with a dummy parent.
 *
 *   node --import tsx bench/lab-driver.ts --out FILE [--state-root DIR] [--pairs 60]
 *     [--scale-rounds 30] [--throughput-rounds 20] [--per-round 32] [--clients 32]
 */
import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { createNetns, ipSync, kernelSupports, nsLinks } from '../test/helpers/netns.ts'
import {
  bareLifecycle,
  createAndJoin,
  createNetwork,
  lifecycle,
  newId,
  status,
} from './lib/endpoints.ts'
import type { StatusReply } from './lib/endpoints.ts'
import { startBenchPlugin } from './lib/plugin.ts'
import type { BenchPlugin } from './lib/plugin.ts'
import type { Row } from './lib/result.ts'
import { bytes, flag, intFlag, log, ms, ratioRow, writePart, x } from './lib/result.ts'
import { interleave, now, ratioFigure, spread, timed } from './lib/stats.ts'

const out = flag('out')
const stateRoot = flag('state-root', '/var/lib/ipvlan-lan-bench')
const PAIRS = intFlag('pairs', 60)
const SCALE_ROUNDS = intFlag('scale-rounds', 30)
const THROUGHPUT_ROUNDS = intFlag('throughput-rounds', 20)
const PER_ROUND = intFlag('per-round', 32)
const CLIENTS = intFlag('clients', 32)
const SIZES = [10, 100, 1000] as const

interface Lab {
  label: string
  ns: { name: string; remove: () => void }
  plugin: BenchPlugin
  networkId: string
}

const labs: Lab[] = []
let counter = 1

/** A namespace with a dummy parent `eth0`, the plugin managing it, and one network on eth0. */
async function setUp(label: string): Promise<Lab> {
  const ns = createNetns()
  ipSync('-n', ns.name, 'link', 'add', 'eth0', 'type', 'dummy')
  ipSync('-n', ns.name, 'link', 'set', 'eth0', 'up')
  const stateDir = join(stateRoot, `${label}-${ns.name}`)
  rmSync(stateDir, { recursive: true, force: true })
  mkdirSync(stateDir, { recursive: true })
  const plugin = await startBenchPlugin({ netns: ns.name, stateDir })
  const networkId = newId()
  await createNetwork(plugin.socket, networkId, 'eth0', '10.0.0.0/8', '10.0.0.1/8')
  const lab = { label, ns, plugin, networkId }
  labs.push(lab)
  return lab
}

async function dispose(lab: Lab): Promise<void> {
  labs.splice(labs.indexOf(lab), 1)
  await lab.plugin.stop()
  lab.ns.remove()
  rmSync(lab.plugin.stateDir, { recursive: true, force: true })
}

async function tearDown(): Promise<void> {
  for (const lab of [...labs]) await dispose(lab)
}

const delta = (before: StatusReply, after: StatusReply, count: number) => ({
  ipProcesses: (after.IpProcesses - before.IpProcesses) / count,
  writes: (after.Store.writes - before.Store.writes) / count,
  bytesWritten: (after.Store.bytesWritten - before.Store.bytesWritten) / count,
  deletes: (after.Store.deletes - before.Store.deletes) / count,
})

/** Links the plugin created (ivl…) still in the namespace: must be exactly the live endpoints. */
const endpointLinks = (ns: string): number =>
  nsLinks(ns).filter((link) => link.ifname.startsWith('ivl') || link.ifname.startsWith('bl')).length

async function driverCost(
  rows: Row[],
  raw: Record<string, unknown>
): Promise<{ lab: Lab; medianMs: number }> {
  log(`2. driver cost: ${PAIRS} interleaved rounds`)
  const lab = await setUp('cost')
  const { plugin, ns, networkId } = lab
  for (let i = 0; i < 10; i++) {
    await lifecycle(plugin.socket, networkId, counter++)
    await bareLifecycle(ns.name, 'eth0', false)
    await bareLifecycle(ns.name, 'eth0', true)
  }
  const before = await status(plugin.socket)
  const comparison = await interleave(
    {
      plugin: () => timed(() => lifecycle(plugin.socket, networkId, counter++)),
      'ip ×3': () => timed(() => bareLifecycle(ns.name, 'eth0', false)),
      'ip -batch ×2': () => timed(() => bareLifecycle(ns.name, 'eth0', true)),
    },
    { rounds: PAIRS, warmup: 0, subject: 'plugin' }
  )
  const after = await status(plugin.socket)
  const per = delta(before, after, PAIRS)
  const vsCommands = ratioFigure(comparison, 'plugin', 'ip ×3', 'ms')
  const vsBatch = ratioFigure(comparison, 'plugin', 'ip -batch ×2', 'ms')
  rows.push(
    ratioRow(
      '2',
      'Driver cost: 1 lifecycle via socket vs bare ip (add, alias, del)',
      vsCommands,
      ms,
      1.5
    ),
    ratioRow(
      '2b',
      'Driver cost vs the same kernel work in 2 ip processes (info)',
      vsBatch,
      ms,
      undefined,
      'the plugin also starts exactly 2 ip processes: this isolates HTTP + state + node'
    ),
    {
      id: '2c',
      title: 'ip processes per lifecycle (Status.IpProcesses)',
      subject: per.ipProcesses.toFixed(2),
      baseline: '3 (ip ×3)',
      value: per.ipProcesses.toFixed(2),
      target: '≤ 2',
      met: per.ipProcesses <= 2,
      note: `state per lifecycle: ${per.writes.toFixed(2)} writes, ${per.deletes.toFixed(2)} deletes, ${bytes(per.bytesWritten)}`,
    }
  )
  raw['driverCost'] = { comparison, vsCommands, vsBatch, perLifecycle: per, rounds: PAIRS }
  return { lab, medianMs: vsCommands.subjectSpread.median }
}

async function scale(rows: Row[], raw: Record<string, unknown>): Promise<void> {
  const started: Lab[] = []
  for (const size of SIZES) started.push(await setUp(`scale${size}`))
  log(`3. filling ${SIZES.join(', ')} live endpoints (three plugins, at the same time)`)
  // Joined endpoints stay: their links live in the namespace, as if containers were running.
  const fill = async (size: number, lab: Lab) => {
    const t0 = now()
    const before = await status(lab.plugin.socket)
    const ids = Array.from({ length: size }, () => newId())
    let next = 0
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < ids.length) {
          const id = ids[next++]
          if (id) await createAndJoin(lab.plugin.socket, lab.networkId, id, counter++)
        }
      })
    )
    const fillMs = now() - t0
    const fillStatus = await status(lab.plugin.socket)
    const links = endpointLinks(lab.ns.name)
    if (fillStatus.Endpoints !== size || links !== size) {
      throw new Error(`scale ${size}: ${fillStatus.Endpoints} endpoints, ${links} links`)
    }
    const per = delta(before, fillStatus, size)
    log(
      `3. ${size} live endpoints in ${ms(fillMs)} (${ms(fillMs / size)} each, ${bytes(per.bytesWritten)} written per endpoint)`
    )
    return { size, lab, fillMs, fillStatus, rssAtStart: before.RssBytes }
  }
  const sized = await Promise.all(
    SIZES.map((size, i) => {
      const lab = started[i]
      if (!lab) throw new Error('missing lab')
      return fill(size, lab)
    })
  )
  log(`3. scale: ${SCALE_ROUNDS} interleaved rounds at ${SIZES.join(', ')} endpoints`)
  for (const { lab } of sized) {
    for (let i = 0; i < 3; i++) await lifecycle(lab.plugin.socket, lab.networkId, counter++)
  }
  const rssAtStart = sized.map((entry) => entry.rssAtStart)
  const befores = await Promise.all(sized.map(({ lab }) => status(lab.plugin.socket)))
  const variants: Record<string, () => Promise<number>> = {}
  for (const { size, lab } of [...sized].reverse()) {
    variants[`${size} endpoints`] = () =>
      timed(() => lifecycle(lab.plugin.socket, lab.networkId, counter++))
  }
  const comparison = await interleave(variants, {
    rounds: SCALE_ROUNDS,
    warmup: 0,
    subject: `${SIZES[2]} endpoints`,
  })
  const afters = await Promise.all(sized.map(({ lab }) => status(lab.plugin.socket)))
  const perSize = sized.map(({ size, fillMs, fillStatus }, i) => {
    const before = befores[i]
    const after = afters[i]
    if (!before || !after) throw new Error('missing status')
    return {
      size,
      fillMs,
      lifecycle: spread(comparison.samples[`${size} endpoints`] ?? []),
      perLifecycle: delta(before, after, SCALE_ROUNDS),
      rssBytes: after.RssBytes,
      fillStatus,
    }
  })
  const figure = ratioFigure(comparison, '1000 endpoints', '10 endpoints', 'ms')
  const figure100 = ratioFigure(comparison, '1000 endpoints', '100 endpoints', 'ms')
  rows.push(
    ratioRow('3', 'Scale: lifecycle with 1000 live endpoints vs 10', figure, ms, 1.25),
    ratioRow('3b', 'Scale: lifecycle with 1000 live endpoints vs 100 (info)', figure100, ms)
  )
  const bytesAt = perSize.map((entry) => entry.perLifecycle.bytesWritten)
  const [b10 = NaN, b100 = NaN, b1000 = NaN] = bytesAt
  rows.push({
    id: '3c',
    title: 'State bytes written per lifecycle at 10 / 100 / 1000 endpoints',
    subject: `${bytes(b1000)} at 1000`,
    baseline: `${bytes(b10)} at 10, ${bytes(b100)} at 100`,
    value: x(b1000 / b10),
    // Addresses differ in length (10.0.0.9/8 vs 10.0.3.231/8): a few bytes either way.
    target: 'flat (1000/10 ≤ 1.05×)',
    met: b1000 <= b10 * 1.05,
    note: `writes/lifecycle ${perSize.map((p) => p.perLifecycle.writes.toFixed(2)).join(' / ')}`,
  })
  const rss1000 = perSize[2]?.rssBytes ?? NaN
  const rss10 = perSize[0]?.rssBytes ?? NaN
  rows.push({
    id: '5a',
    title: 'Footprint: plugin RSS with 1000 endpoints (Status.RssBytes)',
    subject: bytes(rss1000),
    baseline: `${bytes(rss10)} (10 endpoints)`,
    value: x(rss1000 / rss10),
    target: '≤ 100 MiB',
    met: rss1000 <= 100 * 1024 * 1024,
    note: `RSS at start (0 endpoints) ${rssAtStart.map(bytes).join(' / ')}; after fill + ${SCALE_ROUNDS} lifecycles: ${perSize.map((p) => `${p.size}: ${bytes(p.rssBytes)}`).join(', ')}`,
  })
  raw['scale'] = { comparison, figure, figure100, perSize, rssAtStart }
}

async function throughput(
  lab: Lab,
  sequentialMs: number,
  rows: Row[],
  raw: Record<string, unknown>
): Promise<void> {
  log(
    `4. throughput: ${CLIENTS} clients, ${PER_ROUND} lifecycles a round, ${THROUGHPUT_ROUNDS} rounds`
  )
  const { plugin, ns, networkId } = lab
  const errors: Record<string, number> = { plugin: 0, 'ip ×3': 0 }
  const messages: string[] = []
  const round = (name: string, one: () => Promise<void>) => async (): Promise<number> => {
    let left = PER_ROUND
    const started = now()
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (left > 0) {
          left--
          try {
            await one()
          } catch (error) {
            errors[name] = (errors[name] ?? 0) + 1
            if (messages.length < 5) messages.push(`${name}: ${(error as Error).message}`)
          }
        }
      })
    )
    return (PER_ROUND * 1000) / (now() - started)
  }
  const comparison = await interleave(
    {
      plugin: round('plugin', () => lifecycle(plugin.socket, networkId, counter++)),
      'ip ×3': round('ip ×3', () => bareLifecycle(ns.name, 'eth0', false)),
    },
    { rounds: THROUGHPUT_ROUNDS, warmup: 1, subject: 'plugin' }
  )
  const final = await status(plugin.socket)
  const leftover = endpointLinks(ns.name)
  const figure = ratioFigure(comparison, 'plugin', 'ip ×3', 'lifecycles/s')
  const perS = (value: number): string => `${value.toFixed(1)}/s`
  const pluginErrors = (errors['plugin'] ?? 0) + leftover + final.Endpoints
  rows.push({
    ...ratioRow(
      '4',
      `Throughput: ${CLIENTS} concurrent clients, lifecycles/s vs bare ip ×3 (higher is better)`,
      figure,
      perS
    ),
    target: 'errors = 0',
    met: pluginErrors === 0,
    value: `${errors['plugin']} errors`,
    note: `one client in a loop (2): ${perS(1000 / sequentialMs)}; ${THROUGHPUT_ROUNDS}×${PER_ROUND} lifecycles each; afterwards ${final.Endpoints} endpoints, ${leftover} links left${messages.length ? '; ' + messages.join('; ') : ''}`,
  })
  raw['throughput'] = { comparison, figure, errors, messages, leftover, final }
}

async function main(): Promise<void> {
  const startedAt = new Date().toISOString()
  const started = now()
  if (!kernelSupports('ipvlan')) throw new Error('this kernel has no ipvlan: run in the lab VM')
  mkdirSync(stateRoot, { recursive: true })
  const rows: Row[] = []
  const raw: Record<string, unknown> = {}
  try {
    const { lab, medianMs } = await driverCost(rows, raw)
    await throughput(lab, medianMs, rows, raw)
    await dispose(lab)
    await scale(rows, raw)
  } finally {
    await tearDown()
  }
  writePart(out, {
    part: 'lab-driver',
    where: 'lab VM',
    startedAt,
    durationMs: now() - started,
    rows,
    raw,
  })
  log(`lab-driver done in ${ms(now() - started)}`)
}

main().catch(async (error: unknown) => {
  log(`lab-driver FAILED: ${(error as Error).stack ?? String(error)}`)
  for (const lab of labs) log(`plugin ${lab.label} output:\n${lab.plugin.output().slice(-2000)}`)
  await tearDown().catch(() => {})
  process.exit(1)
})
