import { parseArgs } from 'node:util'
import * as v from 'valibot'
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
}

/** Inside the managed plugin: the socket Docker expects and the propagated state mount. */
export const PLUGIN_DEFAULTS = {
  socketPath: '/run/docker/plugins/ipvlan-lan.sock',
  stateDir: '/state',
}

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
    },
    strict: true,
  })
  const timeout = values['ip-timeout-ms'] ?? env['IP_TIMEOUT_MS'] ?? '10000'
  const result = v.safeParse(Schema, {
    socketPath: values.socket ?? env['SOCKET_PATH'] ?? PLUGIN_DEFAULTS.socketPath,
    stateDir: values['state-dir'] ?? env['STATE_DIR'] ?? PLUGIN_DEFAULTS.stateDir,
    logLevel: (values['log-level'] ?? env['LOG_LEVEL'] ?? 'info').toLowerCase(),
    ipTimeoutMs: /^[0-9]+$/.test(timeout) ? Number(timeout) : NaN,
    ipBin: values['ip-bin'] ?? env['IP_BIN'] ?? 'ip',
    netns: values.netns,
  })
  if (!result.success) throw new Error(result.issues.map((issue) => issue.message).join('; '))
  return result.output
}
