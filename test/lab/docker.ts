import assert from 'node:assert/strict'
import { execa } from 'execa'
import { spawn, type ChildProcess } from 'node:child_process'
import { appendFileSync, existsSync, openSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { REPO } from '../helpers/repo-root.ts'
import { until } from '../helpers/poll.ts'

/** Helpers for the lab tier: a real dockerd and kernel (inside the lab VM, or any Docker host). */

export interface Run {
  code: number
  stdout: string
  stderr: string
  output: string
}

/**
 * Runs a command (argument array, no shell) and never throws: callers assert on the result. No
 * stdin, so a command that prompts (docker plugin upgrade does) fails at once instead of waiting.
 */
export async function run(file: string, args: string[], timeoutMs = 900_000): Promise<Run> {
  const result = await execa(file, args, {
    reject: false,
    timeout: timeoutMs,
    all: true,
    stdin: 'ignore',
  })
  return {
    code: result.exitCode ?? -1,
    stdout: String(result.stdout ?? '').trim(),
    stderr: String(result.stderr ?? '').trim(),
    output: String(result.all ?? '').trim(),
  }
}

/**
 * A docker command, cut off after 5 min: under emulation the slowest (plugin create, install,
 * upgrade; a run during a plugin restart) take 1-2 min. A CI run once spent its whole time limit
 * in one lab file with no result printed; a stuck command now fails its test instead.
 */
const DOCKER_TIMEOUT_MS = 300_000
export const docker = (...args: string[]): Promise<Run> => run('docker', args, DOCKER_TIMEOUT_MS)
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

/** Fails unless `from` reaches `address` with one ping. */
export async function assertPing(from: string, address: string): Promise<void> {
  const result = await ping(from, address)
  assert.equal(result.code, 0, `ping ${address} from ${from} failed: ${result.output}`)
}

export async function removeContainers(...names: string[]): Promise<void> {
  if (names.length > 0) await docker('rm', '-f', ...names)
}

export async function removeNetworks(...names: string[]): Promise<void> {
  for (const name of names) await docker('network', 'rm', name)
}

/** Polls `check` every 500 ms (a docker CLI call each, under emulation). */
export const waitFor = (
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 60_000
): Promise<void> => until(what, check, timeoutMs, 500)

export const DOCKERD_LOG = process.env['LAB_DOCKERD_LOG'] ?? '/var/log/dockerd.log'

/** The last `last` lines of dockerd's log from byte offset `from` on that match `filter`. */
export function dockerdLogLines({
  from = 0,
  filter = /./,
  last = 40,
}: { from?: number; filter?: RegExp | undefined; last?: number } = {}): string {
  if (!existsSync(DOCKERD_LOG)) return `(no ${DOCKERD_LOG})`
  return readFileSync(DOCKERD_LOG)
    .subarray(from)
    .toString('utf8')
    .split('\n')
    .filter((line) => filter.test(line))
    .slice(-last)
    .join('\n')
}

/** Names of the managed plugins Docker reports enabled. */
async function enabledPlugins(): Promise<string[]> {
  const listed = await docker('plugin', 'ls', '--format', '{{.Name}} {{.Enabled}}')
  if (listed.code !== 0) throw new Error(`docker plugin ls: ${listed.output}`)
  return listed.stdout
    .split('\n')
    .filter((line) => line.endsWith(' true'))
    .map((line) => line.slice(0, -' true'.length))
}

/**
 * Stops dockerd with `signal` and starts it again the way the lab started it; returns once
 * dockerd answers and (after SIGTERM) every plugin enabled before is enabled again. A restart on
 * the emulated VM takes 25-110 s (dockerd restores containers first); a failure carries dockerd's
 * own log.
 */
export async function restartDockerd(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
  // After a graceful stop every enabled plugin must come back. After a SIGKILL containerd may
  // still hold the plugin's task and Docker then disables it: the crash test handles that itself.
  const plugins = signal === 'SIGTERM' ? await enabledPlugins() : []
  const pid = (await run('pidof', ['dockerd'])).stdout.split(/\s+/)[0]
  if (pid) {
    process.kill(Number(pid), signal)
    await waitFor(
      'dockerd to exit',
      async () => (await run('pidof', ['dockerd'])).code !== 0,
      60_000
    )
  }
  // What dockerd said since this restart is the only clue a CI log keeps: put it in the failure.
  const offset = statSync(DOCKERD_LOG, { throwIfNoEntry: false })?.size ?? 0
  const said = (filter?: RegExp): string => dockerdLogLines({ from: offset, filter })
  const starter = startDockerd()
  try {
    await waitFor(
      'dockerd to answer',
      async () => {
        if ((await docker('info', '--format', '{{.ID}}')).code === 0) return true
        // No dockerd yet is fine while the starter runs (dockerd.sh spawns it a moment later).
        if ((await run('pidof', ['dockerd'])).code !== 0 && starter.exitCode !== null) {
          throw new Error(`dockerd exited (its starter exited with ${starter.exitCode})`)
        }
        return false
      },
      300_000
    )
  } catch (error) {
    throw new Error(`${(error as Error).message}; dockerd's log since the restart:\n${said()}`)
  }
  // Docker restarts enabled plugins itself, and disables one that does not listen within ~12 s.
  try {
    await waitFor(
      `plugins enabled again (${plugins.join(', ')})`,
      async () => {
        const now = await enabledPlugins()
        return plugins.every((name) => now.includes(name))
      },
      60_000
    )
  } catch (error) {
    throw new Error(
      `${(error as Error).message}; dockerd's plugin lines since the restart:\n${said(/plugin/i)}`
    )
  }
}

/** Starts dockerd in the background; returns the process that starts it (dockerd or dockerd.sh). */
export function startDockerd(): ChildProcess {
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
  return child
}

const DOCKERD_SH = join(REPO, 'scripts/lab/guest/dockerd.sh')

/** The engine the lab's dockerd.sh last started in this boot; 20.10 (the host's) when none. */
export function labEngine(): string {
  try {
    return readFileSync('/run/lab/engine', 'utf8').trim() || '20.10'
  } catch {
    return '20.10'
  }
}
