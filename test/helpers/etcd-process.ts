import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import type { IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { sleep, until } from './poll.ts'

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
  /**
   * SIGSTOP / SIGCONT: etcd keeps its sockets but answers nothing. The kernel stops a process's
   * threads one after another after kill() has returned, so pause resolves only when every thread
   * is seen stopped: a request sent at once could otherwise still be answered (it was, in CI).
   */
  pause: () => Promise<void>
  resume: () => void
  /** Kills this process (SIGKILL: no clean shutdown) and waits for it to be gone. */
  kill: () => Promise<void>
}

export interface EtcdPlace {
  dataDir: string
  clientPort: number
  peerPort: number
}

/** PEM file paths: etcd serves https and requires a client certificate from `ca`. */
export interface EtcdTlsFiles {
  serverCert: string
  serverKey: string
  ca: string
  /** What the readiness probe presents. */
  clientCert: string
  clientKey: string
}

export interface EtcdOptions {
  tls?: EtcdTlsFiles | undefined
  /** More etcd flags (e.g. --auth-token-ttl). */
  args?: string[] | undefined
}

/**
 * A one-member etcd on 127.0.0.1, ready when this resolves: it has answered a v3 range through
 * the JSON gateway the store uses (so the test knows etcd really runs, and is 3.4 or later).
 * Started again on the same place, it reopens the same data.
 */
export async function startEtcd(
  place: EtcdPlace,
  timeoutMs = 60_000,
  options: EtcdOptions = {}
): Promise<EtcdProcess> {
  const { tls } = options
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${place.clientPort}`
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
      ...(tls
        ? [
            `--cert-file=${tls.serverCert}`,
            `--key-file=${tls.serverKey}`,
            `--trusted-ca-file=${tls.ca}`,
            '--client-cert-auth',
          ]
        : []),
      ...(options.args ?? []),
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
    ready = await answers(url, tls)
    if (!ready) await sleep(200)
  }
  return {
    url,
    child,
    output: () => output,
    pause: async () => {
      child.kill('SIGSTOP')
      await allThreadsStopped(child)
    },
    resume: () => void child.kill('SIGCONT'),
    kill,
  }
}

/** Waits (at most 5 s) until every thread of the child is in state T (stopped) in /proc. */
async function allThreadsStopped(child: ChildProcess): Promise<void> {
  const { pid } = child
  if (pid === undefined) throw new Error('etcd has no pid: cannot pause it')
  const tasks = `/proc/${pid}/task`
  let seen: string[] = []
  const stopped = (): boolean => {
    seen = readdirSync(tasks).map((tid) => {
      const stat = readFileSync(`${tasks}/${tid}/stat`, 'utf8')
      // The state follows the command name, which is in parentheses and may hold spaces.
      return stat.charAt(stat.lastIndexOf(')') + 2)
    })
    return seen.length > 0 && seen.every((state) => state === 'T')
  }
  await until(`etcd (pid ${pid}) stopped after SIGSTOP`, stopped, 5000, 2).catch(
    (error: unknown) => {
      throw new Error(`${(error as Error).message}: thread states ${seen}`)
    }
  )
}

/**
 * Has etcd's v3 gateway answered a range? Yes also when it refuses it for want of a user (etcd
 * with authentication enabled, restarted): that answer comes from the running server too.
 */
async function answers(url: string, tls: EtcdTlsFiles | undefined): Promise<boolean> {
  const body = JSON.stringify({ key: Buffer.from('/').toString('base64') })
  const answer = await new Promise<{ status: number; text: string } | undefined>((resolve) => {
    const options = {
      method: 'POST',
      timeout: 1000,
      ...(tls
        ? {
            ca: readFileSync(tls.ca),
            cert: readFileSync(tls.clientCert),
            key: readFileSync(tls.clientKey),
          }
        : {}),
    }
    const done = (response: IncomingMessage): void => {
      let text = ''
      response.on('data', (chunk: Buffer) => (text += chunk.toString()))
      response.on('end', () => resolve({ status: response.statusCode ?? 0, text }))
      response.on('error', () => resolve(undefined))
    }
    const request = tls
      ? httpsRequest(url + '/v3/kv/range', options, done)
      : httpRequest(url + '/v3/kv/range', options, done)
    request.on('error', () => resolve(undefined))
    request.on('timeout', () => request.destroy())
    request.end(body)
  })
  if (!answer) return false
  try {
    const json = JSON.parse(answer.text) as { header?: { revision?: string }; message?: string }
    if (answer.status === 200) return typeof json.header?.revision === 'string'
    return /user name is empty|permission denied/.test(json.message ?? '')
  } catch {
    return false
  }
}
