import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { loadConfig } from '../../src/config.ts'

/** The etcd TLS and authentication settings (src/etcd-access-config.ts) through loadConfig. */
const HTTPS = 'https://10.0.0.2:2379,https://10.0.0.3:2379'
const DIR = '/etc/ipvlan-lan/etcd'
const TLS = {
  ETCD_ENDPOINTS: HTTPS,
  ETCD_CACERT: `${DIR}/ca.pem`,
  ETCD_CERT: `${DIR}/client.pem`,
  ETCD_KEY: `${DIR}/client.key`,
}
const AUTH = { ETCD_ENDPOINTS: HTTPS, ETCD_USER: 'ipam', ETCD_PASSWORD: 's3cret:with spaces' }
/** What the plugin's config.json sets when the operator sets nothing. */
const PLUGIN_DEFAULTS = {
  ETCD_ENDPOINTS: '',
  ETCD_CACERT: '',
  ETCD_CERT: '',
  ETCD_KEY: '',
  ETCD_USER: '',
  ETCD_PASSWORD: '',
}

const load = (env: Record<string, string>, argv: string[] = []) => loadConfig(argv, env)

describe('etcd TLS and authentication settings', () => {
  test('none set (the plugin defaults, empty): no TLS files, no authentication', () => {
    for (const env of [{}, PLUGIN_DEFAULTS]) {
      const { etcdAccess } = load(env)
      assert.deepEqual(etcdAccess, { tlsFiles: {}, auth: undefined })
    }
  })

  test('the CA, the client certificate and key, a user and password, from the environment', () => {
    const config = load({ ...PLUGIN_DEFAULTS, ...TLS, ...AUTH })
    assert.deepEqual(config.etcdAccess, {
      tlsFiles: { cacert: `${DIR}/ca.pem`, cert: `${DIR}/client.pem`, key: `${DIR}/client.key` },
      auth: { user: 'ipam', password: 's3cret:with spaces' },
    })
  })

  test('each part alone: a CA only (server check, no client certificate); a client pair only; auth over http', () => {
    assert.deepEqual(load({ ETCD_ENDPOINTS: HTTPS, ETCD_CACERT: '/ca.pem' }).etcdAccess.tlsFiles, {
      cacert: '/ca.pem',
    })
    const pair = { ETCD_ENDPOINTS: HTTPS, ETCD_CERT: '/c.pem', ETCD_KEY: '/c.key' }
    assert.deepEqual(load(pair).etcdAccess.tlsFiles, { cert: '/c.pem', key: '/c.key' })
    // etcd allows authentication without TLS; the README says the password then travels in clear.
    const plain = { ...AUTH, ETCD_ENDPOINTS: 'http://10.0.0.2:2379' }
    assert.deepEqual(load(plain).etcdAccess.auth, { user: 'ipam', password: AUTH.ETCD_PASSWORD })
  })

  test('flags override the environment; the password has no flag (ps would show it)', () => {
    const config = load({ ...TLS, ...AUTH }, [
      '--etcd-cacert',
      '/other/ca.pem',
      '--etcd-cert',
      '/other/c.pem',
      '--etcd-key',
      '/other/c.key',
      '--etcd-user',
      'node-a',
    ])
    assert.deepEqual(config.etcdAccess, {
      tlsFiles: { cacert: '/other/ca.pem', cert: '/other/c.pem', key: '/other/c.key' },
      auth: { user: 'node-a', password: AUTH.ETCD_PASSWORD },
    })
    assert.throws(() => load(AUTH, ['--etcd-password', 'x']), /Unknown option '--etcd-password'/)
  })

  for (const name of ['ETCD_CACERT', 'ETCD_CERT', 'ETCD_KEY'] as const)
    for (const value of ['ca.pem', './certs/x.pem', 'etc/ipvlan-lan/etcd/x.pem', '/a\0b'])
      test(`${name} ${JSON.stringify(value)}: not an absolute path, an error naming the setting`, () => {
        const flag = `--${name.toLowerCase().replace('_', '-')}`
        assert.throws(
          () => load({ ...TLS, [name]: value }),
          (error: Error) => {
            assert.equal(
              error.message,
              `${flag} / ${name}: expected an absolute path (in the plugin, a file under ` +
                `/etc/ipvlan-lan/etcd, the "etcd" mount), got ${JSON.stringify(value)}`
            )
            return true
          }
        )
      })

  test('a client certificate without its key, or a key without its certificate: an error naming both', () => {
    assert.throws(
      () => load({ ...TLS, ETCD_KEY: '' }),
      /^Error: ETCD_CERT and ETCD_KEY: expected both \(the client certificate and its private key\) or neither; ETCD_KEY is not set$/
    )
    assert.throws(
      () => load({ ETCD_ENDPOINTS: HTTPS, ETCD_KEY: '/k.pem' }),
      /ETCD_CERT and ETCD_KEY: expected both .*; ETCD_CERT is not set$/
    )
  })

  test('TLS files without endpoints: an error naming the TLS settings set and ETCD_ENDPOINTS', () => {
    assert.throws(
      () => load({ ...TLS, ETCD_ENDPOINTS: '' }),
      /^Error: ETCD_CACERT, ETCD_CERT, ETCD_KEY: set, but ETCD_ENDPOINTS is empty/
    )
    assert.throws(
      () => load({ ETCD_CACERT: '/ca.pem' }),
      /^Error: ETCD_CACERT: set, but ETCD_ENDPOINTS is empty/
    )
  })

  test('TLS files with an http:// endpoint: an error naming the settings and the endpoint', () => {
    const mixed = 'https://10.0.0.2:2379,http://10.0.0.3:2379'
    assert.throws(
      () => load({ ...TLS, ETCD_ENDPOINTS: mixed }),
      /^Error: ETCD_CACERT, ETCD_CERT, ETCD_KEY: set, so every ETCD_ENDPOINTS entry must be https:\/\/; not: http:\/\/10\.0\.0\.3:2379$/
    )
    assert.throws(
      () => load({ ETCD_ENDPOINTS: 'http://10.0.0.2:2379', ETCD_CERT: '/c', ETCD_KEY: '/k' }),
      /^Error: ETCD_CERT, ETCD_KEY: set, so every ETCD_ENDPOINTS entry must be https:\/\//
    )
    // Control: https endpoints without any TLS file are fine (a certificate Node already trusts).
    assert.deepEqual(load({ ETCD_ENDPOINTS: HTTPS }).etcdAccess.tlsFiles, {})
  })

  test('a user without a password, or a password without a user: an error naming the missing one', () => {
    assert.throws(
      () => load({ ...AUTH, ETCD_PASSWORD: '' }),
      /^Error: ETCD_PASSWORD: expected the password of etcd user "ipam"$/
    )
    assert.throws(
      () => load({ ...AUTH, ETCD_USER: '' }),
      (error: Error) => {
        assert.equal(
          error.message,
          'ETCD_USER: expected the etcd user whose password ETCD_PASSWORD is'
        )
        assert.ok(!error.message.includes(AUTH.ETCD_PASSWORD), 'the password is never shown')
        return true
      }
    )
  })

  for (const user of ['ip am', 'node:a', 'x'.repeat(129), 'é', 'a\tb'])
    test(`ETCD_USER ${JSON.stringify(user.slice(0, 20))}: rejected naming the setting and the rule`, () => {
      assert.throws(
        () => load({ ...AUTH, ETCD_USER: user }),
        /^Error: --etcd-user \/ ETCD_USER: expected an etcd user name of 1 to 128 printable ASCII characters without spaces or ":", got "/
      )
    })

  for (const [what, password] of [
    ['a newline', 'pass\nword'],
    ['a NUL', 'pass\0word'],
    ['1025 characters', 'p'.repeat(1025)],
  ] as const)
    test(`ETCD_PASSWORD with ${what}: rejected naming the setting, never showing the value`, () => {
      assert.throws(
        () => load({ ...AUTH, ETCD_PASSWORD: password }),
        (error: Error) => {
          assert.equal(
            error.message,
            'ETCD_PASSWORD: expected 1 to 1024 characters without control characters ' +
              '(the value is not shown)'
          )
          return true
        }
      )
    })

  test('a user and password without endpoints: an error naming the settings', () => {
    assert.throws(
      () => load({ ...AUTH, ETCD_ENDPOINTS: '' }),
      /^Error: ETCD_USER, ETCD_PASSWORD: set, but ETCD_ENDPOINTS is empty/
    )
  })

  test('the URL-credentials error points at ETCD_USER and ETCD_PASSWORD', () => {
    assert.throws(
      () => load({ ETCD_ENDPOINTS: 'https://root:pw@etcd:2379' }),
      /credentials in the URL are not supported \(set ETCD_USER and ETCD_PASSWORD\)/
    )
  })
})
