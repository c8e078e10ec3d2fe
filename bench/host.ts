/**
 * Host benchmarks: 5b (start-up of the compiled program until its socket answers GetCapabilities,
 * vs bare node starts, interleaved), 6 (the plugin rootfs: size and what takes the space) and 9
 * (the cluster IPAM: allocations/s of 3 plugin processes on one real etcd vs 1, bench/host-ipam.ts).
 *
 *   node --import tsx bench/host.ts --out FILE [--only startup,rootfs,ipam] [--rounds 30]
 *     [--rootfs plugin/rootfs] [--ipam-pairs 6] [--ipam-warmup 1] [--ipam-allocations 192]
 *     [--ipam-clients 32] [--ipam-hosts 3] [--ipam-backend etcd]
 *
 * --only ipam runs benchmark 9 alone (needs root, dist/main.js and /usr/bin/etcd). A benchmark
 * that fails is listed in the part's raw.failures and the program exits 1 after writing the part.
 * --ipam-backend local checks the checks: each host on its own embedded backend must give
 * duplicates, and row 9 must fail.
 */
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, lstatSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { bundleNodeFlags } from '../test/helpers/bundle-node-flags.ts'
import { REPO } from '../test/helpers/plugin-process.ts'
import { call } from '../test/helpers/socket-client.ts'
import { ipamFleet } from './host-ipam.ts'
import type { Row } from './lib/result.ts'
import { bytes, flag, intFlag, log, ms, ratioRow, writePart, x } from './lib/result.ts'
import { interleave, now, ratioFigure } from './lib/stats.ts'

const out = flag('out')
const SECTIONS = ['startup', 'rootfs', 'ipam']
const only = new Set(flag('only', SECTIONS.join(',')).split(','))
for (const name of only) {
  if (!SECTIONS.includes(name)) throw new Error(`--only: expected some of ${SECTIONS.join(',')}`)
}
const ROUNDS = intFlag('rounds', 30)
const IPAM = {
  pairs: intFlag('ipam-pairs', 6),
  warmup: intFlag('ipam-warmup', 1),
  allocations: intFlag('ipam-allocations', 192),
  clients: intFlag('ipam-clients', 32),
  hosts: intFlag('ipam-hosts', 3),
  backend: flag('ipam-backend', 'etcd') as 'etcd' | 'local',
}
const ROOTFS = flag('rootfs', join(REPO, 'plugin', 'rootfs'))
const MAIN = join(REPO, 'dist', 'main.js')

const sleep = (msec: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, msec))

/** Spawns node with `args`, then polls `socket` every 2 ms until it answers GetCapabilities. */
async function untilAnswering(args: string[], socket: string): Promise<number> {
  const started = now()
  const child = spawn(process.execPath, args, { stdio: 'ignore' })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`node ${args.join(' ')} exited`)
      try {
        const reply = await call(socket, 'NetworkDriver.GetCapabilities')
        if (reply.status === 200) return now() - started
      } catch {
        // not listening yet
      }
      if (now() - started > 20_000) throw new Error(`node ${args.join(' ')}: no answer in 20 s`)
      await sleep(2)
    }
  } finally {
    child.kill('SIGKILL')
    await exited
  }
}

async function pluginStart(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'ipvlan-lan-bench-'))
  try {
    const socket = join(dir, 'plugin.sock')
    const args = [
      ...bundleNodeFlags(),
      MAIN,
      '--socket',
      socket,
      '--state-dir',
      join(dir, 'state'),
      '--log-level',
      'info',
    ]
    return await untilAnswering(args, socket)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The same measurement of the smallest node program that answers on a unix socket. */
async function bareServerStart(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'ipvlan-lan-bench-'))
  try {
    const socket = join(dir, 'bare.sock')
    const code = `require('node:http').createServer((q, s) => s.end('{}')).listen(process.argv[1])`
    return await untilAnswering(['-e', code, socket], socket)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** `node -e ''`: spawn until exit. */
async function bareNode(): Promise<number> {
  const started = now()
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', () => resolve())
  })
  return now() - started
}

