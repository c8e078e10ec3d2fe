import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bundleNodeFlags } from '../../test/helpers/bundle-node-flags.ts'
import { REPO } from '../../test/helpers/plugin-process.ts'
import { waitForSocket } from '../../test/helpers/socket-client.ts'

export interface BenchPlugin {
  socket: string
  stateDir: string
  child: ChildProcess
  output: () => string
  stop: () => Promise<void>
}

/**
 * The compiled program (`node dist/main.js` with the bundle's node options, what the bundle runs)
 * at info level, managing `netns`. Like test/helpers' startPlugin, with a start-up allowance fit
 * for a loaded TCG guest.
 */
export async function startBenchPlugin(options: {
  netns: string
  stateDir: string
  timeoutMs?: number
  /** More flags for the program (e.g. --etcd-endpoints, --host-id). */
  args?: string[]
}): Promise<BenchPlugin> {
  const base = mkdtempSync(join(tmpdir(), 'ipvlan-lan-bench-'))
  const socket = join(base, 'plugin.sock')
  const args = [
    ...bundleNodeFlags(),
    join(REPO, 'dist', 'main.js'),
    '--socket',
    socket,
    '--state-dir',
    options.stateDir,
    '--log-level',
    'info',
    '--netns',
    options.netns,
    ...(options.args ?? []),
  ]
  const child = spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-20_000)
  }
  child.stdout.on('data', keep)
  child.stderr.on('data', keep)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  try {
    await waitForSocket(socket, options.timeoutMs ?? 180_000)
  } catch (error) {
    child.kill('SIGKILL')
    throw new Error(`plugin did not start: ${(error as Error).message}\n${output}`)
  }
  return {
    socket,
    stateDir: options.stateDir,
    child,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      await exited
      rmSync(base, { recursive: true, force: true })
    },
  }
}
