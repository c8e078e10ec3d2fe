import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { loadConfig } from './config.ts'
import { IpvlanDriver } from './driver/driver.ts'
import { Ipam } from './driver/ipam/ipam.ts'
import { HostLiveness } from './driver/ipam/liveness.ts'
import { HostReclaimer } from './driver/ipam/reclaim.ts'
import { IpamReconciler } from './driver/ipam/reconciler.ts'
import type { IpamReconcileReport } from './driver/ipam/reconciler.ts'
import { servedView } from './driver/ipam/served.ts'
import { messageOf } from './errors.ts'
import { createApp } from './http/app.ts'
import { mountIpamAdminRoutes } from './http/ipam-admin-routes.ts'
import { mountIpamRoutes } from './http/ipam-routes.ts'
import { createIproute2 } from './link/iproute2.ts'
import { ResidentIp } from './link/resident-ip.ts'
import { execaRunner } from './link/runner.ts'
import { createLogger } from './log.ts'
import type { Logger } from './log.ts'
import { close, listenUnix } from './server.ts'
import { readEtcdTls } from './store/etcd-tls.ts'
import { IpamEtcdStore } from './store/ipam-etcd-store.ts'
import { IpamLocalStore } from './store/ipam-local-store.ts'
import { JsonFileStore } from './store/json-file-store.ts'

/**
 * Composition root: config -> store -> link layer -> driver -> HTTP app -> unix socket; the IPAM
 * driver (its own state under <state>/ipam) is served by the same app.
 */