async function startup(rows: Row[], raw: Record<string, unknown>): Promise<void> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: npm run build`)
  log(`5. start-up: ${ROUNDS} interleaved rounds (compiled dist/main.js vs bare node)`)
  const comparison = await interleave(
    {
      plugin: pluginStart,
      "node -e ''": bareNode,
      'node -e http.listen': bareServerStart,
    },
    { rounds: ROUNDS, warmup: 3, subject: 'plugin' }
  )
  const vsBare = ratioFigure(comparison, 'plugin', "node -e ''", 'ms')
  const vsServer = ratioFigure(comparison, 'plugin', 'node -e http.listen', 'ms')
  const median = vsBare.subjectSpread.median
  rows.push(
    {
      ...ratioRow('5b', 'Start-up to GetCapabilities answered (node dist/main.js)', vsBare, ms),
      target: '≤ 300 ms',
      met: median <= 300,
      value: ms(median),
    },
    ratioRow(
      '5c',
      'Start-up vs a bare node http server on a unix socket, same polling (info)',
      vsServer,
      ms
    )
  )
  raw['startup'] = { comparison, vsBare, vsServer }
}

interface Entry {
  path: string
  bytes: number
}

/** Apparent size of a tree in bytes (files and symlinks, as du -b counts them, plus directories). */
function treeBytes(path: string): number {
  const stat = lstatSync(path)
  if (!stat.isDirectory()) return stat.size
  let total = stat.size
  for (const name of readdirSync(path)) total += treeBytes(join(path, name))
  return total
}

/** The rootfs split into the parts that matter: binaries, each library, each package. */
function contributors(root: string): Entry[] {
  const entries: Entry[] = []
  const add = (path: string): void => {
    if (existsSync(path)) entries.push({ path: '/' + relative(root, path), bytes: treeBytes(path) })
  }
  const each = (dir: string, depth: number): void => {
    if (!existsSync(dir)) return
    for (const name of readdirSync(dir)) {
      const path = join(dir, name)
      if (depth > 1 && lstatSync(path).isDirectory()) each(path, depth - 1)
      else add(path)
    }
  }
  each(join(root, 'usr', 'bin'), 1)
  each(join(root, 'usr', 'sbin'), 1)
  for (const lib of ['lib', 'lib64', 'usr/lib', 'usr/lib64']) each(join(root, lib), 3)
  add(join(root, 'opt', 'ipvlan-lan', 'dist'))
  add(join(root, 'etc'))
  return entries.sort((a, b) => b.bytes - a.bytes)
}

function rootfs(rows: Row[], raw: Record<string, unknown>): void {
  if (!existsSync(ROOTFS)) throw new Error(`${ROOTFS} is missing: make plugin`)
  const total = Number(execFileSync('du', ['-sb', ROOTFS], { encoding: 'utf8' }).split(/\s/)[0])
  const parts = contributors(ROOTFS)
  const node = parts.find((entry) => entry.path === '/usr/bin/node')?.bytes ?? NaN
  const share = (entry: Entry): string =>
    `${entry.path} ${bytes(entry.bytes)} (${((100 * entry.bytes) / total).toFixed(1)}%)`
  const group = (test: (path: string) => boolean): number =>
    parts.filter((entry) => test(entry.path)).reduce((sum, entry) => sum + entry.bytes, 0)
  const groups = {
    node,
    libs: group((path) => /^\/(usr\/)?lib(64)?\//.test(path)),
    iproute2: group((path) => path.startsWith('/usr/sbin/')),
    dist: group((path) => path.endsWith('/dist')),
  }
  log(`6. rootfs ${bytes(total)}: ${parts.slice(0, 5).map(share).join(', ')}`)
  rows.push({
    id: '6',
    title: 'Plugin rootfs size (du -sb plugin/rootfs)',
    subject: bytes(total),
    baseline: `node binary ${bytes(node)}`,
    value: x(total / node),
    note:
      `node ${bytes(groups.node)}, libs ${bytes(groups.libs)}, ` +
      `ip+bridge ${bytes(groups.iproute2)}, dist ${bytes(groups.dist)}; biggest: ` +
      parts.slice(1, 7).map(share).join(', '),
  })
  raw['rootfs'] = { path: ROOTFS, totalBytes: total, groups, contributors: parts }
}

async function main(): Promise<void> {
  const startedAt = new Date().toISOString()
  const started = now()
  const rows: Row[] = []
  const failures: string[] = []
  const raw: Record<string, unknown> = {
    node: process.version,
    kernel: execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim(),
    only: [...only],
  }
  const section = async (name: string, fn: () => Promise<void> | void): Promise<void> => {
    if (!only.has(name)) return
    try {
      await fn()
    } catch (error) {
      failures.push(`${name}: ${(error as Error).message}`)
      log(`${name} FAILED: ${(error as Error).stack ?? String(error)}`)
    }
  }
  await section('startup', () => startup(rows, raw))
  await section('rootfs', () => rootfs(rows, raw))
  await section('ipam', async () => {
    failures.push(...(await ipamFleet(IPAM, rows, raw)))
  })
  const part = { part: 'host', where: 'host', startedAt, durationMs: now() - started, rows }
  writePart(out, { ...part, raw: { ...raw, failures } })
  log(`host done in ${ms(now() - started)}${failures.length ? ' WITH FAILURES' : ''}`)
  if (failures.length) process.exit(1)
}

main().catch((error: unknown) => {
  log(`host FAILED: ${(error as Error).stack ?? String(error)}`)
  process.exit(1)
})
