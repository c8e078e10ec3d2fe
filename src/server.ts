import { chmod, mkdir, unlink } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http'
import { dirname } from 'node:path'

/** Stands in for whatever dockerd puts in Host; only the path of a request matters. */
const HOST = 'plugin.localhost'

/** A listening socket whose request handler is attached later; requests wait for it. */
export interface PluginSocket {
  server: Server
  serve(listener: RequestListener): void
}

/**
 * Listens on a unix socket before the program has loaded its handler (Node's core only).
 * Docker gives a starting plugin ~12 s to accept a connection, then disables it (moby
 * plugin/manager_linux.go, pluginPostStart); under load, loading the driver takes several
 * seconds of that. So the socket comes first; requests that arrive before `serve` wait.
 *
 * dockerd's Host header cannot be relied on: 20.10 sends it empty and older engines send the
 * socket path (moby pkg/plugins/client.go), either of which @hono/node-server rejects with a 400
 * before the app sees the request. So it is replaced. A stale socket from a killed process is
 * removed first; the socket is 0600 (only root, dockerd, needs to connect).
 */
export async function openUnixSocket(socketPath: string): Promise<PluginSocket> {
  await mkdir(dirname(socketPath), { recursive: true })
  await unlink(socketPath).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error
  })
  let handler: RequestListener | undefined
  const waiting: [IncomingMessage, ServerResponse][] = []
  const server = createServer((req, res) => {
    req.headers.host = HOST
    if (handler) handler(req, res)
    else waiting.push([req, res])
  })
  const previous = process.umask(0o177)
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(socketPath, () => {
        server.off('error', reject)
        resolve()
      })
    })
  } finally {
    process.umask(previous)
  }
  await chmod(socketPath, 0o600)
  return {
    server,
    serve(listener) {
      handler = listener
      for (const [req, res] of waiting.splice(0)) listener(req, res)
    },
  }
}

export function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()))
}
