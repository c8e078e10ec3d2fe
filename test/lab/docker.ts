import { execa } from 'execa'
import { spawn } from 'node:child_process'
import { appendFileSync, openSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Helpers for the lab tier: a real dockerd and kernel (inside the lab VM, or any Docker host). */

export interface Run {
  code: number
  stdout: string
  stderr: string
  output: string
}

/** Runs a command (argument array, no shell) and never throws: callers assert on the result. */
export async function run(file: string, args: string[], timeoutMs = 900_000): Promise<Run> {
  const result = await execa(file, args, { reject: false, timeout: timeoutMs, all: true })
  return {
    code: result.exitCode ?? -1,
    stdout: String(result.stdout ?? '').trim(),
    stderr: String(result.stderr ?? '').trim(),
    output: String(result.all ?? '').trim(),
  }
}

export const docker = (...args: string[]): Promise<Run> => run('docker', args)
export const ip = (...args: string[]): Promise<Run> => run('ip', args)

/** Like `docker`, but throws with Docker's own message when the command fails. */
export async function dockerOk(...args: string[]): Promise<string> {
  const result = await docker(...args)
  if (result.code !== 0)
    throw new Error(`docker ${args.join(' ')} failed (${result.code}): ${result.output}`)
  return result.stdout
}

export async function ipOk(...args: string[]): Promise<string> {
  const result = await ip(...args)
  if (result.code !== 0) throw new Error(`ip ${args.join(' ')} failed: ${result.output}`)
  return result.stdout
}

export async function linkExists(name: string): Promise<boolean> {
  return (await ip('link', 'show', 'dev', name)).code === 0
}

/** Names and aliases of every link in the host namespace. */
export async function hostLinks(): Promise<{ name: string; alias?: string }[]> {
  const parsed = JSON.parse(await ipOk('-j', 'link', 'show')) as {
    ifname: string
    ifalias?: string
  }[]
  return parsed.map((link) => ({
    name: link.ifname,
    ...(link.ifalias ? { alias: link.ifalias } : {}),
  }))
}

/** A dummy master standing in for a NIC (moby's integration tests do the same). */
export async function addDummy(name: string): Promise<void> {
  await ip('link', 'del', 'dev', name)
  await ipOk('link', 'add', name, 'type', 'dummy')
  await ipOk('link', 'set', name, 'up')
}

export const IMAGE = process.env['LAB_IMAGE'] ?? 'busybox:lab'

/** Starts a long-running container and returns its name. */
export async function runContainer(
  name: string,
  network: string,
  extra: string[] = []
): Promise<string> {
  await docker('rm', '-f', name)
  await dockerOk('run', '-d', '--name', name, '--net', network, ...extra, IMAGE, 'sleep', '3600')
  return name
}

export async function exec(container: string, ...command: string[]): Promise<Run> {
  return docker('exec', container, ...command)
}

/** The container's IPv4 (or IPv6) address on a network, from docker inspect. */
export async function addressOf(container: string, network: string, v6 = false): Promise<string> {
  const field = v6 ? 'GlobalIPv6Address' : 'IPAddress'
  return dockerOk(
    'inspect',
    '-f',
    `{{(index .NetworkSettings.Networks "${network}").${field}}}`,
    container
  )
}

export async function gatewayOf(container: string, network: string, v6 = false): Promise<string> {
  const field = v6 ? 'IPv6Gateway' : 'Gateway'
  return dockerOk(
    'inspect',
    '-f',
    `{{(index .NetworkSettings.Networks "${network}").${field}}}`,
    container
  )
}

export async function ping(from: string, address: string): Promise<Run> {
  const v6 = address.includes(':')
  return exec(from, v6 ? 'ping6' : 'ping', '-c', '1', '-W', '3', address)
}

export async function removeContainers(...names: string[]): Promise<void> {
  if (names.length > 0) await docker('rm', '-f', ...names)
}

export async function removeNetworks(...names: string[]): Promise<void> {
  for (const name of names) await docker('network', 'rm', name)
}

export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 60_000
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}

export const DOCKERD_LOG = process.env['LAB_DOCKERD_LOG'] ?? '/var/log/dockerd.log'

/** Stops dockerd with `signal` and starts it again the way the lab started it. */
export async function restartDockerd(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
  const pid = (await run('pidof', ['dockerd'])).stdout.split(/\s+/)[0]
  if (pid) {
    process.kill(Number(pid), signal)
    await waitFor(
      'dockerd to exit',
      async () => (await run('pidof', ['dockerd'])).code !== 0,
      60_000
    )
  }
  startDockerd()
  await waitFor(
    'dockerd to answer',
    async () => (await docker('info', '--format', '{{.ID}}')).code === 0,
    120_000
  )
}

export function startDockerd(): void {
  appendFileSync(
    DOCKERD_LOG,
    `\n--- dockerd restarted by the lab tests ${new Date().toISOString()}\n`
  )
  const log = openSync(DOCKERD_LOG, 'a')
  // Another engine than the host's 20.10 (LAB_ENGINE=28) needs its own PATH and data/exec roots:
  // the lab's dockerd.sh starts the engine it last started (see scripts/lab/README.md).
  const child =
    labEngine() === '20.10'
      ? spawn('dockerd', [], { detached: true, stdio: ['ignore', log, log] })
      : spawn('sh', [DOCKERD_SH, 'start'], { detached: true, stdio: ['ignore', log, log] })
  child.unref()
}

const DOCKERD_SH = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'scripts/lab/guest/dockerd.sh'
)

/** The engine the lab's dockerd.sh last started in this boot; 20.10 (the host's) when none. */
export function labEngine(): string {
  try {
    return readFileSync('/run/lab/engine', 'utf8').trim() || '20.10'
  } catch {
    return '20.10'
  }
}
