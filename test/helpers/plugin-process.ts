import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bundleNodeFlags } from './bundle-node-flags.ts'
import { REPO } from './repo-root.ts'
import { waitForSocket } from './socket-client.ts'

export { REPO }

/**
 * Node arguments that run the plugin program. PLUGIN_ENTRY=dist (set in the lab) runs the
 * compiled program, with the bundle's node options: tsx takes ~30 s to start under emulation.
 */
export function pluginEntry(compiled = process.env['PLUGIN_ENTRY'] === 'dist'): string[] {
  return compiled
    ? [...bundleNodeFlags(), join(REPO, 'dist', 'main.js')]
    : ['--import', 'tsx', join(REPO, 'src', 'main.ts')]
}

export interface PluginProcess {
  socket: string
  stateDir: string
  child: ChildProcess
  output: () => string
  stop: (signal?: NodeJS.Signals) => Promise<void>
}

/**
 * Starts the real plugin program (`src/main.ts` through tsx, or `dist/main.js` when `compiled`) on
 * a fresh socket, optionally managing another network namespace.
 */
export async function startPlugin(
  options: {
    stateDir?: string
    netns?: string
    args?: string[]
    compiled?: boolean
    /** Added to this process's environment (e.g. ETCD_PASSWORD, which has no flag). */
    env?: Record<string, string>
  } = {}
): Promise<PluginProcess> {
  const base = mkdtempSync(join(tmpdir(), 'ipvlan-lan-'))
  const socket = join(base, 'plugin.sock')
  const stateDir = options.stateDir ?? join(base, 'state')
  const entry = pluginEntry(options.compiled)
  const args = [
    ...entry,
    '--socket',
    socket,
    '--state-dir',
    stateDir,
    '--log-level',
    'debug',
    ...(options.netns ? ['--netns', options.netns] : []),
    ...(options.args ?? []),
  ]
  const child = spawn(process.execPath, args, {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
  })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  try {
    await waitForSocket(socket, 60_000)
  } catch (error) {
    child.kill('SIGKILL')
    throw new Error(`plugin did not start: ${(error as Error).message}\n${output}`)
  }
  return {
    socket,
    stateDir,
    child,
    output: () => output,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      await exited
    },
  }
}
