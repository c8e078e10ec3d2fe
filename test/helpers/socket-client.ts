import { request } from 'node:http'

export interface Reply {
  status: number
  body: Record<string, unknown>
}

/** POSTs to the plugin's unix socket the way dockerd does: no Content-Type, raw JSON text. */
export function call(socketPath: string, method: string, body?: unknown): Promise<Reply> {
  const text =
    body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body) + '\n'
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        // A connection per request, as a test must not race the server's keep-alive close: Node
        // 20's global agent reuses idle sockets, and one the server closes (5 s idle) at the moment
        // of reuse fails the write with EPIPE (seen with 100 requests in flight under emulation).
        agent: false,
        path: `/${method}`,
        method: 'POST',
        headers: {
          Accept: 'application/vnd.docker.plugins.v1.2+json',
          'Content-Length': Buffer.byteLength(text),
        },
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8')
          try {
            resolve({
              status: res.statusCode ?? 0,
              body: JSON.parse(raw) as Record<string, unknown>,
            })
          } catch {
            reject(
              new Error(
                `${method}: reply is not JSON (status ${res.statusCode}): ${raw.slice(0, 200)}`
              )
            )
          }
        })
      }
    )
    req.on('error', reject)
    req.end(text)
  })
}

/** Polls until the socket answers GetCapabilities. */
export async function waitForSocket(socketPath: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      await call(socketPath, 'NetworkDriver.GetCapabilities')
      return
    } catch (error) {
      if (Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
}
