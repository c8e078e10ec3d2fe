// Sequential no-op requests straight to a unix socket, keep-alive, as dockerd sends them (bench/socket-latency.sh).
import { Agent } from 'node:http'
import { post } from './lib/socket-post.mjs'
const sock = process.argv[2]
const agent = new Agent({ keepAlive: true, maxSockets: 1 })
const body = JSON.stringify({ NetworkID: 'a'.repeat(64), EndpointID: 'b'.repeat(64) })
const times = []
for (let i = 0; i < 300; i++) {
  const { ms, status, text } = await post(
    agent,
    sock,
    i % 2 ? '/NetworkDriver.Leave' : '/NetworkDriver.RevokeExternalConnectivity',
    body
  )
  if (status !== 200) throw new Error(`${status} ${text}`)
  times.push(ms)
  if (i % 10 === 9) await new Promise((r) => setTimeout(r, 50)) // idle gaps, as between containers
}
const q = (a, p) => [...a].sort((x, y) => x - y)[Math.floor(p * (a.length - 1))]
console.log(
  `n=${times.length} first10 median=${q(times.slice(0, 10), 0.5).toFixed(2)} ms; rest median=${q(times.slice(10), 0.5).toFixed(2)} p90=${q(times.slice(10), 0.9).toFixed(2)} ms`
)
agent.destroy()
