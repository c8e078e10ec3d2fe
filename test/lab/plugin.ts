import { spawn } from 'node:child_process'
import { openSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { docker, dockerOk, run, waitFor } from './docker.ts'

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const BUNDLE = join(REPO, 'plugin')
export const REGISTRY = '127.0.0.1:5000'
/** The name users would install: pushed to a registry on loopback, then `docker plugin install`ed. */
export const REGISTRY_PLUGIN = 'localhost:5000/ipvlan-lan:latest'

/** `docker plugin create` + `enable` from the bundle that `make plugin` built. */
export async function createFromBundle(name: string): Promise<void> {
  await docker('plugin', 'rm', '-f', name)
  await dockerOk('plugin', 'create', name, BUNDLE)
  await dockerOk('plugin', 'enable', name)
}

/** Debian's docker-registry on loopback, so push/install run the way users install plugins. */
export async function startRegistry(): Promise<void> {
  if ((await run('curl', ['-sf', `http://${REGISTRY}/v2/`])).code === 0) return
  const config = '/tmp/lab-registry.yml'
  writeFileSync(
    config,
    [
      'version: 0.1',
      'storage:',
      '  filesystem:',
      '    rootdirectory: /tmp/lab-registry',
      'http:',
      `  addr: ${REGISTRY}`,
      '',
    ].join('\n')
  )
  const log = openSync('/tmp/lab-registry.log', 'a')
  spawn('docker-registry', ['serve', config], {
    detached: true,
    stdio: ['ignore', log, log],
  }).unref()
  await waitFor(
    'the registry',
    async () => (await run('curl', ['-sf', `http://${REGISTRY}/v2/`])).code === 0,
    30_000
  )
}

/** Create → push → remove → `docker plugin install` from the registry → enabled. */
export async function installFromRegistry(): Promise<void> {
  await startRegistry()
  await createFromBundle(REGISTRY_PLUGIN)
  await dockerOk('plugin', 'disable', REGISTRY_PLUGIN)
  await dockerOk('plugin', 'push', REGISTRY_PLUGIN)
  await dockerOk('plugin', 'rm', '-f', REGISTRY_PLUGIN)
  await dockerOk('plugin', 'install', '--grant-all-permissions', REGISTRY_PLUGIN)
}

export async function pluginEnabled(name: string): Promise<boolean> {
  return (await docker('plugin', 'inspect', '-f', '{{.Enabled}}', name)).stdout === 'true'
}
