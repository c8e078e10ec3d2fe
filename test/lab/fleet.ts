import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdirSync, openSync } from 'node:fs'
import { join } from 'node:path'
import { run, waitFor, type Run } from './docker.ts'
import { enable, ensureInstalled, pluginEnabled, REGISTRY, REPO, serveRegistry } from './plugin.ts'

/**
 * Several Docker hosts on one LAN inside the lab VM (scripts/lab/guest/fleet.sh): each host a
 * network namespace with its own dockerd, the plugin installed on each from a registry on the LAN,
 * one etcd on the LAN for the cluster IPAM.
 */

export const FLEET_SH = join(REPO, 'scripts', 'lab', 'guest', 'fleet.sh')
/** The LAN's router, in the VM's own namespace: etcd and the registry listen there. */
export const ROUTER = '10.199.1.254'
export const ETCD = `http://${ROUTER}:2379`
const LAN_REGISTRY = `${ROUTER}:5000`
export const PLUGIN = 'ipvlan-lan:latest'
export const PREFIX = '/ipvlan-lan/'

export const fleet = (...args: string[]): Promise<Run> => run('sh', [FLEET_SH, ...args], 600_000)

export async function fleetOk(...args: string[]): Promise<string> {
  const result = await fleet(...args)
  if (result.code !== 0) throw new Error(`fleet.sh ${args.join(' ')} failed: ${result.output}`)
  return result.stdout
}

/** The docker CLI of host h (its own daemon socket). */
export function on(h: string): (...args: string[]) => Promise<Run> {
  return (...args: string[]) => run('docker', ['-H', `unix:///run/fleet/${h}.sock`, ...args])
}

export async function onOk(h: string, ...args: string[]): Promise<string> {
  const result = await on(h)(...args)
  if (result.code !== 0)
    throw new Error(`${h}: docker ${args.join(' ')} failed (${result.code}): ${result.output}`)
  return result.stdout
}

/**
 * `docker rm -f` of many containers at once. dockerd gives a killed container 10 s to report its
 * exit (moby daemon/kill.go), and under emulation, with 90 containers stopping together, one did
 * not (2026-12-04 22:05: "tried to kill container, but did not receive an exit event"): the rm of
 * just those is tried once more, as an operator would. Any other error fails at once.
 */
export async function removeAll(h: string, names: string[]): Promise<void> {
  const first = await on(h)('rm', '-f', ...names)
  if (first.code === 0) return
  if (!first.output.includes('did not receive an exit event')) {
    throw new Error(`${h}: docker rm -f ${names.join(' ')} failed (${first.code}): ${first.output}`)
  }
  const left = names.filter((name) => !first.stdout.split('\n').includes(name))
  assert.ok(left.length > 0, `${h}: docker rm -f failed but removed every container`)
  console.log(`${h}: docker rm -f tried again for ${left.join(' ')}: ${first.stderr}`)
  await onOk(h, 'rm', '-f', ...left)
}

function detached(file: string, args: string[], log: string): number {
  const out = openSync(log, 'a')
  const child = spawn(file, args, { detached: true, stdio: ['ignore', out, out] })
  child.unref()
  assert.ok(child.pid, `${file} did not start`)
  return child.pid
}

let etcdPid: number | undefined

/** Where an etcd member listens and keeps its data (the fleet's by default). */
export interface EtcdPlace {
  name: string
  client: string
  peer: string
  dir: string
  /**
   * A scheduling priority (nice, -20..19). A fleet's etcd runs on its own machines; in the lab it
   * shares the 2 emulated CPUs with three dockerd and their starting containers, and with 90 starts
   * in flight one allocation waited over 20 s for it (2026-12-04 20:07). Ahead of them in the
   * queue it stands in for a server of its own.
   */
  nice?: number
}
const FLEET_ETCD: EtcdPlace = {
  name: 'fleet',
  client: ETCD,
  peer: 'http://127.0.0.1:2390',
  dir: '/tmp/fleet-etcd',
  nice: -10,
}

/** One etcd member (on the LAN by default); its data survives stopEtcd (a stop, not a loss). */
export async function startEtcd(place: EtcdPlace = FLEET_ETCD): Promise<void> {
  mkdirSync(place.dir, { recursive: true })
  const etcd = [
    'etcd',
    '--name',
    place.name,
    '--data-dir',
    place.dir,
    '--listen-client-urls',
    place.client,
    '--advertise-client-urls',
    place.client,
    '--listen-peer-urls',
    place.peer,
    '--initial-advertise-peer-urls',
    place.peer,
    '--initial-cluster',
    `${place.name}=${place.peer}`,
  ]
  // nice execs etcd: the pid is etcd's.
  const argv = place.nice === undefined ? etcd : ['nice', '-n', String(place.nice), ...etcd]
  const [file, ...args] = argv
  assert.ok(file)
  etcdPid = detached(file, args, `${place.dir}.log`)
  await waitFor(
    'etcd',
    async () => (await run('curl', ['-sf', `${place.client}/health`])).stdout.includes('true'),
    60_000
  )
  if (place.nice !== undefined) {
    const shown = (await run('ps', ['-o', 'ni=', '-p', String(etcdPid)])).stdout.trim()
    assert.equal(shown, String(place.nice), `etcd (pid ${etcdPid}) runs at nice ${place.nice}`)
  }
}

