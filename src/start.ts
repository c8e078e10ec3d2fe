import { getRequestListener } from '@hono/node-server'
import type { Config } from './config.ts'
import { IpvlanDriver } from './driver/driver.ts'
import { messageOf } from './errors.ts'
import { createApp } from './http/app.ts'
import { createIproute2 } from './link/iproute2.ts'
import { execaRunner } from './link/runner.ts'
import type { Logger } from './log.ts'
import { close } from './server.ts'
import type { PluginSocket } from './server.ts'
import type { StoreSnapshot } from './driver/ports/store.ts'
import type { JsonFileStore } from './store/json-file-store.ts'

/** What src/main.ts made before listening. */
export interface Started {
  config: Config
  log: Logger
  store: JsonFileStore
  snapshot: StoreSnapshot
  socket: PluginSocket
}

/**
 * The rest of the composition root, run once the socket listens: link layer -> driver (over the
 * state main.ts read) -> HTTP app, served on the socket main.ts opened.
 */
export async function start({ config, log, store, snapshot, socket }: Started): Promise<void> {
  let ipProcesses = 0
  const links = createIproute2({
    run: execaRunner({
      ipBin: config.ipBin,
      timeoutMs: config.ipTimeoutMs,
      onSpawn: () => ipProcesses++,
    }),
    timeoutMs: config.ipTimeoutMs,
    netns: config.netns,
  })
  const driver = await IpvlanDriver.open({ links, store, log }, snapshot)
  const app = createApp({
    driver,
    log,
    stats: () => ({ IpProcesses: ipProcesses, Store: store.stats }),
  })
  socket.serve(getRequestListener(app.fetch))
  log.info('listening', {
    socket: config.socketPath,
    stateDir: config.stateDir,
    logLevel: config.logLevel,
  })

  // After serving: a sweep must never delay Docker's requests.
  driver.reconcile().then(
    (report) => log.info('start-up reconciliation done', { removed: report.removed }),
    (error: unknown) => log.error('start-up reconciliation failed', { error: messageOf(error) })
  )

  const stop = (signal: string): void => {
    log.info('stopping', { signal })
    void close(socket.server).then(() => process.exit(0))
    setTimeout(() => process.exit(0), 2000).unref()
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}
