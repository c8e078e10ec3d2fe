import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { TestContext } from 'node:test'
import { createLogger } from '../../src/log.ts'
import { EtcdGateway } from '../../src/store/etcd-gateway.ts'
import type { EtcdGatewayOptions } from '../../src/store/etcd-gateway.ts'
import { readEtcdTls } from '../../src/store/etcd-tls.ts'
import type { EtcdTls } from '../../src/store/etcd-transport.ts'
import { FakeEtcdData, fakeAuth, startFakeEtcd } from '../fakes/fake-etcd.ts'
import type { FakeEtcd, FakeEtcdTls } from '../fakes/fake-etcd.ts'
import { makeEtcdPki } from '../helpers/etcd-certs.ts'
import type { EtcdPki } from '../helpers/etcd-certs.ts'

/**
 * The etcd client's authentication (token, re-authentication once, clear refusals) and TLS
 * (private CA, client certificate) against the fake gateway on a local port, and the start-up
 * reading of the TLS files. A real etcd: test/netns/ipam-etcd-tls.netns.test.ts.
 */
const PASSWORD = 'correct horse:battery'
const USER = { user: 'ipam', password: PASSWORD }

async function fake(t: TestContext, data?: FakeEtcdData, tls?: FakeEtcdTls): Promise<FakeEtcd> {
  const server = await startFakeEtcd(data, tls)
  server.auth = fakeAuth({ ipam: PASSWORD, other: 'x' })
  t.after(() => server.close())
  return server
}

function gateway(t: TestContext, options: Partial<EtcdGatewayOptions> & { endpoints: string[] }) {
  const client = new EtcdGateway({ timeoutMs: 2000, ...options })
  t.after(() => client.close())
  return client
}

const put = (client: EtcdGateway, key: string, value = 'v') =>
  client.txn({ key, modRevision: 0 }, { put: { key, value } })

/** Kv requests only (the authenticate ones are counted by `auth.issued`). */
const kvRequests = (etcd: FakeEtcd) => etcd.requests.filter((path) => path.startsWith('/v3/kv/'))

