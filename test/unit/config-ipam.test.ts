import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { loadConfig } from '../../src/config.ts'

const S = 1000
const M = 60 * S
const D = 24 * 60 * M

describe('IPAM timer settings (IPAM_HEARTBEAT_INTERVAL, IPAM_RECONCILE_INTERVAL, IPAM_ORPHAN_AGE, IPAM_RECLAIM_AFTER)', () => {
  test('defaults: beat every 30 s, reconcile every 5 min, orphans after 10 min, no automatic reclaim', () => {
    assert.deepEqual(loadConfig([], {}).ipamTimers, {
      heartbeatMs: 30 * S,
      reconcileMs: 5 * M,
      orphanAgeMs: 10 * M,
      reclaimAfterMs: undefined,
    })
  })

  test('empty values (config.json sets every variable) are the defaults', () => {
    const env = {
      IPAM_HEARTBEAT_INTERVAL: '',
      IPAM_RECONCILE_INTERVAL: '',
      IPAM_ORPHAN_AGE: '',
      IPAM_RECLAIM_AFTER: '',
    }
    assert.deepEqual(loadConfig([], env).ipamTimers, loadConfig([], {}).ipamTimers)
  })

  test('from the environment, with units; flags override it; "off" where allowed', () => {
    const env = {
      IPAM_HEARTBEAT_INTERVAL: '1m',
      IPAM_RECONCILE_INTERVAL: '2h',
      IPAM_ORPHAN_AGE: '1500ms',
      IPAM_RECLAIM_AFTER: '7d',
    }
    assert.deepEqual(loadConfig([], env).ipamTimers, {
      heartbeatMs: M,
      reconcileMs: 2 * 60 * M,
      orphanAgeMs: 1500,
      reclaimAfterMs: 7 * D,
    })
    const flags = [
      '--ipam-heartbeat-interval',
      '1s',
      '--ipam-reconcile-interval',
      'off',
      '--ipam-orphan-age',
      '2s',
      '--ipam-reclaim-after',
      'off',
    ]
    assert.deepEqual(loadConfig(flags, env).ipamTimers, {
      heartbeatMs: S,
      reconcileMs: undefined,
      orphanAgeMs: 2 * S,
      reclaimAfterMs: undefined,
    })
  })

  const rejected: [Record<string, string>, RegExp][] = [
    [
      { IPAM_HEARTBEAT_INTERVAL: '30' },
      /Error: --ipam-heartbeat-interval \/ IPAM_HEARTBEAT_INTERVAL: expected a duration such as 30s.*got "30"$/,
    ],
    [
      { IPAM_HEARTBEAT_INTERVAL: 'off' },
      /IPAM_HEARTBEAT_INTERVAL: expected a duration .*units ms, s, m, h, d\), from 1s to 1h, got "off"/,
    ],
    [{ IPAM_HEARTBEAT_INTERVAL: '999ms' }, /IPAM_HEARTBEAT_INTERVAL: .*got "999ms"/],
    [{ IPAM_HEARTBEAT_INTERVAL: '2h' }, /IPAM_HEARTBEAT_INTERVAL: .*got "2h"/],
    [
      { IPAM_RECONCILE_INTERVAL: '0' },
      /IPAM_RECONCILE_INTERVAL: expected a duration .* or "off", from 1s to 1d, got "0"/,
    ],
    [{ IPAM_RECONCILE_INTERVAL: '2d' }, /IPAM_RECONCILE_INTERVAL: .*got "2d"/],
    [{ IPAM_ORPHAN_AGE: '-5m' }, /IPAM_ORPHAN_AGE: expected a duration .*from 1s to 7d, got "-5m"/],
    [{ IPAM_ORPHAN_AGE: 'off' }, /IPAM_ORPHAN_AGE: .*got "off"/],
    [{ IPAM_ORPHAN_AGE: '8d' }, /IPAM_ORPHAN_AGE: .*got "8d"/],
    [
      { IPAM_RECLAIM_AFTER: '7 days' },
      /--ipam-reclaim-after \/ IPAM_RECLAIM_AFTER: expected a duration .* or "off".*got "7 days"/,
    ],
    [
      { IPAM_RECLAIM_AFTER: '4m' },
      /IPAM_RECLAIM_AFTER: expected at least 10 heartbeat intervals \(IPAM_HEARTBEAT_INTERVAL is 30s\), got "4m"/,
    ],
    [{ IPAM_RECLAIM_AFTER: '10s', IPAM_HEARTBEAT_INTERVAL: '1s' }, /^$/],
    [
      { IPAM_RECLAIM_AFTER: '7d', IPAM_RECONCILE_INTERVAL: 'off' },
      /IPAM_RECLAIM_AFTER: needs IPAM_RECONCILE_INTERVAL, which is off/,
    ],
  ]
  for (const [env, message] of rejected) {
    const accepted = message.source === '^$'
    test(`${JSON.stringify(env)} is ${accepted ? 'accepted (the shortest grace)' : 'rejected, naming the setting'}`, () => {
      if (accepted) assert.equal(loadConfig([], env).ipamTimers.reclaimAfterMs, 10 * S)
      else assert.throws(() => loadConfig([], env), message)
    })
  }
})
