/**
 * Benchmark 9 (issue 9, point 6): the cluster IPAM's allocations per second across hosts, on the
 * host (no VM, no dockerd). One real etcd (Debian's etcd-server, /usr/bin/etcd: one member on
 * 127.0.0.1, its data on the local disk) and `hosts` plugin processes (the compiled program,
 * `node dist/main.js`, each with its own HOST_ID, state directory and throw-away network
 * namespace) with ETCD_ENDPOINTS set to it. Each host is asked for the same pool (RequestPool),
 * then `clients` concurrent RequestAddress clients per host, on its unix socket, take
 * `allocations` addresses in all. The baseline, interleaved pair by pair: the same number of
 * allocations from one of those hosts with `clients` clients.
 *
 * Every sample, warm-up included, is checked, and any miss fails row 9: each request answered an
 * address (no error), as many addresses as asked for, no address twice across the hosts, etcd
 * holding exactly those addresses each for the host that got it; then every address is released
 * (ReleaseAddress on the host that holds it) and etcd must hold no key under the IPAM prefix.
 * Run by bench/host.ts (`--only ipam` runs just this).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import type { SubnetKey } from '../src/driver/ports/ipam-store.ts'
import { EtcdGateway } from '../src/store/etcd-gateway.ts'
import { IpamEtcdStore } from '../src/store/ipam-etcd-store.ts'
import { etcdMissing, freePort, startEtcd } from '../test/helpers/etcd-process.ts'
import type { EtcdProcess } from '../test/helpers/etcd-process.ts'
import { createNetns } from '../test/helpers/netns.ts'
import { REPO } from '../test/helpers/plugin-process.ts'
import { call } from '../test/helpers/socket-client.ts'
import { startBenchPlugin } from './lib/plugin.ts'
import type { BenchPlugin } from './lib/plugin.ts'
import type { Row } from './lib/result.ts'
import { log, ms, ratioRow } from './lib/result.ts'
import type { Comparison } from './lib/stats.ts'
import { interleave, now, quantile, ratioFigure } from './lib/stats.ts'

export interface IpamBenchOptions {
  /** Interleaved pairs (n of the ratios), after `warmup` discarded pairs. */
  pairs: number
  warmup: number
  /** Addresses taken per sample, by either side: a multiple of hosts × clients. */
  allocations: number
  /** Concurrent RequestAddress clients per host. */
  clients: number
  hosts: number
  /**
   * `local`: each host on its own embedded backend (etcd still runs, for the checks): a check of
   * the checks, which must fail with duplicates, since hosts that share nothing hand out the same
   * addresses. `etcd` is the benchmark.
   */
  backend: 'etcd' | 'local'
}

const PREFIX = '/ipvlan-lan-bench/'
const SUBNET = '10.90.0.0/20'
const KEY: SubnetKey = { addressSpace: 'lan', subnet: SUBNET }
/** The subnet's addresses the IPAM may hand out (network and broadcast excluded). */
const CAPACITY = 4094

interface Host {
  id: string
  ns: { name: string; remove: () => void }
  plugin: BenchPlugin
  stateDir: string
}

/** What every sample is checked for; any non-zero count fails row 9. */
interface Checks {
  samples: number
  /** Addresses answered, all samples. */
  allocated: number
  /** RequestAddress answered an error, or no address. */
  errors: number
  /** Samples that did not get exactly `allocations` addresses. */
  shortSamples: number
  /** Addresses handed out more than once within a sample, across every host. */
  duplicates: number
  /** Addresses etcd did not hold for the host that got them, and keys it held that nobody got. */
  etcdMismatches: number
  releaseErrors: number
  /** Keys under <prefix>ipam/ after the releases, summed over the samples. */
  leftInEtcd: number
  messages: string[]
}

interface Sample {
  perSecond: number
  latencies: number[]
  /** etcd proposals (transactions and heartbeats) per allocation while the sample ran. */
  txnsPerAllocation: number
  /** CPU time (user + system) per allocation while the sample ran, of every plugin and of etcd. */
  cpuMsPerAllocation: { plugins: number; etcd: number }
}

const perS = (value: number): string => `${value.toFixed(value >= 100 ? 0 : 1)}/s`

const note = (checks: Checks, text: string): void => {
  if (checks.messages.length < 8) checks.messages.push(text)
}

/** etcd's count of committed raft proposals: every transaction counts, the failed ones too. */
async function proposals(etcd: EtcdProcess): Promise<number> {
  const text = await (await fetch(`${etcd.url}/metrics`)).text()
  const found = /^etcd_server_proposals_committed_total (\S+)$/m.exec(text)
  return found ? Number(found[1]) : NaN
}

