/**
 * The floor plugin of benchmark 1 (bench/floor-plugin.ts) as Docker runs it: our bundle's rootfs
 * (the same node with the same options, the same ip), with floor.js beside our code and an
 * entrypoint that runs it.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { bundleNodeFlags } from '../test/helpers/bundle-node-flags.ts'
import { dockerOk, run } from '../test/lab/docker.ts'
import { BUNDLE, REPO, enable } from '../test/lab/plugin.ts'

export const FLOOR_PLUGIN = 'ipvlan-lan-floor:latest'

/** `docker plugin create` of the floor from a staged copy of the bundle; not enabled. */
export async function createFloor(): Promise<void> {
  await run('docker', ['plugin', 'rm', '-f', FLOOR_PLUGIN])
  const staged = mkdtempSync('/tmp/ipvlan-lan-floor-')
  try {
    const copied = await run('cp', ['-a', `${BUNDLE}/.`, staged])
    if (copied.code !== 0) throw new Error(`staging ${BUNDLE}: ${copied.output}`)
    await buildFloor(`${staged}/rootfs/opt/ipvlan-lan/floor.js`)
    const configFile = join(staged, 'config.json')
    const config = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>
    const socket = (config['interface'] as { socket: string }).socket
    config['interface'] = { types: ['docker.networkdriver/1.0'], socket }
    config['description'] = 'benchmark floor: node:http and one resident ip, nothing else'
    // The same node options as ours: the floor is what any plugin on this node pays.
    config['entrypoint'] = [
      '/usr/bin/node',
      ...bundleNodeFlags(configFile),
      '/opt/ipvlan-lan/floor.js',
      `/run/docker/plugins/${socket}`,
    ]
    writeFileSync(configFile, JSON.stringify(config, null, 2))
    await dockerOk('plugin', 'create', FLOOR_PLUGIN, staged)
  } finally {
    await run('rm', ['-rf', staged])
  }
}

/** Bundles bench/floor-plugin.ts into one file, `outfile` (also bench/replay-lifecycle.sh's). */
export async function buildFloor(outfile: string): Promise<void> {
  const built = await run(join(REPO, 'node_modules/.bin/esbuild'), [
    join(REPO, 'bench/floor-plugin.ts'),
    '--bundle',
    '--platform=node',
    '--target=node20',
    '--format=esm',
    // execa's cross-spawn is CommonJS (see scripts/bundle.sh).
    "--banner:js=import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    `--outfile=${outfile}`,
    '--log-level=warning',
  ])
  if (built.code !== 0) throw new Error(`building the floor plugin: ${built.output}`)
}

export const enableFloor = (): Promise<void> => enable(FLOOR_PLUGIN)
