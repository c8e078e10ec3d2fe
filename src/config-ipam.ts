/**
 * The IPAM's timers (reconciliation, heartbeat, dead-host reclaim), read by config.ts. Durations
 * are written with a unit ("30s", "10m", "7d"); "off" turns a timer off where that is allowed.
 */
export interface IpamTimers {
  /** IPAM_HEARTBEAT_INTERVAL: how often this host writes that it is alive. */
  heartbeatMs: number
  /** IPAM_RECONCILE_INTERVAL: how often this host's allocations are reconciled; undefined: never. */
  reconcileMs: number | undefined
  /** IPAM_ORPHAN_AGE: how long an allocation is seen unused before reconciliation frees it. */
  orphanAgeMs: number
  /** IPAM_RECLAIM_AFTER: a silent host's addresses are reclaimed after this; undefined: never. */
  reclaimAfterMs: number | undefined
}

/** The command-line flags, as parseArgs options (config.ts spreads them into its own). */
export const IPAM_TIMER_FLAGS = {
  'ipam-heartbeat-interval': { type: 'string' },
  'ipam-reconcile-interval': { type: 'string' },
  'ipam-orphan-age': { type: 'string' },
  'ipam-reclaim-after': { type: 'string' },
} as const

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const
const SECOND = 1000
const DAY = UNIT_MS.d

export function parseIpamTimers(
  flags: Partial<Record<keyof typeof IPAM_TIMER_FLAGS, string | undefined>>,
  env: NodeJS.ProcessEnv
): IpamTimers {
  const read = (flag: keyof typeof IPAM_TIMER_FLAGS, name: string, fallback: string) => ({
    setting: `--${flag} / ${name}`,
    // config.json sets every variable, empty when the operator did not: empty is the default.
    text: flags[flag] || env[name] || fallback,
  })
  const heartbeatMs = duration(read('ipam-heartbeat-interval', 'IPAM_HEARTBEAT_INTERVAL', '30s'), {
    min: SECOND,
    max: 3_600_000,
  })
  const reconcileMs = optionalDuration(
    read('ipam-reconcile-interval', 'IPAM_RECONCILE_INTERVAL', '5m'),
    { min: SECOND, max: DAY }
  )
  const orphanAgeMs = duration(read('ipam-orphan-age', 'IPAM_ORPHAN_AGE', '10m'), {
    min: SECOND,
    max: 7 * DAY,
  })
  const reclaim = read('ipam-reclaim-after', 'IPAM_RECLAIM_AFTER', 'off')
  const reclaimAfterMs = optionalDuration(reclaim, { min: SECOND, max: 3650 * DAY })
  if (reclaimAfterMs !== undefined) {
    // Shorter, a host that is merely slow or briefly cut off would lose addresses in use.
    if (reclaimAfterMs < 10 * heartbeatMs)
      throw new Error(
        `${reclaim.setting}: expected at least 10 heartbeat intervals ` +
          `(IPAM_HEARTBEAT_INTERVAL is ${heartbeatMs / SECOND}s), got "${reclaim.text}"`
      )
    // The reclaim runs in the reconciliation pass.
    if (reconcileMs === undefined)
      throw new Error(
        `${reclaim.setting}: needs IPAM_RECONCILE_INTERVAL, which is off (reclaims run in the ` +
          'reconciliation pass)'
      )
  }
  return { heartbeatMs, reconcileMs, orphanAgeMs, reclaimAfterMs }
}

interface Setting {
  setting: string
  text: string
}

interface Limits {
  min: number
  max: number
}

/** "off", or a duration within the limits. */
function optionalDuration(input: Setting, limits: Limits): number | undefined {
  return input.text === 'off' ? undefined : duration(input, limits, ' or "off"')
}

function duration({ setting, text }: Setting, { min, max }: Limits, orOff = ''): number {
  const match = /^([0-9]{1,12})(ms|s|m|h|d)$/.exec(text)
  const ms = match ? Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS] : NaN
  if (ms >= min && ms <= max) return ms
  const top =
    max % DAY === 0
      ? `${max / DAY}d`
      : max % 3_600_000 === 0
        ? `${max / 3_600_000}h`
        : `${max / SECOND}s`
  throw new Error(
    `${setting}: expected a duration such as 30s, 10m, 2h or 7d (units ms, s, m, h, d)${orOff}, ` +
      `from ${min / SECOND}s to ${top}, got "${text}"`
  )
}