/** CPU time (user + system) the processes used so far, in ms (/proc/PID/stat, USER_HZ 100). */
function cpuMs(pids: (number | undefined)[]): number {
  let ticks = 0
  for (const pid of pids) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    ticks += Number(fields[11]) + Number(fields[12])
  }
  return ticks * 10
}

/** Runs `work` on every item with `width` workers. */
async function pool<T>(items: T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const item = items[next++]
        if (item !== undefined) await work(item)
      }
    })
  )
}

/** What every sample works with: the pool, and the checker's own view of etcd. */
interface Context {
  /** Every plugin process, the idle ones of a 1-host sample too. */
  hosts: Host[]
  poolId: string
  options: IpamBenchOptions
  etcd: EtcdProcess
  store: IpamEtcdStore
  gateway: EtcdGateway
  checks: Checks
}

async function sample(hosts: Host[], context: Context): Promise<Sample> {
  const { poolId, options, etcd, store, gateway, checks } = context
  const plugins = context.hosts.map((host) => host.plugin.child.pid)
  const cpu = { plugins: cpuMs(plugins), etcd: cpuMs([etcd.child.pid]) }
  const share = options.allocations / hosts.length
  const got: { host: Host; address: string }[] = []
  const latencies: number[] = []
  const proposed = await proposals(etcd)
  const started = now()
  await Promise.all(
    hosts.map((host) =>
      pool(
        Array.from({ length: share }, (_, i) => i),
        options.clients,
        async () => {
          const t0 = now()
          try {
            const reply = await call(host.plugin.socket, 'IpamDriver.RequestAddress', {
              PoolID: poolId,
              Address: '',
              Options: {},
            })
            const address = reply.body['Address']
            if (
              reply.status !== 200 ||
              reply.body['Error'] !== undefined ||
              typeof address !== 'string' ||
              !address.endsWith('/20')
            )
              throw new Error(`HTTP ${reply.status} ${JSON.stringify(reply.body)}`)
            latencies.push(now() - t0)
            got.push({ host, address })
          } catch (error) {
            checks.errors++
            note(checks, `RequestAddress on ${host.id}: ${(error as Error).message}`)
          }
        }
      )
    )
  )
  const elapsed = now() - started
  const perAllocation = (value: number): number => value / Math.max(got.length, 1)
  const cpuUsed = {
    plugins: perAllocation(cpuMs(plugins) - cpu.plugins),
    etcd: perAllocation(cpuMs([etcd.child.pid]) - cpu.etcd),
  }
  const txns = perAllocation((await proposals(etcd)) - proposed)
  checks.samples++
  checks.allocated += got.length
  if (got.length !== options.allocations || got.length === 0) {
    checks.shortSamples++
    note(checks, `${hosts.length} host(s): ${got.length} addresses of ${options.allocations}`)
  }
  const seen = new Map<string, number>()
  for (const { address } of got) seen.set(address, (seen.get(address) ?? 0) + 1)
  const twice = [...seen].filter(([, count]) => count > 1)
  if (twice.length) {
    checks.duplicates += got.length - seen.size
    const shown = twice.slice(0, 5).map(([a, c]) => `${a} ×${c}`)
    const more = twice.length > 5 ? ` and ${twice.length - 5} more` : ''
    note(checks, `DUPLICATES (${hosts.length} host(s)): ${shown.join(', ')}${more}`)
  }

  // etcd holds exactly these addresses, each for the host that got it.
  const table = await store.read(KEY)
  const held = new Map(table.allocations.map((a) => [a.address, a.holders.map((h) => h.host)]))
  for (const { host, address } of got) {
    const holders = held.get(address.replace(/\/20$/, ''))
    if (holders?.length !== 1 || holders[0] !== host.id) {
      checks.etcdMismatches++
      note(checks, `etcd holds ${address} for ${JSON.stringify(holders)}, not [${host.id}]`)
    }
  }
  if (table.allocations.length !== seen.size) {
    checks.etcdMismatches += Math.abs(table.allocations.length - seen.size)
    note(checks, `etcd holds ${table.allocations.length} addresses, ${seen.size} were handed out`)
  }

  // Every address released by the host that holds it; then nothing left under the prefix.
  await Promise.all(
    hosts.map((host) =>
      pool(
        got.filter((g) => g.host === host),
        options.clients,
        async ({ address }) => {
          try {
            const reply = await call(host.plugin.socket, 'IpamDriver.ReleaseAddress', {
              PoolID: poolId,
              Address: address.replace(/\/20$/, ''),
            })
            if (reply.status !== 200 || Object.keys(reply.body).length !== 0)
              throw new Error(`HTTP ${reply.status} ${JSON.stringify(reply.body)}`)
          } catch (error) {
            checks.releaseErrors++
            note(checks, `ReleaseAddress ${address} on ${host.id}: ${(error as Error).message}`)
          }
        }
      )
    )
  )
  const left = await gateway.range(`${PREFIX}ipam/`)
  if (left.kvs.length > 0) {
    checks.leftInEtcd += left.kvs.length
    const keys = left.kvs.slice(0, 5).map((kv) => kv.key)
    const more = left.kvs.length > 5 ? ` and ${left.kvs.length - 5} more` : ''
    note(checks, `after the releases etcd still holds ${keys.join(', ')}${more}`)
  }
  return {
    perSecond: (got.length * 1000) / elapsed,
    latencies,
    txnsPerAllocation: txns,
    cpuMsPerAllocation: cpuUsed,
  }
}

