import { spawn } from 'node:child_process'
import { mkdtempSync, openSync, writeFileSync } from 'node:fs'
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
  // One bulk copy to local disk first: docker's small reads over the lab's 9p share are slow.
  const staged = mkdtempSync('/tmp/ipvlan-lan-bundle-')
  await run('cp', ['-a', `${BUNDLE}/.`, staged])
  await dockerOk('plugin', 'create', name, staged)
  await run('rm', ['-rf', staged])
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

/**
 * Installs the plugin both ways users do, once per lab boot (moving the 95 MB bundle into the
 * emulated VM takes minutes): `docker plugin create` + `enable` from the bundle `make plugin`
 * built, then `push` to the registry on loopback, `rm`, and `docker plugin install` from there.
 * Every lab test then uses that installed plugin. A no-op when it is already installed.
 */
export async function ensureInstalled(): Promise<void> {
  if (await pluginEnabled(REGISTRY_PLUGIN)) return
  await startRegistry()
  await createFromBundle(REGISTRY_PLUGIN)
  await dockerOk('plugin', 'disable', REGISTRY_PLUGIN)
  await dockerOk('plugin', 'push', REGISTRY_PLUGIN)
  await dockerOk('plugin', 'rm', '-f', REGISTRY_PLUGIN)
  await dockerOk('plugin', 'install', '--grant-all-permissions', REGISTRY_PLUGIN)
}

/** Where the installed plugin keeps its state on the host (its propagated mount). */
export async function pluginStateDir(name = REGISTRY_PLUGIN): Promise<string> {
  const id = await dockerOk('plugin', 'inspect', '-f', '{{.Id}}', name)
  // /var/lib/docker on 20.10; each other lab engine has its own data root (/var/lib/docker-28).
  const root = await dockerOk('info', '--format', '{{.DockerRootDir}}')
  return `${root}/plugins/${id}/propagated-mount`
}

export async function pluginEnabled(name: string): Promise<boolean> {
  return (await docker('plugin', 'inspect', '-f', '{{.Enabled}}', name)).stdout === 'true'
}