describe('etcd authentication', () => {
  test('one authentication, then its token on every request, however many run at once', async (t) => {
    const etcd = await fake(t)
    const client = gateway(t, { endpoints: [etcd.url], auth: USER })
    await Promise.all(Array.from({ length: 20 }, (_, i) => put(client, `/k/${i}`)))
    assert.equal(etcd.auth?.issued, 1, 'one authentication for 20 concurrent requests')
    assert.deepEqual(etcd.requests.slice(0, 1), ['/v3/auth/authenticate'])
    const kv = etcd.authorizations.filter((_, i) => etcd.requests[i]?.startsWith('/v3/kv/'))
    assert.equal(kv.length, 20)
    assert.ok(
      kv.every((token) => token === 'token-1'),
      'every request carries the token'
    )
    assert.equal((await client.range('/k/')).kvs.length, 20)
  })

  test('a token etcd no longer knows (expired, member restarted) is replaced once, transparently, and logged', async (t) => {
    const etcd = await fake(t)
    const lines: string[] = []
    const log = createLogger('debug', (_, line) => lines.push(line))
    const client = gateway(t, { endpoints: [etcd.url], auth: USER, log })
    await put(client, '/k/1')
    etcd.auth?.tokens.clear()
    // Many requests meet the dead token together: still one new authentication.
    await Promise.all(Array.from({ length: 10 }, (_, i) => put(client, `/k/r${i}`)))
    assert.equal(etcd.auth?.issued, 2)
    assert.equal((await client.range('/k/')).kvs.length, 11)
    const rejected = lines.filter((line) => line.includes('etcd auth token rejected'))
    assert.ok(rejected.length >= 1, 'the rejection is logged')
    assert.match(rejected[0] ?? '', /HTTP 401: etcdserver: invalid auth token/)
    assert.ok(!lines.join('').includes(PASSWORD), 'the password is never logged')
  })

  test('a token rejected again right after authenticating: one retry only, then an error naming the member and user', async (t) => {
    const etcd = await fake(t)
    if (etcd.auth) etcd.auth.keep = false
    const client = gateway(t, { endpoints: [etcd.url], auth: USER })
    await assert.rejects(put(client, '/k/1'), (error: Error) => {
      assert.equal(
        error.message,
        `etcd at ${etcd.url} rejected the token it had just given etcd user "ipam" ` +
          '(HTTP 401: etcdserver: invalid auth token); is its clock or --auth-token setting wrong?'
      )
      return true
    })
    assert.equal(etcd.auth?.issued, 2, 'authenticated twice, not in a loop')
    assert.equal(kvRequests(etcd).length, 2)
  })

  test('a wrong password: an error naming the user and the member, never the password; not retried elsewhere', async (t) => {
    const data = new FakeEtcdData()
    const [first, second] = [await fake(t, data), await fake(t, data)]
    const client = gateway(t, {
      endpoints: [first.url, second.url],
      auth: { user: 'ipam', password: 'wrong:password' },
    })
    for (let i = 0; i < 2; i++)
      await assert.rejects(put(client, '/k/1'), (error: Error) => {
        assert.equal(
          error.message,
          `etcd at ${first.url} refused etcd user "ipam": HTTP 400: etcdserver: authentication ` +
            'failed, invalid user ID or password (check ETCD_USER and ETCD_PASSWORD)'
        )
        assert.ok(!error.message.includes('wrong:password'))
        return true
      })
    assert.deepEqual(first.requests, ['/v3/auth/authenticate', '/v3/auth/authenticate'])
    assert.deepEqual(second.requests, [], 'the other member has the same users: not asked')
    assert.equal(kvRequests(first).length, 0)
  })

  test('a user set but authentication off in etcd: an error saying so and naming the settings', async (t) => {
    const etcd = await fake(t)
    etcd.auth = undefined
    const client = gateway(t, { endpoints: [etcd.url], auth: USER })
    await assert.rejects(
      client.range('/k/'),
      new RegExp(
        `^DriverError: etcd at ${etcd.url} has authentication disabled \\(HTTP 412: etcdserver: ` +
          'authentication is not enabled\\), but ETCD_USER is set \\("ipam"\\): enable it ' +
          '\\(etcdctl auth enable\\) or clear ETCD_USER and ETCD_PASSWORD$'
      )
    )
  })

  test('authentication on in etcd but no user set: the error names ETCD_USER and ETCD_PASSWORD', async (t) => {
    const etcd = await fake(t)
    const client = gateway(t, { endpoints: [etcd.url] })
    await assert.rejects(
      client.range('/k/'),
      /refused \/v3\/kv\/range: HTTP 400: etcdserver: user name is empty \(etcd requires authentication: set ETCD_USER and ETCD_PASSWORD\)$/
    )
    assert.deepEqual(etcd.authorizations, [''], 'no token sent without a user')
  })

  test('a member down: the next one is authenticated with on its own (tokens are per member)', async (t) => {
    const data = new FakeEtcdData()
    const [first, second] = [await fake(t, data), await fake(t, data)]
    const client = gateway(t, { endpoints: [first.url, second.url], auth: USER })
    await put(client, '/k/1')
    first.mode = 'hang'
    const short = gateway(t, { endpoints: [first.url, second.url], auth: USER, timeoutMs: 300 })
    await put(short, '/k/2')
    assert.equal(first.auth?.issued, 1)
    assert.equal(second.auth?.issued, 1, 'the second member gave its own token')
    assert.deepEqual(second.authorizations.slice(-1), ['token-1'])
    // The hanging member cost one timeout; the other, answering, is asked first with its token.
    await put(short, '/k/3')
    assert.equal(second.auth?.issued, 1)
    assert.equal((await short.range('/k/')).kvs.length, 3)
    assert.equal(kvRequests(first).length, 1, 'the hanging member was asked once only')
  })
})