async function startHost(
  index: number,
  etcd: EtcdProcess,
  base: string,
  backend: IpamBenchOptions['backend']
): Promise<Host> {
  const id = `bench-host-${index}`
  const ns = createNetns()
  const stateDir = join(base, id)
  const cluster = backend === 'etcd' ? ['--etcd-endpoints', etcd.url, '--etcd-prefix', PREFIX] : []
  try {
    const plugin = await startBenchPlugin({
      netns: ns.name,
      stateDir,
      timeoutMs: 60_000,
      args: [...cluster, '--host-id', id],
    })
    return { id, ns, plugin, stateDir }
  } catch (error) {
    ns.remove()
    throw error
  }
}

function validate(options: IpamBenchOptions): void {
  const { allocations, clients, hosts, pairs } = options
  if (hosts < 2) throw new Error(`--ipam-hosts: at least 2, got ${hosts}`)
  if (clients < 1 || pairs < 1) throw new Error('--ipam-clients and --ipam-pairs: at least 1')
  if (allocations < hosts * clients || allocations % (hosts * clients) !== 0)
    throw new Error(
      `--ipam-allocations: a multiple of hosts × clients (${hosts * clients}), got ${allocations}`
    )
  if (allocations > CAPACITY) throw new Error(`--ipam-allocations: at most ${CAPACITY}`)
  if (options.backend !== 'etcd' && options.backend !== 'local')
    throw new Error(`--ipam-backend: etcd or local, got ${String(options.backend)}`)
}

const TITLE = (o: IpamBenchOptions): string =>
  `Cluster IPAM: allocations/s, ${o.hosts} hosts × ${o.clients} concurrent RequestAddress on one etcd vs 1 host × ${o.clients} (higher is better)`
const TARGET = 'errors = 0, duplicates = 0, none left in etcd'

/**
 * Benchmark 9 and 9b into `rows`; returns the failures (a check missed, or the benchmark could
 * not run: no etcd, a plugin that did not start). Row 9 is there either way, `met: false` on a
 * failure, so a run without etcd is marked failed, not skipped.
 */
