/**
 * Benchmarks 2-5a, on a kernel with ipvlan (the lab VM): the real plugin program (compiled
 * dist/main.js, as in the bundle) on its socket, managing a throw-away network namespace with a
 * dummy parent. Run by bench/lab.ts.
 */
import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { execa } from 'execa'
import { createNetns, ipSync, nsLinks } from '../test/helpers/netns.ts'
import {
  bareLifecycle,
  createAndJoin,
  createNetwork,
  lifecycle,
  linksDeleted,
  newId,
  status,
} from './lib/endpoints.ts'
import type { StatusReply, Steps } from './lib/endpoints.ts'
import { startBenchPlugin } from './lib/plugin.ts'
import type { BenchPlugin } from './lib/plugin.ts'
import type { Row } from './lib/result.ts'
import { bytes, log, ms, ratioRow, x } from './lib/result.ts'
import { interleave, now, quantile, ratioFigure, spread, timed } from './lib/stats.ts'

export interface DriverOptions {
  stateRoot: string
  /** Interleaved rounds of benchmark 2. */
  pairs: number
  scaleRounds: number
  throughputRounds: number
  perRound: number
  clients: number
  /** Live endpoints of the scale plugins: three sizes, smallest first (10, 100, 1000). */
  sizes: readonly [number, number, number]
}

interface Lab {
  label: string
  ns: { name: string; remove: () => void }
  plugin: BenchPlugin
  networkId: string
}

/** 5a's target: RSS with the largest size of live endpoints, in MiB (the unit of the check too). */
export const RSS_LIMIT_MIB = 100

const labs: Lab[] = []
let counter = 1

