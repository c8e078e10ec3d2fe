// The plugin's own CPU per container lifecycle, without Docker (a diagnostic, not a benchmark):
// sends the seven requests Docker 28 sends for one `docker run` + `docker rm` (bodies as recorded
// in test/fixtures/requests), N times one after the other, to a plugin serving SOCKET, and prints
// the CPU that PID and its children (the resident `ip`) used per lifecycle.
//   node bench/replay-lifecycle.mjs SOCKET PID PARENT [N]
// PARENT: an existing link for the network's parent. Run by bench/replay-lifecycle.sh in the lab.
import { readFileSync, readdirSync } from 'node:fs'
import { Agent } from 'node:http'
import { post as send } from './lib/socket-post.mjs'

const [sock, pid, parent, count = '200'] = process.argv.slice(2)
if (!sock || !pid || !parent) throw new Error('usage: replay-lifecycle.mjs SOCKET PID PARENT [N]')
const agent = new Agent({ keepAlive: true, maxSockets: 1 })
/** Round-trip milliseconds per request path, after the warm-up. */
const latency = new Map()
let measuring = false
/** A request that must succeed; its round trip is recorded while measuring. */
const post = async (path, body) => {
  const { ms, status, text } = await send(agent, sock, path, JSON.stringify(body))
  const parsed = JSON.parse(text)
  if (status !== 200 || parsed.Err) throw new Error(`${path}: ${status} ${text}`)
  const name = path.replace('/NetworkDriver.', '')
  if (measuring) latency.set(name, [...(latency.get(name) ?? []), ms])
  return parsed
}

const ticks = (p) => {
  const fields = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ')
  return Number(fields[11]) + Number(fields[12]) // utime + stime
}
/** Clock ticks (10 ms) of PID and of its live children (the resident `ip`). */
const cpu = () => {
  let children = 0
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const listed = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim()
    for (const child of listed ? listed.split(' ') : []) children += ticks(child)
  }
  return { own: ticks(pid), children }
}

const hex = (i, tag) => (tag + i.toString(16)).padStart(64, '0')
const NetworkID = hex(1, 'aa')
const generic = 'com.docker.network.generic'
const ports = { 'com.docker.network.endpoint.exposedports': [], 'com.docker.network.portmap': [] }
await post('/NetworkDriver.CreateNetwork', {
  NetworkID,
  Options: {
    'com.docker.network.enable_ipv4': true,
    'com.docker.network.enable_ipv6': false,
    [generic]: { parent },
  },
  IPv4Data: [{ AddressSpace: 'LocalDefault', Gateway: '192.168.98.1/24', Pool: '192.168.98.0/24' }],
  IPv6Data: [],
})
const lifecycle = async (i) => {
  const EndpointID = hex(i, 'ee')
  const ids = { NetworkID, EndpointID }
  await post('/NetworkDriver.CreateEndpoint', {
    ...ids,
    Interface: { Address: `192.168.98.${2 + (i % 200)}/24`, AddressIPv6: '', MacAddress: '' },
    Options: ports,
  })
  // Docker creates the container's namespace between the two (GAP_MS, default 0).
  if (gap > 0) await new Promise((r) => setTimeout(r, gap))
  await post('/NetworkDriver.Join', { ...ids, SandboxKey: '/run/docker/netns/0', Options: ports })
  await post('/NetworkDriver.ProgramExternalConnectivity', {
    ...ids,
    Options: { 'com.docker.network.driver.private.no_proxy_6to4': false, ...ports },
  })
  await post('/NetworkDriver.EndpointOperInfo', ids)
  await post('/NetworkDriver.RevokeExternalConnectivity', ids)
  await post('/NetworkDriver.Leave', ids)
  await post('/NetworkDriver.DeleteEndpoint', ids)
}
const n = Number(count)
const gap = Number(process.env.GAP_MS ?? 0)
for (let i = 0; i < 20; i++) await lifecycle(i) // warm-up
await new Promise((r) => setTimeout(r, 1000))
measuring = true
const c0 = cpu()
const t0 = performance.now()
for (let i = 20; i < 20 + n; i++) await lifecycle(i)
const wall = performance.now() - t0
await new Promise((r) => setTimeout(r, 1000)) // the link deletions after the answers
const c1 = cpu()
measuring = false
await post('/NetworkDriver.DeleteNetwork', { NetworkID })
const per = (ticks) => ((ticks * 10) / n).toFixed(1)
console.log(
  `n=${n} per lifecycle: node CPU ${per(c1.own - c0.own)} ms, its children (ip) ${per(c1.children - c0.children)} ms, wall ${(wall / n).toFixed(1)} ms`
)
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]
console.log(
  `  median round trip ms: ${[...latency].map(([name, times]) => `${name} ${median(times).toFixed(1)}`).join(', ')}`
)
agent.destroy()
