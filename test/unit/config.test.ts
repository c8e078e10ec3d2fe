import assert from 'node:assert/strict'
import { hostname } from 'node:os'
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

  describe('etcd IPAM and host id', () => {
    test('defaults: no endpoints (the local IPAM backend), prefix /ipvlan-lan/, 3 s, the host name', () => {
      const config = loadConfig([], {})
      assert.deepEqual(config.etcdEndpoints, [])
      assert.equal(config.etcdPrefix, '/ipvlan-lan/')
      assert.equal(config.etcdTimeoutMs, 3000)
      assert.ok(hostname().length > 0)
      assert.equal(config.hostId, hostname())
    })

    test('the plugin sets every variable, empty when unset: empty endpoints and host id mean the defaults', () => {
      const config = loadConfig([], { ETCD_ENDPOINTS: ' ', HOST_ID: '' })
      assert.deepEqual(config.etcdEndpoints, [])
      assert.equal(config.hostId, hostname())
    })

    test('reads the etcd settings and the host id from the environment; flags override them', () => {
      const env = {
        ETCD_ENDPOINTS: 'http://10.0.0.2:2379, https://etcd.lan:2379/ ,http://[fd00::3]:2379',
        ETCD_PREFIX: '/site-a/ipvlan/',
        ETCD_TIMEOUT_MS: '1500',
        HOST_ID: 'rack1-node07',
      }
      const config = loadConfig([], env)
      assert.deepEqual(config.etcdEndpoints, [
        'http://10.0.0.2:2379',
        'https://etcd.lan:2379',
        'http://[fd00::3]:2379',
      ])
      assert.equal(config.etcdPrefix, '/site-a/ipvlan/')
      assert.equal(config.etcdTimeoutMs, 1500)
      assert.equal(config.hostId, 'rack1-node07')
      const flags = loadConfig(
        [
          '--etcd-endpoints',
          'http://127.0.0.1:2379',
          '--etcd-prefix',
          'p/',
          '--etcd-timeout-ms',
          '100',
          '--host-id',
          'h.1',
        ],
        env
      )
      assert.deepEqual(
        [flags.etcdEndpoints, flags.etcdPrefix, flags.etcdTimeoutMs, flags.hostId],
        [['http://127.0.0.1:2379'], 'p/', 100, 'h.1']
      )
    })

    for (const [value, message] of [
      [
        '10.0.0.2:2379',
        /ETCD_ENDPOINTS: "10.0.0.2:2379" is not a URL \(expected http:\/\/HOST:PORT\)/,
      ],
      ['etcd:2379', /ETCD_ENDPOINTS: "etcd:2379": expected an http:\/\/ or https:\/\/ URL/],
      ['etcd-1', /ETCD_ENDPOINTS: "etcd-1" is not a URL/],
      ['ftp://etcd:2379', /ETCD_ENDPOINTS: .*expected an http:\/\/ or https:\/\//],
      ['http://root:pw@etcd:2379', /ETCD_ENDPOINTS: .*credentials in the URL are not supported/],
      ['http://etcd:2379/v3', /ETCD_ENDPOINTS: .*expected no path/],
      ['http://etcd:2379,', /ETCD_ENDPOINTS: "" is not a URL/],
      ['http://etcd:2379,http://etcd:2379/', /ETCD_ENDPOINTS: http:\/\/etcd:2379 is listed twice/],
    ] as const) {
      test(`ETCD_ENDPOINTS ${JSON.stringify(value)} is rejected, naming the setting`, () => {
        assert.throws(() => loadConfig([], { ETCD_ENDPOINTS: value }), message)
        assert.throws(() => loadConfig([], { ETCD_ENDPOINTS: value }), /--etcd-endpoints/)
      })
    }

    for (const value of ['', '/ipvlan-lan', '/with space/', '/tab\t/']) {
      test(`ETCD_PREFIX ${JSON.stringify(value)} is rejected, naming the setting`, () => {
        assert.throws(
          () => loadConfig([], { ETCD_PREFIX: value }),
          /--etcd-prefix \/ ETCD_PREFIX: expected a key prefix .* ending in "\/"/
        )
      })
    }

    for (const [value, message] of [
      ['99', /ETCD_TIMEOUT_MS: expected at least 100/],
      ['60001', /ETCD_TIMEOUT_MS: expected at most 60000/],
      ['3s', /ETCD_TIMEOUT_MS: expected an integer/],
      ['', /ETCD_TIMEOUT_MS: expected an integer/],
    ] as const) {
      test(`ETCD_TIMEOUT_MS ${JSON.stringify(value)} is rejected, naming the setting`, () => {
        assert.throws(() => loadConfig([], { ETCD_TIMEOUT_MS: value }), message)
      })
    }

    for (const value of ['-node', 'node a', 'node/a', 'x'.repeat(254)]) {
      test(`HOST_ID ${JSON.stringify(value.slice(0, 20))} is rejected, naming the setting`, () => {
        assert.throws(() => loadConfig([], { HOST_ID: value }), /--host-id \/ HOST_ID: expected/)
      })
    }
  })
})
