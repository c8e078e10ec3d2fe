import { loadConfig } from './config.ts'
import { messageOf } from './errors.ts'
import { createLogger } from './log.ts'
import { openUnixSocket } from './server.ts'
import { JsonFileStore } from './store/json-file-store.ts'

/**
 * Entry point. The state is read, then the socket listens, then the rest of the program loads
 * (src/start.ts, imported dynamically so the bundle evaluates hono, execa and the driver only
 * after the listen): Docker disables a plugin that does not accept a connection within ~12 s of
 * its start, and on a loaded host loading the driver took most of that (README, "The bundle and
 * its privileges"). The state comes first because a plugin that listens and then exits is
 * restarted by Docker over and over; one that cannot read its state must fail before listening.
 */
async function main(): Promise<void> {
  const config = loadConfig(process.argv.slice(2), process.env)
  const log = createLogger(config.logLevel)
  const store = new JsonFileStore(config.stateDir, log)
  const snapshot = await store.load()
  const socket = await openUnixSocket(config.socketPath)
  const { start } = await import('./start.ts')
  await start({ config, log, store, snapshot, socket })
}

main().catch((error: unknown) => {
  process.stderr.write(`level=error msg=${JSON.stringify('fatal: ' + messageOf(error))}\n`)
  process.exit(1)
})