describe('etcd over TLS', () => {
  let dir = ''
  let pki: EtcdPki
  let serverTls: FakeEtcdTls
  const files = async (...names: (keyof EtcdPki)[]) =>
    Promise.all(names.map((name) => readFile(pki[name])))
  const clientTls = async (ca: keyof EtcdPki = 'ca'): Promise<EtcdTls> => {
    const [caPem, cert, key] = await files(ca, 'clientCert', 'clientKey')
    return { ca: caPem, cert, key }
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ipvlan-lan-tls-'))
    pki = makeEtcdPki(dir)
    const [key, cert, ca] = await files('serverKey', 'serverCert', 'ca')
    serverTls = {
      key: key ?? Buffer.alloc(0),
      cert: cert ?? Buffer.alloc(0),
      ca: ca ?? Buffer.alloc(0),
    }
  })
  after(() => rm(dir, { recursive: true, force: true }))

  test('the private CA and a client certificate: requests go through', async (t) => {
    const etcd = await fake(t, undefined, serverTls)
    etcd.auth = undefined
    assert.match(etcd.url, /^https:/)
    const client = gateway(t, { endpoints: [etcd.url], tls: await clientTls() })
    await put(client, '/k/1')
    assert.equal((await client.range('/k/')).kvs.length, 1)
  })

  test('TLS and authentication together', async (t) => {
    const etcd = await fake(t, undefined, serverTls)
    const client = gateway(t, { endpoints: [etcd.url], tls: await clientTls(), auth: USER })
    await put(client, '/k/1')
    assert.equal(etcd.auth?.issued, 1)
  })

  test('the wrong CA: an error naming ETCD_CACERT, at once, and the request never reaches etcd', async (t) => {
    const etcd = await fake(t, undefined, serverTls)
    const client = gateway(t, { endpoints: [etcd.url], tls: await clientTls('otherCa') })
    const started = performance.now()
    await assert.rejects(client.range('/k/'), (error: Error) => {
      assert.match(
        error.message,
        new RegExp(
          `^etcd unreachable at ${etcd.url} \\(TLS: etcd's certificate is not trusted: .*; check ETCD_CACERT\\)\\)$`
        )
      )
      return true
    })
    assert.ok(performance.now() - started < 1500)
    assert.deepEqual(etcd.requests, [])
  })

  test('no client certificate where etcd requires one: an error naming ETCD_CERT and ETCD_KEY', async (t) => {
    const etcd = await fake(t, undefined, serverTls)
    const [ca] = await files('ca')
    const client = gateway(t, { endpoints: [etcd.url], tls: { ca } })
    await assert.rejects(
      client.range('/k/'),
      new RegExp(
        `^DriverError: etcd unreachable at ${etcd.url} \\(TLS: etcd refused the handshake ` +
          '\\(.*alert.*\\): check ETCD_CERT and ETCD_KEY'
      )
    )
    assert.deepEqual(etcd.requests, [])
  })

  test('an https:// endpoint where etcd speaks http: an error saying so', async (t) => {
    const etcd = await fake(t)
    const client = gateway(t, {
      endpoints: [etcd.url.replace('http:', 'https:')],
      tls: await clientTls(),
    })
    await assert.rejects(client.range('/k/'), /\(TLS: no TLS answer .*is this endpoint http:\/\//)
  })
})

describe('reading the TLS files at start', () => {
  let dir = ''
  let pki: EtcdPki
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ipvlan-lan-tlsfiles-'))
    pki = makeEtcdPki(dir)
  })
  after(() => rm(dir, { recursive: true, force: true }))

  test('none set: no TLS options; all set: their contents', async () => {
    assert.equal(await readEtcdTls({}), undefined)
    const tls = await readEtcdTls({ cacert: pki.ca, cert: pki.clientCert, key: pki.clientKey })
    assert.deepEqual(tls, {
      ca: await readFile(pki.ca),
      cert: await readFile(pki.clientCert),
      key: await readFile(pki.clientKey),
    })
  })

  test('a missing file: an error naming the setting, the path and how to mount the files', async () => {
    for (const [setting, paths] of [
      ['ETCD_CACERT', { cacert: join(dir, 'nope.pem') }],
      ['ETCD_CERT', { cert: join(dir, 'nope.pem'), key: pki.clientKey }],
      ['ETCD_KEY', { cert: pki.clientCert, key: join(dir, 'nope.pem') }],
      ['ETCD_CACERT', { cacert: join(pki.ca, 'under-a-file.pem') }],
    ] as const)
      await assert.rejects(readEtcdTls(paths), (error: Error) => {
        const path = Object.values(paths).find((p) => p.includes('nope') || p.includes('under'))
        assert.equal(
          error.message,
          `${setting}: cannot read ${path}: no such file (the files reach the plugin through ` +
            'its "etcd" mount: docker plugin set ipvlan-lan:latest etcd.source=HOST_DIR ' +
            '(plugin disabled), then the setting names /etc/ipvlan-lan/etcd/FILE)'
        )
        return true
      })
  })

  test('an unreadable file (a directory): an error naming the setting and the path', async () => {
    const sub = join(dir, 'a-directory')
    await mkdir(sub)
    await assert.rejects(
      readEtcdTls({ cacert: sub }),
      new RegExp(`^Error: ETCD_CACERT: cannot read ${sub}: EISDIR`)
    )
  })

  test('a CA file with no certificate, a key not of its certificate: errors naming the settings', async () => {
    const garbage = join(dir, 'garbage.pem')
    await writeFile(garbage, 'not a certificate\n')
    await assert.rejects(
      readEtcdTls({ cacert: garbage }),
      new RegExp(`^Error: ETCD_CACERT: ${garbage} holds no PEM certificate`)
    )
    await assert.rejects(
      readEtcdTls({ cert: pki.clientCert, key: pki.serverKey }),
      new RegExp(
        `^Error: ETCD_CERT / ETCD_KEY: ${pki.clientCert} and ${pki.serverKey} are not a PEM ` +
          'certificate and its private key \\(.*key values mismatch'
      )
    )
    // Control: the matching pair reads.
    assert.ok(await readEtcdTls({ cert: pki.clientCert, key: pki.clientKey }))
  })
})
