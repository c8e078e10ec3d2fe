// One POST of `text` to `path` on a unix socket through `agent` (keep-alive, as dockerd's client):
// resolves with the round trip's milliseconds, the status and the answer's text. Shared by the lab
// diagnostics bench/socket-latency.mjs and bench/replay-lifecycle.mjs.
import { request } from 'node:http'

export const post = (agent, socketPath, path, text) =>
  new Promise((resolve, reject) => {
    const started = performance.now()
    const req = request(
      {
        socketPath,
        path,
        method: 'POST',
        agent,
        headers: { 'content-length': Buffer.byteLength(text) },
      },
      (res) => {
        let answer = ''
        res.on('data', (chunk) => (answer += chunk))
        res.on('end', () =>
          resolve({ ms: performance.now() - started, status: res.statusCode, text: answer })
        )
      }
    )
    req.on('error', reject)
    req.end(text)
  })
