import { getRequestListener } from '@hono/node-server'
import type { Hono } from 'hono'
import { chmod, mkdir, unlink } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { dirname } from 'node:path'
import { MAX_BODY_BYTES, tooLarge } from './http/app.ts'
import { rememberBody } from './http/raw-body.ts'

/** Stands in for whatever dockerd puts in Host; only the path of a request matters. */
const HOST = 'plugin.localhost'

/**
 * Serves the app on a unix socket. dockerd's Host header cannot be relied on: 20.10 sends it
 * empty and older engines send the socket path (moby pkg/plugins/client.go), either of which
 * @hono/node-server rejects with a 400 before the app sees the request. So it is replaced.
 * A stale socket from a killed process is removed first; the socket is 0600 (only root, dockerd,
 * needs to connect).
 */
export async function listenUnix(app: Hono, socketPath: string): Promise<Server> {
  await mkdir(dirname(socketPath), { recursive: true })
  await unlink(socketPath).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error
  })
  // The body is read here, whole and within the limit, before the app runs (raw-body.ts), so
  // node-server's clean-up of unread bodies has nothing to do.
  const listener = getRequestListener(app.fetch, { autoCleanupIncoming: false })
  const server = createServer((req, res) => {
    req.headers.host = HOST
    readLimited(req, MAX_BODY_BYTES).then(
      (text) => {
        if (text === undefined) return refuse(res)
        rememberBody(req, text)
        void listener(req, res)
      },
      () => res.destroy()
    )
  })
  // Idle keep-alive connections stay open until dockerd closes them. Node closes them after 5 s
  // by default, and dockerd's Go client can send its next request on a connection that is just
  // being closed ("connection reset by peer"); its retry then re-sends the request with the body
  // already consumed (moby pkg/plugins/client.go callWithRetry reuses the read `data`), so the
  // plugin gets an empty Join and the container start fails. Seen in the lab on Docker 20.10.24
  // with 30 containers started at once.
  server.keepAliveTimeout = 0
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
  return server
}

/** The body as text, or undefined once it is (or says it will be) over `limit` bytes. */
function readLimited(req: IncomingMessage, limit: number): Promise<string | undefined> {
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > limit) return Promise.resolve(undefined)
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        req.removeAllListeners('data')
        req.pause()
        resolve(undefined)
      } else chunks.push(chunk)
    })
    req.on('end', () => resolve(Buffer.concat(chunks, size).toString('utf8')))
    req.on('error', reject)
  })
}

/** A 413 as the app gives it; the connection is closed rather than the rest of the body read. */
function refuse(res: ServerResponse): void {
  res.writeHead(413, { 'content-type': 'application/json', connection: 'close' })
  res.end(JSON.stringify({ Err: tooLarge }))
}

export function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()))
}
