import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'

/** Where Debian's etcd-server puts the server (scripts/deps.sh installs it). */
export const ETCD_BIN = '/usr/bin/etcd'

/** Why the real-etcd tests cannot run here, or undefined; said loudly, for the test to fail on. */
export function etcdMissing(): string | undefined {
  if (existsSync(ETCD_BIN)) return undefined
  const reason =
    `${ETCD_BIN} not found: the etcd IPAM tests need a real etcd; run scripts/deps.sh as ` +
    'root (it installs the Debian package etcd-server)'
  process.stderr.write(`\n!!! ${reason}\n\n`)
  return reason
}

/** A free TCP port on 127.0.0.1 (free when asked: etcd binds it right after). */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

export interface EtcdProcess {
  url: string
  child: ChildProcess
  output: () => string
  /** SIGSTOP / SIGCONT: etcd keeps its sockets but answers nothing. */
  pause: () => void
  resume: () => void
  /** Kills this process (SIGKILL: no clean shutdown) and waits for it to be gone. */
  kill: () => Promise<void>
}

export interface EtcdPlace {
  dataDir: string
  clientPort: number
  peerPort: number
}

/**
 * A one-member etcd on 127.0.0.1, ready when this resolves: it has answered a v3 range through
 * the JSON gateway the store uses (so the test knows etcd really runs, and is 3.4 or later).
 * Started again on the same place, it reopens the same data.
 */
export async function startEtcd(place: EtcdPlace, timeoutMs = 60_000): Promise<EtcdProcess> {
  const url = `http://127.0.0.1:${place.clientPort}`
  const peer = `http://127.0.0.1:${place.peerPort}`
  const child = spawn(
    ETCD_BIN,
    [
      '--name=ipam-test',
      `--data-dir=${place.dataDir}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=ipam-test=${peer}`,
      '--initial-cluster-state=new',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] }
  )
  let output = ''
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-20_000)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  }
  const deadline = Date.now() + timeoutMs
  for (let ready = false; !ready;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`etcd exited (${child.exitCode ?? child.signalCode}):\n${output}`)
    if (Date.now() > deadline) {
      await kill()
      throw new Error(`etcd did not answer at ${url} within ${timeoutMs} ms:\n${output}`)
    }
    ready = await answers(url)
    if (!ready) await new Promise((resolve) => setTimeout(resolve, 200))
  }
  return {
    url,
    child,
    output: () => output,
    pause: () => void child.kill('SIGSTOP'),
    resume: () => void child.kill('SIGCONT'),
    kill,
  }
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/v3/kv/range`, {
      method: 'POST',
      body: JSON.stringify({ key: Buffer.from('/').toString('base64') }),
      signal: AbortSignal.timeout(1000),
    })
    const body = (await response.json()) as { header?: { revision?: string } }
    return response.status === 200 && typeof body.header?.revision === 'string'
  } catch {
    return false
  }
}