export async function ipamFleet(
  options: IpamBenchOptions,
  rows: Row[],
  raw: Record<string, unknown>
): Promise<string[]> {
  const { hosts: count, clients, allocations, pairs, warmup } = options
  const started = now()
  const base = mkdtempSync(join(tmpdir(), 'ipvlan-lan-bench-ipam-'))
  let etcd: EtcdProcess | undefined
  const hosts: Host[] = []
  try {
    validate(options)
    const main = join(REPO, 'dist', 'main.js')
    if (!existsSync(main)) throw new Error(`${main} is missing: npm run build`)
    const missing = etcdMissing()
    if (missing) throw new Error(`benchmark 9 cannot run: ${missing}`)
    log(
      `9. cluster IPAM: ${count} hosts × ${clients} clients vs 1 host × ${clients}, ` +
        `${allocations} allocations a sample, ${pairs} pairs (+${warmup} warm-up)` +
        (options.backend === 'local' ? '; EMBEDDED backend, a check of the checks: must fail' : '')
    )
    etcd = await startEtcd({
      dataDir: join(base, 'etcd'),
      clientPort: await freePort(),
      peerPort: await freePort(),
    })
    const etcdUp = etcd
    const starts = await Promise.allSettled(
      Array.from({ length: count }, (_, i) => startHost(i + 1, etcdUp, base, options.backend))
    )
    for (const start of starts) if (start.status === 'fulfilled') hosts.push(start.value)
    for (const start of starts) if (start.status === 'rejected') throw start.reason
    // The same pool on every host, as each host's dockerd asks at network creation.
    const poolIds = await Promise.all(
      hosts.map(async (host) => {
        const reply = await call(host.plugin.socket, 'IpamDriver.RequestPool', {
          AddressSpace: 'lan',
          Pool: SUBNET,
          SubPool: '',
          Options: {},
          V6: false,
        })
        const poolId = reply.body['PoolID']
        if (reply.status !== 200 || typeof poolId !== 'string' || reply.body['Pool'] !== SUBNET)
          throw new Error(`RequestPool on ${host.id}: ${JSON.stringify(reply.body)}`)
        return poolId
      })
    )
    const poolId = poolIds[0] ?? ''
    if (poolIds.some((id) => id !== poolId))
      throw new Error(`RequestPool answered different pools: ${poolIds.join(', ')}`)

    const checks: Checks = {
      samples: 0,
      allocated: 0,
      errors: 0,
      shortSamples: 0,
      duplicates: 0,
      etcdMismatches: 0,
      releaseErrors: 0,
      leftInEtcd: 0,
      messages: [],
    }
    const cpus = availableParallelism()
    const FLEET = `${count} hosts × ${clients}`
    const SINGLE = `1 host × ${clients}`
    const taken: Record<string, Sample[]> = { [FLEET]: [], [SINGLE]: [] }
    const context: Context = {
      hosts,
      poolId,
      options,
      etcd: etcdUp,
      store: new IpamEtcdStore({ endpoints: [etcdUp.url], prefix: PREFIX, timeoutMs: 5000 }),
      gateway: new EtcdGateway({ endpoints: [etcdUp.url], timeoutMs: 5000 }),
      checks,
    }
    const variant = (name: string, on: Host[]) => async (): Promise<number> => {
      const result = await sample(on, context)
      taken[name]?.push(result)
      return result.perSecond
    }
    const comparison = await interleave(
      { [FLEET]: variant(FLEET, hosts), [SINGLE]: variant(SINGLE, hosts.slice(0, 1)) },
      {
        rounds: pairs,
        warmup,
        subject: FLEET,
        onRound: (round) => log(`9. pair ${round + 1}/${pairs}`),
      }
    )
    // interleave drops the warm-up pairs' figures; the same here (their checks still count).
    const kept = (name: string): Sample[] => (taken[name] ?? []).slice(warmup)
    const fleet = kept(FLEET)
    const single = kept(SINGLE)
    const figure = ratioFigure(comparison, FLEET, SINGLE, 'allocations/s')

    // 9b: the latency of one RequestAddress, each side's median per sample paired as above.
    const medians = (list: Sample[]): number[] => list.map((s) => quantile(s.latencies, 0.5))
    const pooled = (list: Sample[]): number[] => list.flatMap((s) => s.latencies)
    const fleetMedians = medians(fleet)
    const singleMedians = medians(single)
    const latencyPairs: Comparison = {
      samples: { [FLEET]: fleetMedians, [SINGLE]: singleMedians },
      ratios: { [SINGLE]: fleetMedians.map((m, i) => m / (singleMedians[i] ?? NaN)) },
    }
    const latency = ratioFigure(latencyPairs, FLEET, SINGLE, 'ms')
    const fleetAll = pooled(fleet)
    const singleAll = pooled(single)
    const txns = (list: Sample[]): number =>
      quantile(
        list.map((s) => s.txnsPerAllocation),
        0.5
      )
    const cpu = (list: Sample[]): string => {
      const of = (key: 'plugins' | 'etcd'): number =>
        quantile(
          list.map((s) => s.cpuMsPerAllocation[key]),
          0.5
        )
      return `plugins ${ms(of('plugins'))} + etcd ${ms(of('etcd'))}`
    }

    const problems =
      checks.errors +
      checks.shortSamples +
      checks.duplicates +
      checks.etcdMismatches +
      checks.releaseErrors +
      checks.leftInEtcd
    const expected = checks.samples * allocations
    const ok = problems === 0 && checks.allocated === expected && expected > 0
    const verdict =
      `${checks.samples} samples (warm-up included), ${checks.allocated} addresses answered of ` +
      `${expected}: ${checks.errors} errors, ${checks.duplicates} duplicates across the hosts, ` +
      `${checks.shortSamples} short samples, ${checks.etcdMismatches} etcd mismatches (each ` +
      `address held in etcd by the host that got it, nothing else), all released by ` +
      `ReleaseAddress: ${checks.releaseErrors} release errors, ${checks.leftInEtcd} keys left ` +
      `under ${PREFIX}ipam/`
    rows.push(
      {
        ...ratioRow('9', TITLE(options), figure, perS),
        subject: `${perS(figure.subjectSpread.median)} (${FLEET})`,
        baseline: `${perS(figure.baselineSpread.median)} (${SINGLE})`,
        target: TARGET,
        met: ok,
        value: `${checks.errors} errors, ${checks.duplicates} duplicates`,
        note:
          (ok ? '' : 'FAILED: ') +
          (options.backend === 'local'
            ? 'EMBEDDED backend on each host (--ipam-backend local, a check of the checks). '
            : '') +
          `${allocations} allocations a sample from an empty pool (${SUBNET}), one etcd ` +
          `member with its data on local disk. A host serves its requests one at a time per ` +
          `subnet: a range read, then one etcd transaction on the address's key, made only if ` +
          `the key is unchanged since the read. The hosts race for the same lowest free ` +
          `address; a loser's transaction fails and is retried from a fresh read (the n-th ` +
          `attempt takes the n-th lowest free address; 8 conflicts in a row would be an error ` +
          `here). etcd proposals per allocation, median (every transaction, failed ones ` +
          `included, and heartbeats): ${txns(fleet).toFixed(2)} with ${count} hosts, ` +
          `${txns(single).toFixed(2)} with 1; CPU per allocation, median: ${cpu(fleet)} with ` +
          `${count} hosts, ${cpu(single)} with 1 (all on this machine's ${cpus} CPUs). ` +
          verdict +
          (checks.messages.length ? `; ${checks.messages.join('; ')}` : ''),
      },
      {
        ...ratioRow(
          '9b',
          `Cluster IPAM: latency of one RequestAddress at ${FLEET} concurrent vs ${SINGLE}, median and p90 (info)`,
          latency,
          ms
        ),
        subject: `${ms(quantile(fleetAll, 0.5))}, p90 ${ms(quantile(fleetAll, 0.9))} (${FLEET})`,
        baseline: `${ms(quantile(singleAll, 0.5))}, p90 ${ms(quantile(singleAll, 0.9))} (${SINGLE})`,
        note:
          `over all ${fleetAll.length} / ${singleAll.length} allocations of the kept samples; the ` +
          `ratio is of the per-sample medians, pair by pair. A host queues its concurrent ` +
          `requests per subnet, so the latency is about ${clients} of them back to back`,
      }
    )
    raw['ipam'] = {
      options,
      subnet: SUBNET,
      prefix: PREFIX,
      comparison,
      figure,
      latency,
      latencyPooled: {
        [FLEET]: { median: quantile(fleetAll, 0.5), p90: quantile(fleetAll, 0.9) },
        [SINGLE]: { median: quantile(singleAll, 0.5), p90: quantile(singleAll, 0.9) },
      },
      txnsPerAllocation: {
        [FLEET]: fleet.map((s) => s.txnsPerAllocation),
        [SINGLE]: single.map((s) => s.txnsPerAllocation),
      },
      cpuMsPerAllocation: {
        [FLEET]: fleet.map((s) => s.cpuMsPerAllocation),
        [SINGLE]: single.map((s) => s.cpuMsPerAllocation),
      },
      checks,
      durationMs: now() - started,
    }
    log(
      `9. ${perS(figure.subjectSpread.median)} vs ${perS(figure.baselineSpread.median)}, ` +
        `ratio ${figure.ratio.median.toFixed(2)}; ${verdict} (${ms(now() - started)})`
    )
    return ok ? [] : [`ipam: ${verdict}; ${checks.messages.join('; ')}`]
  } catch (error) {
    const message = (error as Error).message
    log(`9. cluster IPAM FAILED: ${(error as Error).stack ?? message}`)
    for (const host of hosts) log(`${host.id} output:\n${host.plugin.output()}`)
    rows.push({
      id: '9',
      title: TITLE(options),
      subject: 'not measured',
      baseline: 'not measured',
      target: TARGET,
      met: false,
      note: `FAILED: ${message}`,
    })
    raw['ipam'] = { options, error: message }
    return [`ipam: ${message}`]
  } finally {
    for (const host of hosts) {
      await host.plugin.stop()
      host.ns.remove()
    }
    await etcd?.kill()
    rmSync(base, { recursive: true, force: true })
  }
}
