import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { PLUGIN_DEFAULTS, loadConfig } from '../../src/config.ts'
import type { Config } from '../../src/config.ts'

/** The settings every test checks; optional extras (netns) are checked on their own. */
const core = (config: Config) => ({
  socketPath: config.socketPath,
  stateDir: config.stateDir,
  logLevel: config.logLevel,
  ipTimeoutMs: config.ipTimeoutMs,
  ipBin: config.ipBin,
})

describe('loadConfig', () => {
  test('defaults to the managed-plugin socket and state directory, info logs, 10 s ip timeout', () => {
    assert.deepEqual(core(loadConfig([], {})), {
      socketPath: PLUGIN_DEFAULTS.socketPath,
      stateDir: PLUGIN_DEFAULTS.stateDir,
      logLevel: 'info',
      ipTimeoutMs: 10000,
      ipBin: 'ip',
    })
    assert.equal(PLUGIN_DEFAULTS.socketPath, '/run/docker/plugins/ipvlan-lan.sock')
    assert.equal(PLUGIN_DEFAULTS.stateDir, '/state')
  })

  test('reads every setting from the environment', () => {
    const config = loadConfig([], {
      SOCKET_PATH: '/tmp/env.sock',
      STATE_DIR: '/tmp/env-state',
      LOG_LEVEL: 'debug',
      IP_TIMEOUT_MS: '2500',
      IP_BIN: '/sbin/ip',
    })
    assert.deepEqual(core(config), {
      socketPath: '/tmp/env.sock',
      stateDir: '/tmp/env-state',
      logLevel: 'debug',
      ipTimeoutMs: 2500,
      ipBin: '/sbin/ip',
    })
  })

  test('command-line flags override the environment', () => {
    const env = {
      SOCKET_PATH: '/tmp/env.sock',
      STATE_DIR: '/tmp/env-state',
      LOG_LEVEL: 'debug',
      IP_TIMEOUT_MS: '2500',
      IP_BIN: '/sbin/ip',
    }
    const config = loadConfig(
      [
        '--socket',
        '/tmp/flag.sock',
        '--state-dir',
        '/tmp/flag-state',
        '--log-level',
        'warn',
        '--ip-timeout-ms',
        '700',
        '--ip-bin',
        '/usr/bin/ip',
      ],
      env
    )
    assert.deepEqual(core(config), {
      socketPath: '/tmp/flag.sock',
      stateDir: '/tmp/flag-state',
      logLevel: 'warn',
      ipTimeoutMs: 700,
      ipBin: '/usr/bin/ip',
    })
  })

  test('no --netns means the current namespace; --netns names another', () => {
    assert.equal(loadConfig([], {}).netns, undefined)
    assert.equal(loadConfig(['--netns', 'lab-1'], {}).netns, 'lab-1')
  })

  test('an invalid --netns is rejected, naming the flag', () => {
    assert.throws(() => loadConfig(['--netns', '../etc'], {}), /--netns: expected a namespace name/)
  })

  test('the log level is case-insensitive', () => {
    assert.equal(loadConfig([], { LOG_LEVEL: 'WARN' }).logLevel, 'warn')
  })

  for (const level of ['loud', 'trace', '']) {
    test(`LOG_LEVEL ${JSON.stringify(level)} is rejected, naming the setting and the levels`, () => {
      assert.throws(
        () => loadConfig([], { LOG_LEVEL: level }),
        /LOG_LEVEL \/ --log-level: expected one of debug, info, warn, error/
      )
    })
  }

  test('--log-level verbose is rejected, naming the setting', () => {
    assert.throws(() => loadConfig(['--log-level', 'verbose'], {}), /--log-level/)
  })

  for (const [value, message] of [
    ['50', /IP_TIMEOUT_MS: expected at least 100/],
    ['99', /expected at least 100/],
    ['600001', /IP_TIMEOUT_MS: expected at most 600000/],
  ] as const) {
    test(`IP_TIMEOUT_MS ${value} is rejected, naming the setting and the bound`, () => {
      assert.throws(() => loadConfig([], { IP_TIMEOUT_MS: value }), /--ip-timeout-ms/)
      assert.throws(() => loadConfig([], { IP_TIMEOUT_MS: value }), message)
    })
  }

  test('the timeout bounds 100 and 600000 are accepted', () => {
    assert.equal(loadConfig(['--ip-timeout-ms', '100'], {}).ipTimeoutMs, 100)
    assert.equal(loadConfig(['--ip-timeout-ms', '600000'], {}).ipTimeoutMs, 600000)
  })

  for (const value of ['abc', '5s', '1.5', '1e4', '-200', '']) {
    test(
      `a non-numeric IP_TIMEOUT_MS ${JSON.stringify(value)} is rejected, naming the setting`,
      {},
      () => {
        assert.throws(() => loadConfig([], { IP_TIMEOUT_MS: value }), /IP_TIMEOUT_MS/)
      }
    )
  }

  test('a non-numeric --ip-timeout-ms is rejected', () => {
    assert.throws(() => loadConfig(['--ip-timeout-ms', 'soon'], {}))
  })

  test('an empty --socket or --state-dir is rejected, naming the flag', () => {
    assert.throws(() => loadConfig(['--socket', ''], {}), /--socket: expected a path/)
    assert.throws(() => loadConfig(['--state-dir', ''], {}), /--state-dir: expected a directory/)
  })

  test('an empty IP_BIN is rejected, naming the setting', {}, () => {
    assert.throws(() => loadConfig([], { IP_BIN: '' }), /IP_BIN|--ip-bin/)
  })

  test('an unknown flag is rejected', () => {
    assert.throws(() => loadConfig(['--sockett', '/x'], {}), /--sockett/)
  })
})