/** A namespace with a dummy parent `eth0`, the plugin managing it, and one network on eth0. */
async function setUp(label: string, stateRoot: string): Promise<Lab> {
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

export async function tearDownDriver(): Promise<void> {
  for (const lab of [...labs]) await dispose(lab)
}

export function pluginOutputs(): string {
  return labs.map((lab) => `plugin ${lab.label}:\n${lab.plugin.output().slice(-2000)}`).join('\n')
}

const delta = (before: StatusReply, after: StatusReply, count: number) => ({
  ipProcesses: (after.IpProcesses - before.IpProcesses) / count,
  writes: (after.Store.writes - before.Store.writes) / count,
  bytesWritten: (after.Store.bytesWritten - before.Store.bytesWritten) / count,
  deletes: (after.Store.deletes - before.Store.deletes) / count,
})

/** Endpoint links (ours: ivl…, the baseline's: bl…) still in the namespace. */
const endpointLinks = (ns: string): number =>
  nsLinks(ns).filter((link) => link.ifname.startsWith('ivl') || link.ifname.startsWith('bl')).length

const medians = (steps: Steps): string =>
  Object.entries(steps)
    .map(([name, samples]) => `${name} ${ms(quantile(samples, 0.5))}`)
    .join(', ')

/** 2: one lifecycle through the socket vs the bare ip commands, interleaved. */
export async function driverCost(
  options: DriverOptions,
  rows: Row[],
  raw: Record<string, unknown>
): Promise<{ lab: Lab; medianMs: number }> {
  log(`2. driver cost: ${options.pairs} interleaved rounds`)
  const lab = await setUp('cost', options.stateRoot)
  const { plugin, ns, networkId } = lab
  for (let i = 0; i < 5; i++) {
    await lifecycle(plugin.socket, networkId, counter++)
    await bareLifecycle(ns.name, 'eth0', false)
    await bareLifecycle(ns.name, 'eth0', true)
  }
  const before = await status(plugin.socket)
  const steps: Record<string, Steps> = { plugin: {}, 'ip ×3': {}, 'ip -batch ×2': {} }
  const comparison = await interleave(
    {
      plugin: () => timed(() => lifecycle(plugin.socket, networkId, counter++, steps['plugin'])),
      'ip ×3': () => timed(() => bareLifecycle(ns.name, 'eth0', false, steps['ip ×3'])),
      'ip -batch ×2': () =>
        timed(() => bareLifecycle(ns.name, 'eth0', true, steps['ip -batch ×2'])),
    },
    { rounds: options.pairs, warmup: 0, subject: 'plugin' }
  )
  const after = await status(plugin.socket)
  const per = delta(before, after, options.pairs)
  const vsCommands = ratioFigure(comparison, 'plugin', 'ip ×3', 'ms')
  const vsBatch = ratioFigure(comparison, 'plugin', 'ip -batch ×2', 'ms')
  rows.push(
    ratioRow(
      '2',
      'Driver cost: 1 lifecycle via socket vs bare ip (add, alias, del)',
      vsCommands,
      ms,
      1.5,
      `steps (medians): plugin ${medians(steps['plugin'] ?? {})}; bare ${medians(steps['ip ×3'] ?? {})}`
    ),
    ratioRow(
      '2b',
      'Driver cost vs the same kernel work in 2 ip processes (info)',
      vsBatch,
      ms,
      undefined,
      `the plugin starts the same 2 ip processes: the rest is HTTP, state and node. Bare: ${medians(steps['ip -batch ×2'] ?? {})}`
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
  raw['driverCost'] = { comparison, vsCommands, vsBatch, steps, perLifecycle: per }
  await spawnCost(lab, Math.max(20, Math.round(options.pairs / 2)), rows, raw)
  return { lab, medianMs: vsCommands.subjectSpread.median }
}

/** 2d: how the plugin starts a process (execa, as src/link/runner.ts) vs node's execFile. */
async function spawnCost(
  lab: Lab,
  rounds: number,
  rows: Row[],
  raw: Record<string, unknown>
): Promise<void> {
  const args = ['-n', lab.ns.name, 'link', 'show', 'dev', 'eth0']
  const execFileAsync = promisify(execFile)
  const comparison = await interleave(
    {
      execa: () =>
        timed(() =>
          execa('ip', args, {
            reject: false,
            timeout: 10_000,
            killSignal: 'SIGKILL',
            stdin: 'ignore',
            env: { LC_ALL: 'C' },
            extendEnv: true,
          })
        ),
      execFile: () =>
        timed(() => execFileAsync('ip', args, { env: { ...process.env, LC_ALL: 'C' } })),
    },
    { rounds, warmup: 2, subject: 'execa' }
  )
  const figure = ratioFigure(comparison, 'execa', 'execFile', 'ms')
  rows.push(
    ratioRow('2d', 'One ip process: execa (the plugin runner) vs node execFile (info)', figure, ms)
  )
  raw['spawnCost'] = { comparison, figure }
}

/**
 * 4: `clients` clients at once on one network, rounds of `perRound` lifecycles, vs bare ip at the
 * same concurrency, and vs one client in a loop on the same plugin and network (4b): the three
 * interleaved round by round, in the same run.
 */
export async function throughput(
  options: DriverOptions,
  lab: Lab,
  rows: Row[],
  raw: Record<string, unknown>
): Promise<void> {
  const { clients, perRound, throughputRounds } = options
  log(
    `4. throughput: ${clients} clients and 1 client, ${perRound} lifecycles a round, ${throughputRounds} rounds`
  )
  const { plugin, ns, networkId } = lab
  const CONCURRENT = 'plugin'
  const BARE = 'ip -batch ×2'
  const SINGLE = 'plugin, 1 client'
  const errors: Record<string, number> = { [CONCURRENT]: 0, [BARE]: 0, [SINGLE]: 0 }
  const messages: string[] = []
  const round =
    (name: string, width: number, one: () => Promise<void>, settle?: () => Promise<void>) =>
    async (): Promise<number> => {
      let left = perRound
      const started = now()
      await Promise.all(
        Array.from({ length: width }, async () => {
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
      // A round ends when its kernel work is done, deferred link deletions included.
      await settle?.()
      return (perRound * 1000) / (now() - started)
    }
  const pluginLifecycle = () => lifecycle(plugin.socket, networkId, counter++, undefined, false)
  const pluginSettled = () => linksDeleted(plugin.socket)
  const comparison = await interleave(
    {
      [CONCURRENT]: round(CONCURRENT, clients, pluginLifecycle, pluginSettled),
      [BARE]: round(BARE, clients, () => bareLifecycle(ns.name, 'eth0', true)),
      [SINGLE]: round(SINGLE, 1, pluginLifecycle, pluginSettled),
    },
    { rounds: throughputRounds, warmup: 0, subject: CONCURRENT }
  )
  const final = await status(plugin.socket)
  const leftover = endpointLinks(ns.name)
  const figure = ratioFigure(comparison, CONCURRENT, BARE, 'lifecycles/s')
  const single = ratioFigure(comparison, CONCURRENT, SINGLE, 'lifecycles/s')
  const perS = (value: number): string => `${value.toFixed(1)}/s`
  const pluginErrors =
    (errors[CONCURRENT] ?? 0) + (errors[SINGLE] ?? 0) + leftover + final.Endpoints
  rows.push(
    {
      ...ratioRow(
        '4',
        `Throughput: ${clients} concurrent clients, lifecycles/s vs bare ip at the same concurrency (higher is better)`,
        figure,
        perS
      ),
      subject: `${perS(figure.subjectSpread.median)} (plugin, ${clients} clients)`,
      target: 'errors = 0',
      met: pluginErrors === 0,
      value: `${pluginErrors} errors`,
      note: `${throughputRounds}×${perRound} lifecycles for each of the three (4, its baseline, 4b); plugin errors ${errors[CONCURRENT]} with ${clients} clients, ${errors[SINGLE]} with 1; afterwards ${final.Endpoints} endpoints, ${leftover} links left${messages.length ? '; ' + messages.join('; ') : ''}`,
    },
    {
      ...ratioRow(
        '4b',
        `Throughput: ${clients} concurrent clients vs one client in a loop, same plugin and network, lifecycles/s (higher is better)`,
        single,
        perS
      ),
      subject: `${perS(single.subjectSpread.median)} (${clients} clients)`,
      baseline: `${perS(single.baselineSpread.median)} (1 client)`,
    }
  )
  raw['throughput'] = { comparison, figure, single, errors, messages, leftover, final }
}

export interface Filled {
  size: number
  lab: Lab
  fillMs: number
  fillStatus: StatusReply
  rssAtStart: number
}

/** 3: three plugins, filled with 10, 100 and 1000 joined endpoints (their links stay). */
export async function fillScale(options: DriverOptions): Promise<Filled[]> {
  const SIZES = options.sizes
  const started: Lab[] = []
  for (const size of SIZES) started.push(await setUp(`scale${size}`, options.stateRoot))
  log(`3. filling ${SIZES.join(', ')} live endpoints (three plugins, at the same time)`)
  const fill = async (size: number, lab: Lab): Promise<Filled> => {
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
  return Promise.all(
    SIZES.map((size, i) => {
      const lab = started[i]
      if (!lab) throw new Error('missing lab')
      return fill(size, lab)
    })
  )
}

/** 3 and 5a: lifecycles at each size, interleaved; bytes written per lifecycle; RSS. */
export async function measureScale(
  options: DriverOptions,
  sized: Filled[],
  rows: Row[],
  raw: Record<string, unknown>
): Promise<void> {
  const rounds = options.scaleRounds
  const SIZES = options.sizes
  const [small, middle, large] = SIZES
  log(`3. scale: ${rounds} interleaved rounds at ${SIZES.join(', ')} endpoints`)
  for (const { lab } of sized) {
    for (let i = 0; i < 3; i++) await lifecycle(lab.plugin.socket, lab.networkId, counter++)
  }
  const befores = await Promise.all(sized.map(({ lab }) => status(lab.plugin.socket)))
  const variants: Record<string, () => Promise<number>> = {}
  for (const { size, lab } of [...sized].reverse()) {
    variants[`${size} endpoints`] = () =>
      timed(() => lifecycle(lab.plugin.socket, lab.networkId, counter++))
  }
  const comparison = await interleave(variants, {
    rounds,
    warmup: 0,
    subject: `${large} endpoints`,
  })
  const afters = await Promise.all(sized.map(({ lab }) => status(lab.plugin.socket)))
  const perSize = sized.map(({ size, fillMs, fillStatus, rssAtStart }, i) => {
    const before = befores[i]
    const after = afters[i]
    if (!before || !after) throw new Error('missing status')
    return {
      size,
      fillMs,
      lifecycle: spread(comparison.samples[`${size} endpoints`] ?? []),
      perLifecycle: delta(before, after, rounds),
      rssAtStart,
      rssBytes: after.RssBytes,
      fillStatus,
      finalStatus: after,
    }
  })
  const figure = ratioFigure(comparison, `${large} endpoints`, `${small} endpoints`, 'ms')
  const figure100 = ratioFigure(comparison, `${large} endpoints`, `${middle} endpoints`, 'ms')
  rows.push(
    ratioRow('3', `Scale: lifecycle with ${large} live endpoints vs ${small}`, figure, ms, 1.25),
    ratioRow(
      '3b',
      `Scale: lifecycle with ${large} live endpoints vs ${middle} (info)`,
      figure100,
      ms
    )
  )
  const [b10 = NaN, b100 = NaN, b1000 = NaN] = perSize.map((p) => p.perLifecycle.bytesWritten)
  rows.push({
    id: '3c',
    title: `State bytes written per lifecycle at ${SIZES.join(' / ')} endpoints`,
    subject: `${bytes(b1000)} at ${large}`,
    baseline: `${bytes(b10)} at ${small}, ${bytes(b100)} at ${middle}`,
    value: x(b1000 / b10),
    // Addresses differ in length (10.0.0.9/8 vs 10.0.3.231/8): a few bytes either way.
    target: `flat (${large}/${small} ≤ 1.05×)`,
    met: b1000 <= b10 * 1.05,
    note: `writes/lifecycle ${perSize.map((p) => p.perLifecycle.writes.toFixed(2)).join(' / ')}; filling took ${perSize.map((p) => `${ms(p.fillMs / p.size)}`).join(' / ')} per endpoint`,
  })
  const rss1000 = perSize[2]?.rssBytes ?? NaN
  const rss10 = perSize[0]?.rssBytes ?? NaN
  rows.push({
    id: '5a',
    title: `Footprint: plugin RSS with ${large} endpoints (Status.RssBytes)`,
    subject: bytes(rss1000),
    baseline: `${bytes(rss10)} (${small} endpoints)`,
    value: x(rss1000 / rss10),
    target: `≤ ${RSS_LIMIT_MIB} MiB`,
    met: rss1000 <= RSS_LIMIT_MIB * 1024 * 1024,
    note: `RSS at start (0 endpoints) ${perSize.map((p) => bytes(p.rssAtStart)).join(' / ')}; after fill + ${rounds} lifecycles: ${perSize.map((p) => `${p.size}: ${bytes(p.rssBytes)}`).join(', ')}`,
  })
  raw['scale'] = { comparison, figure, figure100, perSize }
  for (const { lab } of sized) await dispose(lab)
}

export async function disposeLab(lab: Lab): Promise<void> {
  await dispose(lab)
}
