/**
 * The floor of benchmark 1: the least a network driver plugin written for node can do for a
 * container, run by Docker as a managed plugin beside ours (bench/lab-floor.ts). node:http and one
 * resident `ip` (src/link/resident-ip.ts, as ours uses), nothing else: no Hono, no validation, no
 * state on disk, no locks, no ownership alias. Join's link is started when CreateEndpoint has
 * answered (as ours does) and deleted after DeleteEndpoint has answered. Whatever this costs over
 * the built-in driver is the remote-driver protocol and node, which no code of ours can remove;
 * our plugin's ratio to it is what our code adds. Not a product: it trusts every request.
 *
 *   node floor.js SOCKET
 */
import { unlinkSync } from 'node:fs'
import { createServer } from 'node:http'
import { ResidentIp } from '../src/link/resident-ip.ts'

const socket = process.argv[2]
if (socket === undefined) throw new Error('usage: floor.js SOCKET')

const ip = new ResidentIp({ timeoutMs: 10_000 })
const networks = new Map<string, { parent: string; gateway: string | undefined }>()
const links = new Map<string, Promise<void>>()
const linkName = (endpointId: string): string => `flr${endpointId.slice(0, 12)}`

const lineOk = async (line: string): Promise<void> => {
  const result = await ip.run([line])
  if (result.exitCode !== 0) throw new Error(`ip ${line}: ${result.stderr.trim()}`)
}

type Body = Record<string, unknown>
type Handler = (body: Body) => unknown

const handlers: Record<string, Handler> = {
  'Plugin.Activate': () => ({ Implements: ['NetworkDriver'] }),
  'NetworkDriver.GetCapabilities': () => ({ Scope: 'local', ConnectivityScope: 'local' }),
  'NetworkDriver.CreateNetwork': (body) => {
    const generic = (body['Options'] as Body)['com.docker.network.generic'] as Body
    const v4 = (body['IPv4Data'] as Body[])[0]
    networks.set(String(body['NetworkID']), {
      parent: String(generic['parent']),
      gateway: v4 ? String(v4['Gateway']).split('/')[0] : undefined,
    })
    return {}
  },
  'NetworkDriver.DeleteNetwork': (body) => {
    networks.delete(String(body['NetworkID']))
    return {}
  },
  'NetworkDriver.CreateEndpoint': (body) => {
    const network = networks.get(String(body['NetworkID']))
    if (!network) throw new Error('no such network')
    const name = linkName(String(body['EndpointID']))
    const made = lineOk(`link add name ${name} link ${network.parent} type ipvlan mode l2`)
    made.catch(() => {})
    links.set(String(body['EndpointID']), made)
    return {}
  },
  'NetworkDriver.Join': async (body) => {
    await links.get(String(body['EndpointID']))
    const network = networks.get(String(body['NetworkID']))
    const gateway = network?.gateway ? { Gateway: network.gateway } : {}
    return {
      InterfaceName: { SrcName: linkName(String(body['EndpointID'])), DstPrefix: 'eth' },
      ...gateway,
      DisableGatewayService: true,
    }
  },
  'NetworkDriver.DeleteEndpoint': (body) => {
    links.delete(String(body['EndpointID']))
    void lineOk(`link del dev ${linkName(String(body['EndpointID']))}`).catch(() => {})
    return {}
  },
  'NetworkDriver.EndpointOperInfo': () => ({ Value: {} }),
  'NetworkDriver.Leave': () => ({}),
  'NetworkDriver.ProgramExternalConnectivity': () => ({}),
  'NetworkDriver.RevokeExternalConnectivity': () => ({}),
  'NetworkDriver.DiscoverNew': () => ({}),
  'NetworkDriver.DiscoverDelete': () => ({}),
  // The bench waits for deleted links between samples (bench/lab-docker.ts settled).
  'IpvlanLan.DrainLinkDeletes': () => ip.run([]).then(() => ({})),
}

try {
  unlinkSync(socket)
} catch {
  // No socket left from an earlier start.
}
createServer((req, res) => {
  const chunks: Buffer[] = []
  req.on('data', (chunk: Buffer) => chunks.push(chunk))
  req.on('end', () => {
    const answer = (status: number, value: unknown): void => {
      const text = JSON.stringify(value)
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(text)
    }
    const handler = handlers[(req.url ?? '').slice(1)]
    if (!handler) return answer(404, { Err: `floor: ${req.url} not implemented` })
    const text = Buffer.concat(chunks).toString()
    Promise.resolve()
      .then(() => handler(text === '' ? {} : (JSON.parse(text) as Body)))
      .then(
        (value) => answer(200, value),
        (error: unknown) => answer(200, { Err: `floor: ${(error as Error).message}` })
      )
  })
}).listen(socket)
