import { execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import { call } from '../../test/helpers/socket-client.ts'

/** Driving the real plugin process through its socket the way dockerd does, and the bare-ip baseline. */

const execFileAsync = promisify(execFile)

export const newId = (): string => randomBytes(32).toString('hex')

export interface StatusReply {
  Networks: number
  Endpoints: number
  RssBytes: number
  IpProcesses: number
  /** Links of deleted endpoints not deleted yet (the plugin deletes them after answering). */
  PendingLinkDeletes?: number
  Store: { writes: number; bytesWritten: number; deletes: number }
}

/** POSTs one request; anything but a 200 is an error naming the method and Docker's message. */
export async function ok(
  socket: string,
  method: string,
  body?: unknown
): Promise<Record<string, unknown>> {
  const reply = await call(socket, method, body)
  if (reply.status !== 200) {
    throw new Error(`${method}: ${reply.status} ${JSON.stringify(reply.body)}`)
  }
  return reply.body
}

export async function status(socket: string): Promise<StatusReply> {
  return (await ok(socket, 'IpvlanLan.Status')) as unknown as StatusReply
}

/** Resolves once the plugin has deleted the links of every endpoint deleted so far. */
export async function linksDeleted(socket: string): Promise<void> {
  await ok(socket, 'IpvlanLan.DrainLinkDeletes')
}

/** CreateNetwork on `parent` (an existing link in the plugin's namespace), l2 bridge. */
export async function createNetwork(
  socket: string,
  networkId: string,
  parent: string,
  subnet: string,
  gateway: string
): Promise<void> {
  await ok(socket, 'NetworkDriver.CreateNetwork', {
    NetworkID: networkId,
    Options: { 'com.docker.network.generic': { parent } },
    IPv4Data: [{ AddressSpace: 'LocalDefault', Pool: subnet, Gateway: gateway }],
    IPv6Data: [],
  })
}

/** 10.x.y.z/8 from a counter: addresses only need to be valid and distinct. */
export const address = (n: number): string =>
  `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${(n & 255) | 0}/8`

/** The first half of a lifecycle: what `docker run` asks of the driver before the container starts. */
export async function createAndJoin(
  socket: string,
  networkId: string,
  endpointId: string,
  n: number
): Promise<void> {
  await ok(socket, 'NetworkDriver.CreateEndpoint', {
    NetworkID: networkId,
    EndpointID: endpointId,
    Interface: { Address: address(n), AddressIPv6: '', MacAddress: '' },
    Options: {},
  })
  await ok(socket, 'NetworkDriver.Join', {
    NetworkID: networkId,
    EndpointID: endpointId,
    SandboxKey: `/var/run/docker/netns/${endpointId.slice(0, 12)}`,
    Options: {},
  })
}

/** Milliseconds per step, appended to when a lifecycle is given one: what costs what. */
export type Steps = Record<string, number[]>

async function step<T>(steps: Steps | undefined, name: string, fn: () => Promise<T>): Promise<T> {
  if (!steps) return fn()
  const started = performance.now()
  const result = await fn()
  ;(steps[name] ??= []).push(performance.now() - started)
  return result
}

/** One endpoint lifecycle through the socket: CreateEndpoint, Join, Leave, DeleteEndpoint. */
export async function lifecycle(
  socket: string,
  networkId: string,
  n: number,
  steps?: Steps,
  waitForLink = true
): Promise<void> {
  const endpointId = newId()
  const ids = { NetworkID: networkId, EndpointID: endpointId }
  await step(steps, 'CreateEndpoint', () =>
    ok(socket, 'NetworkDriver.CreateEndpoint', {
      ...ids,
      Interface: { Address: address(n), AddressIPv6: '', MacAddress: '' },
      Options: {},
    })
  )
  await step(steps, 'Join', () =>
    ok(socket, 'NetworkDriver.Join', {
      ...ids,
      SandboxKey: `/var/run/docker/netns/${endpointId.slice(0, 12)}`,
      Options: {},
    })
  )
  await step(steps, 'Leave', () => ok(socket, 'NetworkDriver.Leave', ids))
  await step(steps, 'DeleteEndpoint', () => ok(socket, 'NetworkDriver.DeleteEndpoint', ids))
  // The link is deleted after DeleteEndpoint answers: a lifecycle's cost includes it, unless the
  // caller waits for many at once (throughput rounds).
  if (waitForLink) await step(steps, 'link deleted', () => linksDeleted(socket))
}

export async function ip(args: readonly string[], input?: string): Promise<void> {
  if (input === undefined) {
    await execFileAsync('ip', args, { env: { ...process.env, LC_ALL: 'C' } })
    return
  }
  await new Promise<void>((resolve, reject) => {
    const child = spawn('ip', args, { stdio: ['pipe', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.on('error', reject)
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`ip ${args.join(' ')}: ${code} ${stderr}`))
    )
    child.stdin.end(input)
  })
}

/**
 * What the same lifecycle needs of the kernel, as bare `ip` commands run directly: the ipvlan link
 * with its ownership alias, then its deletion. `batched` does the first two in one `ip -batch -`
 * process (as the plugin does), otherwise three processes.
 */
export async function bareLifecycle(
  netns: string,
  parent: string,
  batched: boolean,
  steps?: Steps
): Promise<void> {
  const name = `bl${randomBytes(6).toString('hex')}`
  const alias = `ipvlan-lan/bench0000:ep:${newId()}`
  const add = [
    'link',
    'add',
    'name',
    name,
    'link',
    parent,
    'type',
    'ipvlan',
    'mode',
    'l2',
    'bridge',
  ]
  const setAlias = ['link', 'set', 'dev', name, 'alias', alias]
  if (batched) {
    await step(steps, 'ip -batch (add; alias)', () =>
      ip(['-n', netns, '-batch', '-'], `${add.join(' ')}\n${setAlias.join(' ')}\n`)
    )
  } else {
    await step(steps, 'ip link add', () => ip(['-n', netns, ...add]))
    await step(steps, 'ip link set alias', () => ip(['-n', netns, ...setAlias]))
  }
  await step(steps, 'ip link del', () => ip(['-n', netns, 'link', 'del', 'dev', name]))
}