export async function stopEtcd(): Promise<void> {
  if (etcdPid === undefined) return
  const pid = etcdPid
  etcdPid = undefined
  process.kill(pid, 'SIGTERM')
  await waitFor('etcd to exit', async () => (await run('kill', ['-0', String(pid)])).code !== 0)
}

/**
 * The plugin in the loopback registry (pushed by ensureInstalled, as the other lab files install
 * it), served on the LAN by a second registry process on the same storage.
 */
export async function startLanRegistry(): Promise<string> {
  await ensureInstalled()
  const tags = await run('curl', ['-sf', `http://${REGISTRY}/v2/ipvlan-lan/tags/list`])
  assert.match(
    tags.stdout,
    /"latest"/,
    `the loopback registry has no ipvlan-lan:latest: ${tags.output}`
  )
  // A second registry process on the same storage (an earlier fleet's is reused).
  await serveRegistry(LAN_REGISTRY, 'fleet-registry')
  return `${LAN_REGISTRY}/ipvlan-lan:latest`
}

/** `docker plugin install` on host h from the LAN registry, as an operator would, with settings. */
export async function installOn(h: string, reference: string, settings: string[]): Promise<void> {
  const cli = on(h)
  const installed = await cli(
    'plugin',
    'install',
    '--grant-all-permissions',
    '--alias',
    PLUGIN,
    reference,
    ...settings
  )
  if (installed.code === 0) return
  // Installed, but its enable missed Docker's start window under emulation: enable it again.
  if ((await cli('plugin', 'inspect', PLUGIN)).code !== 0)
    throw new Error(`${h}: docker plugin install failed: ${installed.output}`)
  console.log(`# ${h}: docker plugin install: ${installed.output}`)
  await enable(PLUGIN, 4, cli)
  assert.ok(await pluginEnabled(PLUGIN, cli))
}

export interface EtcdAllocation {
  key: string
  address: string
  kind: string
  hosts: string[]
}

const b64 = (text: string): string => Buffer.from(text).toString('base64')

/** Every allocation under the plugin's etcd prefix, read straight from etcd's JSON gateway. */
export async function etcdAllocations(endpoint = ETCD): Promise<EtcdAllocation[]> {
  const start = `${PREFIX}ipam/`
  const end = start.slice(0, -1) + String.fromCharCode(start.charCodeAt(start.length - 1) + 1)
  const response = await fetch(`${endpoint}/v3/kv/range`, {
    method: 'POST',
    body: JSON.stringify({ key: b64(start), range_end: b64(end) }),
  })
  assert.equal(response.status, 200, `etcd range: HTTP ${response.status}`)
  const body = (await response.json()) as { kvs?: { key: string; value: string }[] }
  return (body.kvs ?? []).map((kv) => {
    const value = JSON.parse(Buffer.from(kv.value, 'base64').toString()) as {
      address: string
      kind: string
      holders: { host: string }[]
    }
    return {
      key: Buffer.from(kv.key, 'base64').toString(),
      address: value.address,
      kind: value.kind,
      hosts: value.holders.map((holder) => holder.host),
    }
  })
}

/** The IPv4 address of each named container of host h on `network` (one inspect call). */
export async function addressesOn(
  h: string,
  network: string,
  containers: string[]
): Promise<Map<string, string>> {
  assert.ok(containers.length > 0, `no containers to inspect on ${h}`)
  const format = `{{.Name}} {{(index .NetworkSettings.Networks "${network}").IPAddress}}`
  const out = await onOk(h, 'inspect', '-f', format, ...containers)
  const result = new Map<string, string>()
  for (const line of out.split('\n')) {
    const [name, address] = line.trim().split(' ')
    if (name) result.set(name.replace(/^\//, ''), address ?? '')
  }
  return result
}

/** Names of host h's running containers whose name starts with `prefix`. */
export async function runningOn(h: string, prefix: string): Promise<string[]> {
  const out = await onOk(h, 'ps', '--filter', `name=^${prefix}`, '--format', '{{.Names}}')
  return out.split('\n').filter((name) => name !== '')
}
