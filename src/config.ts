import { hostname } from 'node:os'
import { parseArgs } from 'node:util'
import * as v from 'valibot'
import { ETCD_ACCESS_FLAGS, loadEtcdAccess } from './etcd-access-config.ts'
import type { EtcdAccess } from './etcd-access-config.ts'
import { IPAM_TIMER_FLAGS, parseIpamTimers } from './config-ipam.ts'
import type { IpamTimers } from './config-ipam.ts'
import { IFNAME_RULE, isValidIfname } from './ifname.ts'
import { LOG_LEVELS } from './log.ts'
import type { LogLevel } from './log.ts'

export interface Config {
  socketPath: string
  stateDir: string
  logLevel: LogLevel
  ipTimeoutMs: number
  ipBin: string
  /** Network namespace to manage instead of the current one (tests, benchmarks). */
  netns?: string | undefined
  /** etcd members (origins) holding the cluster's IPAM; none: the embedded single-host backend. */
  etcdEndpoints: string[]
  /** Prefix of every etcd key of this plugin, ending in "/". */
  etcdPrefix: string
  /** Per etcd request. */
  etcdTimeoutMs: number
  /** This host's name on its IPAM allocations: releases from other hosts leave them alone. */
  hostId: string
  /** etcd TLS files and user (etcd-access-config.ts). */
  etcdAccess: EtcdAccess
  /** Reconciliation, heartbeat and dead-host reclaim (config-ipam.ts). */
  ipamTimers: IpamTimers
}

/** Inside the managed plugin: the socket Docker expects and the propagated state mount. */
export const PLUGIN_DEFAULTS = {
  socketPath: '/run/docker/plugins/ipvlan-lan.sock',
  stateDir: '/state',
}

const ETCD_PREFIX_RULE = /^[\x21-\x7e]*\/$/
const HOST_ID_RULE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,252}$/

const Schema = v.object({
  socketPath: v.pipe(v.string(), v.minLength(1, '--socket: expected a path')),
  stateDir: v.pipe(v.string(), v.minLength(1, '--state-dir: expected a directory')),
  logLevel: v.picklist(
    LOG_LEVELS,
    `LOG_LEVEL / --log-level: expected one of ${LOG_LEVELS.join(', ')}`
  ),
  ipTimeoutMs: v.pipe(
    v.number('--ip-timeout-ms / IP_TIMEOUT_MS: expected an integer'),
    v.integer('--ip-timeout-ms / IP_TIMEOUT_MS: expected an integer'),
    v.minValue(100, '--ip-timeout-ms / IP_TIMEOUT_MS: expected at least 100'),
    v.maxValue(600_000, '--ip-timeout-ms / IP_TIMEOUT_MS: expected at most 600000')
  ),
  ipBin: v.pipe(v.string(), v.minLength(1, '--ip-bin / IP_BIN: expected a path')),
  netns: v.optional(
    v.pipe(
      v.string(),
      v.check(isValidIfname, `--netns: expected a namespace name of ${IFNAME_RULE}`)
    )
  ),
  etcdEndpoints: v.array(v.string()),
  etcdPrefix: v.pipe(
    v.string(),
    v.regex(
      ETCD_PREFIX_RULE,
      '--etcd-prefix / ETCD_PREFIX: expected a key prefix of printable ASCII without spaces, ' +
        'ending in "/" (e.g. /ipvlan-lan/)'
    )
  ),
  etcdTimeoutMs: v.pipe(
    v.number('--etcd-timeout-ms / ETCD_TIMEOUT_MS: expected an integer'),
    v.integer('--etcd-timeout-ms / ETCD_TIMEOUT_MS: expected an integer'),
    v.minValue(100, '--etcd-timeout-ms / ETCD_TIMEOUT_MS: expected at least 100'),
    v.maxValue(60_000, '--etcd-timeout-ms / ETCD_TIMEOUT_MS: expected at most 60000')
  ),
  hostId: v.pipe(
    v.string(),
    v.regex(
      HOST_ID_RULE,
      '--host-id / HOST_ID: expected 1 to 253 letters, digits, ".", "_", ":" or "-", ' +
        'starting with a letter or digit (empty: the host name)'
    )
  ),
})

