import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before } from 'node:test'
import { IpamEtcdStore } from '../../src/store/ipam-etcd-store.ts'
import { freePort, startEtcd } from './etcd-process.ts'
import type { EtcdProcess } from './etcd-process.ts'
import { createNetns } from './netns.ts'
import { startPlugin } from './plugin-process.ts'
import type { PluginProcess } from './plugin-process.ts'

/**
 * Plugin processes (hosts) on one real etcd, for the netns tests: called inside a describe, it
 * starts etcd in a `before` hook of that suite and, in an `after` hook, kills every plugin it
 * started (SIGKILL), removes every namespace it made, kills etcd and removes its temp dir.
 */

export interface EtcdPlugins {
  /** This suite's temp dir (etcd's data is in `data`), removed after the suite. */
  base: string
  /** Every plugin process started, in order. */
  plugins: PluginProcess[]
  /** A client of the suite's etcd under its prefix. */
  store: () => IpamEtcdStore
  /** A throw-away network namespace, removed after the suite. */
  netns: () => { name: string; remove: () => void }
  /**
   * A plugin process with second-long IPAM timers (heartbeat and reconciliation every 1s, orphans
   * after `orphanAge`); with `hostId`, on the suite's etcd under that HOST_ID. `extra` flags last.
   */
  start: (options: {
    netns?: string | undefined
    stateDir?: string | undefined
    hostId?: string | undefined
    orphanAge: string
    extra?: string[]
  }) => Promise<PluginProcess>
}

export function etcdPlugins(options: {
  /** The etcd key prefix the plugins and `store` use. */
  prefix: string
  /** The temp dir's name prefix. */
  tmpName: string
  /** etcdMissing() of the test file: when set, the suite's `before` fails with it. */
  missing: string | undefined
}): EtcdPlugins {
  const { prefix, missing } = options
  const base = mkdtempSync(join(tmpdir(), options.tmpName))
  let etcd: EtcdProcess | undefined
  const namespaces: { remove: () => void }[] = []
  const plugins: PluginProcess[] = []

  before(async () => {
    if (missing) throw new Error(missing)
    etcd = await startEtcd({
      dataDir: join(base, 'data'),
      clientPort: await freePort(),
      peerPort: await freePort(),
    })
  })
  after(async () => {
    for (const plugin of plugins) await plugin.stop('SIGKILL')
    for (const ns of namespaces) ns.remove()
    await etcd?.kill()
    rmSync(base, { recursive: true, force: true })
  })

  return {
    base,
    plugins,
    store: () => new IpamEtcdStore({ endpoints: [etcd?.url ?? ''], prefix, timeoutMs: 2000 }),
    netns: () => {
      const ns = createNetns()
      namespaces.push(ns)
      return ns
    },
    start: async ({ netns, stateDir, hostId, orphanAge, extra = [] }) => {
      const plugin = await startPlugin({
        ...(netns ? { netns } : {}),
        ...(stateDir ? { stateDir } : {}),
        args: [
          ...(hostId
            ? ['--etcd-endpoints', etcd?.url ?? '', '--etcd-prefix', prefix, '--host-id', hostId]
            : []),
          '--ipam-heartbeat-interval',
          '1s',
          '--ipam-reconcile-interval',
          '1s',
          '--ipam-orphan-age',
          orphanAge,
          ...extra,
        ],
      })
      plugins.push(plugin)
      return plugin
    },
  }
}
