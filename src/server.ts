import { createAdaptorServer } from '@hono/node-server'
import type { Hono } from 'hono'
import { chmod, mkdir, unlink } from 'node:fs/promises'
import type { Server } from 'node:net'
import { dirname } from 'node:path'

/**
 * Serves the app on a unix socket. A stale socket from a killed process is removed first (Docker
 * recreates the plugin's socket directory, but a bare run may reuse it). The socket is 0600:
 * only root (dockerd) needs to connect.
 */
export async function listenUnix(app: Hono, socketPath: string): Promise<Server> {
  await mkdir(dirname(socketPath), { recursive: true })
  await unlink(socketPath).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error
  })
  const server = createAdaptorServer({ fetch: app.fetch }) as Server
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

export function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()))
}
