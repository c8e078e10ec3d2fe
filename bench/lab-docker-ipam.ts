/**
 * Benchmark 9c (issue 9, point 6), in the lab VM's dockerd: `docker run -d` + `docker rm -f`
 * through the plugin, on a network whose addresses come from the cluster IPAM (the same plugin as
 * IPAM driver, on a real etcd in the VM) vs a network of the same plugin on Docker's default IPAM,
 * interleaved. Runs after benchmark 1 on the bench plugin, which it disables, gives
 * ETCD_ENDPOINTS, and enables again. Run by bench/lab.ts.
 */
import assert from 'node:assert/strict'
import { docker, dockerOk, dockerdLogLines, ip, run } from '../test/lab/docker.ts'
import { etcdAllocations, startEtcd, stopEtcd, type EtcdPlace } from '../test/lab/fleet.ts'
import { sleep } from '../test/helpers/poll.ts'
import { enable } from '../test/lab/plugin.ts'
import { BENCH_PLUGIN, NETWORKS, dummyNetwork, runAndRemove } from './lab-docker.ts'
import type { Row } from './lib/result.ts'
import { log, ms, ratioRow } from './lib/result.ts'
import { interleave, ratioFigure } from './lib/stats.ts'

/** A member of its own on loopback, so that nothing else in the VM (the fleet's) is in the way. */
const ETCD: EtcdPlace = {
  name: 'bench',
  client: 'http://127.0.0.1:23790',
  peer: 'http://127.0.0.1:23800',
  dir: '/tmp/bench-etcd',
}
const IPAM_NETWORKS = {
  cluster: { name: 'bench-ipam-cluster', parent: 'bp2', subnet: '192.168.93.0/24', ipam: true },
  local: { name: 'bench-ipam-default', parent: 'bp3', subnet: '192.168.94.0/24', ipam: false },
}

export async function cleanUpClusterIpam(): Promise<void> {
  for (const network of Object.values(IPAM_NETWORKS)) {
    await docker('network', 'rm', network.name)
    await ip('link', 'del', 'dev', network.parent)
  }
  await stopEtcd()
}

/**
 * Two full runs of 2026-12-05 failed here on Docker 20.10 after the 30-container burst: benchmark
 * 1's network "has active endpoints" for a full minute with none of its containers left.
 * libnetwork only logs a driver's DeleteEndpoint error, so the plugin cannot hold that count up;
 * 20.10's endpoint count drifting above zero is moby/moby#42119 (open). The removal is tried for a
 * minute (a container `docker rm -f` just removed may still hold an endpoint); after that the
 * evidence is printed and the network is left to Docker, and the plugin is disabled with -f
 * (which Docker allows while a network refers to it). Nothing this benchmark measures runs on it.
 * Returns whether the network went.
 */
async function removeNetwork(name: string): Promise<boolean> {
  let last = ''
  for (let i = 0; i < 30; i++) {
    const result = await docker('network', 'rm', name)
    if (result.code === 0) return true
    last = result.output
    if (/not found|No such network/i.test(last)) return true
    await sleep(2000)
  }
  // Evidence: what Docker still counts on the network, and what it logged about it.
  const held = await docker('network', 'inspect', '-f', '{{json .Containers}}', name)
  const logged = dockerdLogLines({ filter: /endpoint|NetworkDriver|sandbox/i, last: 40 })
  log(
    `9c. WARNING: docker network rm ${name} failed for a minute (moby/moby#42119?): ${last}\n` +
      `containers: ${held.output}\n${logged}\n9c. the plugin is disabled with -f instead`
  )
  return false
}

/**
 * Benchmark 1's networks go (a plugin in use cannot be disabled); the plugin is enabled again
 * with ETCD_ENDPOINTS, as an operator adds etcd (README, "Many hosts on one LAN").
 */
async function reconfigure(): Promise<void> {
  const removed = await removeNetwork(NETWORKS.plugin.name)
  await run('rm', ['-rf', ETCD.dir])
  await startEtcd(ETCD)
  await dockerOk('plugin', 'disable', ...(removed ? [] : ['-f']), BENCH_PLUGIN)
  // ETCD_TIMEOUT_MS as in the fleet test: under emulation etcd sometimes answers after 3 s.
  await dockerOk(
    'plugin',
    'set',
    BENCH_PLUGIN,
    `ETCD_ENDPOINTS=${ETCD.client}`,
    'ETCD_TIMEOUT_MS=20000'
  )
  await enable(BENCH_PLUGIN)
  for (const network of Object.values(IPAM_NETWORKS)) {
    const ipam = network.ipam ? ['--ipam-driver', BENCH_PLUGIN] : []
    await dummyNetwork(network, BENCH_PLUGIN, ...ipam)
  }
  const driver = await dockerOk(
    'network',
    'inspect',
    '-f',
    '{{.IPAM.Driver}}',
    IPAM_NETWORKS.cluster.name
  )
  assert.equal(driver, BENCH_PLUGIN, 'the cluster network is served by the plugin as IPAM driver')
}

/**
 * Untimed, before the samples: a container on the cluster network holds its address in etcd while
 * it runs, and the address is released when it is removed. Otherwise the figure would measure
 * something else than the cluster IPAM.
 */
async function checkAllocatedInEtcd(): Promise<void> {
  const network = IPAM_NETWORKS.cluster.name
  let address = ''
  await runAndRemove(network, 'plugin', async (id) => {
    address = await dockerOk(
      'inspect',
      '-f',
      `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`,
      id
    )
    const held = (await etcdAllocations(ETCD.client)).filter((a) => a.kind === 'dynamic')
    assert.deepEqual(
      held.map((a) => a.address),
      [address],
      `etcd holds exactly the running container's address (${address})`
    )
  })
  assert.notEqual(address, '', 'the container on the cluster network had an address')
  const left = (await etcdAllocations(ETCD.client)).filter((a) => a.kind === 'dynamic')
  assert.deepEqual(left, [], 'the address went back to etcd with the container')
}

export async function clusterIpam(
  options: { pairs: number; warmup: number },
  rows: Row[],
  raw: Record<string, unknown>
): Promise<void> {
  const version = await dockerOk('version', '-f', '{{.Server.Version}}')
  log(`9c. cluster IPAM vs default IPAM: ${options.pairs} interleaved pairs (docker ${version})`)
  await reconfigure()
  await checkAllocatedInEtcd()
  const sample = (network: string) => async (): Promise<number> => {
    const { start, remove } = await runAndRemove(network, 'plugin')
    return start + remove
  }
  const comparison = await interleave(
    {
      cluster: sample(IPAM_NETWORKS.cluster.name),
      local: sample(IPAM_NETWORKS.local.name),
    },
    {
      rounds: options.pairs,
      warmup: options.warmup,
      subject: 'cluster',
      onRound: (round) => {
        if ((round + 1) % 5 === 0) log(`9c. ${round + 1}/${options.pairs} pairs`)
      },
    }
  )
  const figure = ratioFigure(comparison, 'cluster', 'local', 'ms')
  rows.push(
    ratioRow(
      '9c',
      `Container run -d + rm -f through the plugin: cluster IPAM (etcd in the VM) vs Docker's default IPAM, Docker ${version}`,
      figure,
      ms
    )
  )
  raw['clusterIpam'] = { dockerVersion: version, etcd: ETCD.client, comparison, figure }
  await cleanUpClusterIpam()
}
