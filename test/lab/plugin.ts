import { spawn } from 'node:child_process'
import { mkdtempSync, openSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { REPO } from '../helpers/repo-root.ts'
import { docker, dockerOk, run, waitFor } from './docker.ts'

export { REPO }
export const BUNDLE = join(REPO, 'plugin')
export const REGISTRY = '127.0.0.1:5000'
/** The name users would install: pushed to a registry on loopback, then `docker plugin install`ed. */
export const REGISTRY_PLUGIN = 'localhost:5000/ipvlan-lan:latest'

/**
 * `docker plugin create` + `enable` (unless `enable` is false) from a bundle: by default the one
 * `make plugin` built.
 */
export async function createFromBundle(
  name: string,
  andEnable = true,
  bundle = BUNDLE
): Promise<void> {
  await docker('plugin', 'rm', '-f', name)
  // One bulk copy to local disk first: docker's small reads over the lab's 9p share are slow.
  const staged = mkdtempSync('/tmp/ipvlan-lan-bundle-')
  const copied = await run('cp', ['-a', `${bundle}/.`, staged])
  if (copied.code !== 0) throw new Error(`staging ${bundle}: ${copied.output}`)
  await dockerOk('plugin', 'create', name, staged)
  await run('rm', ['-rf', staged])
  if (andEnable) await enable(name)
}

/**
 * A failure in any of the three steps of dockerd's plugin executor Create (moby
 * daemon/internal/plugin/executor/containerd: the containerd container, its task, the start).
 */
const createFailed =
  /error creating containerd container|failed to create task|cannot start a container/

/**
 * Docker gives a starting plugin about 12 s to listen on its socket (3 dial retries), then stops
 * it and fails the enable ("dial unix …: connect: no such file or directory"). Under emulation on
 * a loaded host node can take longer than that to start, so a failure of that kind is retried.
 * So is a failed Create, for up to 60 s: after a failed start dockerd goes on cleaning up, and
 * starting the plugin again on its own, for some seconds (moby daemon/pkg/plugin/manager.go
 * HandleExitEvent: restart is still set when the plugin exits during its enable; the exit event's
 * clean-up force-deletes the task and container of that id and removes its run directory). An
 * enable in that window meets it: "id already in use" (Docker 20.10.24), "cannot start a container
 * that has stopped", "failed to open stdout fifo", "failed to create task … not found" (Docker
 * 28.5). Any other error is thrown at once.
 */
export async function enable(name: string, attempts = 4, cli = docker): Promise<void> {
  let slowStarts = 0
  let cleanUps = 0
  for (;;) {
    const result = await cli('plugin', 'enable', name)
    if (result.code === 0 || (await pluginEnabled(name, cli))) return
    const again = `# docker plugin enable ${name}: ${result.output}; enabling again`
    // The clean-up is waited for up to 60 s (3 s apart), apart from the slow-start attempts.
    if (createFailed.test(result.output) && ++cleanUps <= 20) {
      console.log(again)
      await new Promise((resolve) => setTimeout(resolve, 3000))
      continue
    }
    const slowStart = /dial unix .*(no such file or directory|connection refused)/
    if (slowStart.test(result.output) && ++slowStarts < attempts) {
      console.log(again)
      continue
    }
    throw new Error(`docker plugin enable ${name} failed (${result.code}): ${result.output}`)
  }
}

/**
 * Debian's docker-registry serving the lab's one registry storage (/tmp/lab-registry) at `addr`,
 * config and log in /tmp/NAME.yml and /tmp/NAME.log. A no-op when a registry already answers there.
 */
export async function serveRegistry(addr: string, name: string): Promise<void> {
  const answers = async (): Promise<boolean> =>
    (await run('curl', ['-sf', `http://${addr}/v2/`])).code === 0
  if (await answers()) return
  const config = `/tmp/${name}.yml`
  writeFileSync(
    config,
    [
      'version: 0.1',
      'storage:',
      '  filesystem:',
      '    rootdirectory: /tmp/lab-registry',
      'http:',
      `  addr: ${addr}`,
      '',
    ].join('\n')
  )
  const log = openSync(`/tmp/${name}.log`, 'a')
  spawn('docker-registry', ['serve', config], {
    detached: true,
    stdio: ['ignore', log, log],
  }).unref()
  await waitFor(`the registry at ${addr}`, answers, 30_000)
}

/** The registry on loopback, so push/install run the way users install plugins. */
export async function startRegistry(): Promise<void> {
  await serveRegistry(REGISTRY, 'lab-registry')
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
  // LAB_PLUGIN_LOG_LEVEL=debug: every request and answer in dockerd's log, from which
  // bench/protocol-fixtures.ts cuts the unit tier's protocol fixtures.
  const level = process.env['LAB_PLUGIN_LOG_LEVEL']
  const installed = await docker(
    'plugin',
    'install',
    '--grant-all-permissions',
    REGISTRY_PLUGIN,
    ...(level ? [`LOG_LEVEL=${level}`] : [])
  )
  if (installed.code === 0) return
  // Installed, but its enable missed Docker's start window: enable it again (see enable).
  if ((await docker('plugin', 'inspect', REGISTRY_PLUGIN)).code !== 0) {
    throw new Error(`docker plugin install ${REGISTRY_PLUGIN} failed: ${installed.output}`)
  }
  console.log(`# docker plugin install: ${installed.output}`)
  await enable(REGISTRY_PLUGIN)
}

/** Where the installed plugin keeps its state on the host (its propagated mount). */
export async function pluginStateDir(name = REGISTRY_PLUGIN): Promise<string> {
  const id = await dockerOk('plugin', 'inspect', '-f', '{{.Id}}', name)
  // /var/lib/docker on 20.10; each other lab engine has its own data root (/var/lib/docker-28).
  const root = await dockerOk('info', '--format', '{{.DockerRootDir}}')
  return `${root}/plugins/${id}/propagated-mount`
}

export async function pluginEnabled(name: string, cli = docker): Promise<boolean> {
  return (await cli('plugin', 'inspect', '-f', '{{.Enabled}}', name)).stdout === 'true'
}