async function main(): Promise<void> {
  const config = loadConfig(process.argv.slice(2), process.env)
  const log = createLogger(config.logLevel)
  // Local files, read before listening: a missing one stops the plugin naming its setting.
  const etcdTls = await readEtcdTls(config.etcdAccess.tlsFiles)
  let ipProcesses = 0
  // The endpoint path's changes go to one long-lived ip; reads (start-up, reconcile) each start one.
  const resident = new ResidentIp({
    ipBin: config.ipBin,
    globalArgs: config.netns === undefined ? [] : ['-n', config.netns],
    timeoutMs: config.ipTimeoutMs,
    onSpawn: () => ipProcesses++,
  })
  const links = createIproute2({
    run: execaRunner({
      ipBin: config.ipBin,
      timeoutMs: config.ipTimeoutMs,
      onSpawn: () => ipProcesses++,
    }),
    batch: resident.run,
    timeoutMs: config.ipTimeoutMs,
    netns: config.netns,
  })
  const store = new JsonFileStore(config.stateDir, log)
  const driver = await IpvlanDriver.open({ links, store, log, hostId: config.hostId })
  const app = createApp({
    driver,
    log,
    stats: () => ({
      IpProcesses: ipProcesses,
      PendingLinkDeletes: driver.pendingLinkDeletes(),
      Store: store.stats,
    }),
  })
  // ETCD_ENDPOINTS set: the cluster backend, shared by every host on the LAN; otherwise this
  // host's own files. The etcd store contacts nothing until the first IPAM request, so neither
  // activation nor the network driver ever waits on etcd.
  const ipamStore =
    config.etcdEndpoints.length > 0
      ? new IpamEtcdStore({
          endpoints: config.etcdEndpoints,
          prefix: config.etcdPrefix,
          timeoutMs: config.etcdTimeoutMs,
          log,
          tls: etcdTls,
          auth: config.etcdAccess.auth,
        })
      : new IpamLocalStore(join(config.stateDir, 'ipam'), log)
  // HOST_ID, or the host name (config.ts): must differ between hosts sharing one etcd. The
  // heartbeat carries a random id per process, which tells a second process with the same HOST_ID.
  const timers = config.ipamTimers
  const liveness = new HostLiveness({
    store: ipamStore,
    host: config.hostId,
    instance: randomUUID(),
    everyMs: timers.heartbeatMs,
    log,
    now: Date.now,
  })
  const ipam = new Ipam({
    store: ipamStore,
    host: config.hostId,
    log,
    refusal: () => liveness.refusal(),
  })
  const reclaimer = new HostReclaimer({
    ipam,
    store: ipamStore,
    log,
    now: Date.now,
    graceMs: timers.reclaimAfterMs,
  })
  // On etcd, this host's embedded tables are still read (never written): the reconciler copies
  // its networks' gateways and aux addresses from them, off the request paths.
  const embedded =
    config.etcdEndpoints.length > 0
      ? new IpamLocalStore(join(config.stateDir, 'ipam'), log)
      : undefined
  const reconciler = new IpamReconciler({
    ipam,
    store: ipamStore,
    log,
    served: () => servedView(driver.networks(), driver.endpoints()),
    liveness,
    reclaimer,
    minAgeMs: timers.orphanAgeMs,
    monotonic: () => performance.now(),
    embedded,
  })
  mountIpamRoutes(app, { ipam, log })
  mountIpamAdminRoutes(app, { reclaimer, log })
  const server = await listenUnix(app, config.socketPath)
  log.info('listening', {
    socket: config.socketPath,
    stateDir: config.stateDir,
    logLevel: config.logLevel,
    hostId: config.hostId,
    ipamTimers: timers,
    ipam:
      config.etcdEndpoints.length > 0
        ? {
            backend: 'etcd',
            endpoints: config.etcdEndpoints,
            prefix: config.etcdPrefix,
            tls: config.etcdAccess.tlsFiles,
            user: config.etcdAccess.auth?.user,
          }
        : { backend: 'local' },
  })

  // After listening: Docker gives a plugin ~12 s to answer, and a sweep must never delay that.
  driver.reconcile().then(
    (report) => log.info('start-up reconciliation done', { removed: report.removed }),
    (error: unknown) => log.error('start-up reconciliation failed', { error: messageOf(error) })
  )

  // IPAM heartbeat and reconciliation: timers only, nothing awaits them, so activation and the
  // network driver never wait on the store. The first pass runs once the heartbeat proved that
  // HOST_ID is this process's alone, then every IPAM_RECONCILE_INTERVAL.
  const reconcileMs = timers.reconcileMs
  const pass = (): void => {
    reconciler.pass().then(
      (report) => logPass(log, report),
      (error: unknown) => log.warn('ipam reconciliation failed', { error: messageOf(error) })
    )
  }
  let firstPass = reconcileMs !== undefined
  const beat = (): void => {
    void liveness.beat().then((state) => {
      if (state !== 'verified' || !firstPass) return
      firstPass = false
      pass()
    })
  }
  beat()
  setInterval(beat, timers.heartbeatMs).unref()
  if (reconcileMs !== undefined) setInterval(pass, reconcileMs).unref()

  const stop = (signal: string): void => {
    log.info('stopping', { signal })
    // Queued link deletions are finished if they can be within the grace period below; any left
    // are swept at the next start.
    void close(server)
      .then(() => driver.drainLinkDeletes())
      .then(() => process.exit(0))
    setTimeout(() => process.exit(0), 2000).unref()
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}

function logPass(log: Logger, report: IpamReconcileReport): void {
  const { skipped, released, young, retaken, heldElsewhere, copied, failed } = report
  const { reservationsHeldElsewhere } = report
  const reclaimed = report.reclaims.flatMap((r) => r.released.map((x) => `${r.host}:${x.address}`))
  const fields = {
    skipped,
    released,
    young,
    retaken,
    heldElsewhere,
    copied,
    reservationsHeldElsewhere,
    failed,
    reclaimed,
  }
  const loud = [released, retaken, heldElsewhere, copied, reservationsHeldElsewhere, failed]
  const quiet = [...loud, reclaimed].every((l) => l.length === 0)
  if (quiet) log.debug('ipam reconciliation pass', fields)
  else log.info('ipam reconciliation pass', fields)
}

main().catch((error: unknown) => {
  process.stderr.write(`level=error msg=${JSON.stringify('fatal: ' + messageOf(error))}\n`)
  process.exit(1)
})