/**
 * Command line first, then environment (the plugin's settable LOG_LEVEL), then defaults.
 * `node dist/main.js --socket PATH --state-dir DIR` runs the same program outside Docker.
 */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): Config {
  const { values } = parseArgs({
    args: argv,
    options: {
      socket: { type: 'string' },
      'state-dir': { type: 'string' },
      'log-level': { type: 'string' },
      'ip-timeout-ms': { type: 'string' },
      'ip-bin': { type: 'string' },
      netns: { type: 'string' },
      'etcd-endpoints': { type: 'string' },
      'etcd-prefix': { type: 'string' },
      'etcd-timeout-ms': { type: 'string' },
      'host-id': { type: 'string' },
      ...ETCD_ACCESS_FLAGS,
      ...IPAM_TIMER_FLAGS,
    },
    strict: true,
  })
  const timeout = values['ip-timeout-ms'] ?? env['IP_TIMEOUT_MS'] ?? '10000'
  const etcdTimeout = values['etcd-timeout-ms'] ?? env['ETCD_TIMEOUT_MS'] ?? '3000'
  // The plugin's config.json sets every variable, empty when not set by the operator.
  const hostId = values['host-id'] || env['HOST_ID'] || hostname()
  const result = v.safeParse(Schema, {
    socketPath: values.socket ?? env['SOCKET_PATH'] ?? PLUGIN_DEFAULTS.socketPath,
    stateDir: values['state-dir'] ?? env['STATE_DIR'] ?? PLUGIN_DEFAULTS.stateDir,
    logLevel: (values['log-level'] ?? env['LOG_LEVEL'] ?? 'info').toLowerCase(),
    ipTimeoutMs: /^[0-9]+$/.test(timeout) ? Number(timeout) : NaN,
    ipBin: values['ip-bin'] ?? env['IP_BIN'] ?? 'ip',
    netns: values.netns,
    etcdEndpoints: parseEndpoints(values['etcd-endpoints'] ?? env['ETCD_ENDPOINTS'] ?? ''),
    etcdPrefix: values['etcd-prefix'] ?? env['ETCD_PREFIX'] ?? '/ipvlan-lan/',
    etcdTimeoutMs: /^[0-9]+$/.test(etcdTimeout) ? Number(etcdTimeout) : NaN,
    hostId,
  })
  if (!result.success) throw new Error(result.issues.map((issue) => issue.message).join('; '))
  return {
    ...result.output,
    etcdAccess: loadEtcdAccess(values, env, result.output.etcdEndpoints),
    ipamTimers: parseIpamTimers(values, env),
  }
}

/**
 * "http://10.0.0.2:2379,http://10.0.0.3:2379" to origins; "" to none. Only scheme, host and
 * port: the client adds the /v3/ paths, and credentials in a URL would end up in logs (they are
 * ETCD_USER and ETCD_PASSWORD).
 */
function parseEndpoints(text: string): string[] {
  const setting = '--etcd-endpoints / ETCD_ENDPOINTS'
  if (text.trim() === '') return []
  const origins: string[] = []
  for (const item of text.split(',').map((part) => part.trim())) {
    let url: URL
    try {
      url = new URL(item)
    } catch {
      throw new Error(
        `${setting}: ${JSON.stringify(item)} is not a URL (expected http://HOST:PORT)`
      )
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new Error(`${setting}: ${JSON.stringify(item)}: expected an http:// or https:// URL`)
    if (url.username !== '' || url.password !== '')
      throw new Error(
        `${setting}: ${JSON.stringify(item)}: credentials in the URL are not supported ` +
          '(set ETCD_USER and ETCD_PASSWORD)'
      )
    if (url.pathname !== '/' || url.search !== '' || url.hash !== '')
      throw new Error(
        `${setting}: ${JSON.stringify(item)}: expected no path, only scheme, host and port`
      )
    if (origins.includes(url.origin)) throw new Error(`${setting}: ${url.origin} is listed twice`)
    origins.push(url.origin)
  }
  return origins
}
