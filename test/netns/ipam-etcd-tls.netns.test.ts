import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { Ipam } from '../../src/driver/ipam/ipam.ts'
import type { SubnetKey } from '../../src/driver/ports/ipam-store.ts'
import { createLogger, silentLogger } from '../../src/log.ts'
import { readEtcdTls } from '../../src/store/etcd-tls.ts'
import type { EtcdTls } from '../../src/store/etcd-transport.ts'
import { IpamEtcdStore } from '../../src/store/ipam-etcd-store.ts'
import type { IpamEtcdStoreOptions } from '../../src/store/ipam-etcd-store.ts'
import { makeEtcdPki } from '../helpers/etcd-certs.ts'
import type { EtcdPki } from '../helpers/etcd-certs.ts'
import { etcdMissing, freePort, startEtcd } from '../helpers/etcd-process.ts'
import type { EtcdOptions, EtcdPlace, EtcdProcess } from '../helpers/etcd-process.ts'
import { createNetns, rootSkipReason } from '../helpers/netns.ts'
import { pluginEntry, REPO, startPlugin } from '../helpers/plugin-process.ts'
import type { PluginProcess } from '../helpers/plugin-process.ts'
import { call } from '../helpers/socket-client.ts'

/**
 * The etcd IPAM backend against a real etcd (Debian's etcd-server, 3.4) serving https only, with
 * --client-cert-auth, then with authentication enabled: a CA, server and client certificates made
 * with openssl in a temp directory; `simple` tokens with a 2 s TTL, so a token can expire and be
 * lost in a restart within the test. A missing etcd or openssl FAILS the file (scripts/deps.sh).
 */
const missing = etcdMissing()
const SUBNET = '10.77.0.0/24'
const POOL = `lan,${SUBNET}`
const KEY: SubnetKey = { addressSpace: 'lan', subnet: SUBNET }
const PREFIX = '/ipvlan-lan-tls/'
const TIMEOUT_MS = 1000
const TOKEN_TTL_S = 2
const USER = 'ipam'
const PASSWORD = 'not:so secret'

const ask = (ipam: Ipam, address = ''): Promise<string> =>
  ipam.requestAddress({ poolId: POOL, address, options: new Map() })

async function elapsed(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now()
  await run()
  return performance.now() - started
}

/** A call to etcd's gateway with the test's client certificate (auth setup, before it is on). */
function etcdApi(url: string, pki: EtcdPki, path: string, body: object): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      url + path,
      {
        method: 'POST',
        ca: readFileSync(pki.ca),
        cert: readFileSync(pki.clientCert),
        key: readFileSync(pki.clientKey),
        timeout: 5000,
      },
      (res) => {
        let text = ''
        res.on('data', (chunk: Buffer) => (text += chunk.toString()))
        res.on('end', () =>
          res.statusCode === 200
            ? resolve(text)
            : reject(new Error(`${path}: HTTP ${res.statusCode}: ${text}`))
        )
      }
    )
    req.on('error', reject)
    req.end(JSON.stringify(body))
  })
}

const b64 = (text: string): string => Buffer.from(text).toString('base64')

test('a real etcd and openssl are installed (scripts/deps.sh installs etcd-server and openssl)', () => {
  assert.equal(missing, undefined, missing)
})

describe('the etcd IPAM backend over TLS and with etcd authentication, against a real etcd', () => {
  const base = mkdtempSync(join(tmpdir(), 'ipvlan-lan-etcd-tls-'))
  let pki: EtcdPki
  let place: EtcdPlace
  let options: EtcdOptions
  let etcd: EtcdProcess | undefined
  let clientTls: EtcdTls | undefined
  const url = (): string => etcd?.url ?? ''
  const store = (extra: Partial<IpamEtcdStoreOptions> = {}): IpamEtcdStore =>
    new IpamEtcdStore({
      endpoints: [url()],
      prefix: PREFIX,
      timeoutMs: TIMEOUT_MS,
      tls: clientTls,
      ...extra,
    })
  const host = (name: string, extra: Partial<IpamEtcdStoreOptions> = {}): Ipam =>
    new Ipam({ store: store(extra), host: name, log: silentLogger })
  const auth = { user: USER, password: PASSWORD }

  before(async () => {
    if (missing) throw new Error(missing)
    pki = makeEtcdPki(base)
    clientTls = await readEtcdTls({ cacert: pki.ca, cert: pki.clientCert, key: pki.clientKey })
    place = { dataDir: join(base, 'data'), clientPort: await freePort(), peerPort: 0 }
    place.peerPort = await freePort()
    options = {
      tls: {
        serverCert: pki.serverCert,
        serverKey: pki.serverKey,
        ca: pki.ca,
        clientCert: pki.clientCert,
        clientKey: pki.clientKey,
      },
      args: ['--auth-token=simple', `--auth-token-ttl=${TOKEN_TTL_S}`],
    }
    etcd = await startEtcd(place, 60_000, options)
  })
  after(async () => {
    await etcd?.kill()
    rmSync(base, { recursive: true, force: true })
  })

  test('over https with the private CA and a client certificate: two hosts, 40 concurrent requests, no address twice', async () => {
    assert.match(url(), /^https:\/\/127\.0\.0\.1:/)
    const [a, b] = [host('node-a'), host('node-b')]
    const got = await Promise.all(Array.from({ length: 40 }, (_, i) => ask(i % 2 ? b : a)))
    assert.equal(new Set(got).size, 40)
    assert.equal((await store().read(KEY)).allocations.length, 40, 'every address in etcd')
  })

  test('no client certificate, or one from another CA: refused at the handshake, naming ETCD_CERT and ETCD_KEY, at once', async () => {
    const ca = clientTls?.ca
    const stranger = {
      ca,
      cert: readFileSync(pki.strangerCert),
      key: readFileSync(pki.strangerKey),
    }
    for (const tls of [{ ca }, stranger]) {
      const ms = await elapsed(() =>
        assert.rejects(ask(host('node-x', { tls })), (error: Error) => {
          assert.match(
            error.message,
            new RegExp(
              `^etcd unreachable at ${url()} \\(TLS: etcd refused the handshake ` +
                '\\(.*alert bad certificate\\): check ETCD_CERT and ETCD_KEY '
            )
          )
          return true
        })
      )
      assert.ok(ms < TIMEOUT_MS, `the refusal took ${Math.round(ms)} ms`)
    }
  })

  test("the wrong CA, or none (Node's public roots): etcd's certificate not trusted, naming ETCD_CACERT, at once", async () => {
    const pair = { cert: clientTls?.cert, key: clientTls?.key }
    for (const tls of [{ ...pair, ca: readFileSync(pki.otherCa) }, pair]) {
      const ms = await elapsed(() =>
        assert.rejects(
          ask(host('node-x', { tls })),
          new RegExp(
            `^DriverError: etcd unreachable at ${url()} \\(TLS: etcd's certificate is not ` +
              'trusted: .*; check ETCD_CACERT\\)\\)$'
          )
        )
      )
      assert.ok(ms < TIMEOUT_MS, `the refusal took ${Math.round(ms)} ms`)
    }
  })

  test('authentication enabled (root, a role with readwrite on the prefix, a user): the right password allocates; the user cannot leave the prefix', async () => {
    const api = (path: string, body: object) => etcdApi(url(), pki, path, body)
    // etcdctl user add root; role add root; user grant-role root root (etcdctl auth enable does
    // the last two itself); then the plugin's user with a role on its prefix only.
    await api('/v3/auth/user/add', { name: 'root', password: 'root-password' })
    await api('/v3/auth/role/add', { name: 'root' })
    await api('/v3/auth/user/grant', { user: 'root', role: 'root' })
    await api('/v3/auth/user/add', { name: USER, password: PASSWORD })
    await api('/v3/auth/role/add', { name: 'ipvlan-lan' })
    await api('/v3/auth/role/grant', {
      name: 'ipvlan-lan',
      perm: { permType: 'READWRITE', key: b64(PREFIX), range_end: b64('/ipvlan-lan-tls0') },
    })
    await api('/v3/auth/user/grant', { user: USER, role: 'ipvlan-lan' })
    await api('/v3/auth/enable', {})

    const [a, b] = [host('node-a', { auth }), host('node-b', { auth })]
    const got = await Promise.all(Array.from({ length: 10 }, (_, i) => ask(i % 2 ? b : a)))
    assert.equal(new Set(got).size, 10)
    assert.equal((await store({ auth }).read(KEY)).allocations.length, 50)
    await assert.rejects(
      ask(host('node-a', { auth, prefix: '/elsewhere/' })),
      new RegExp(
        `^DriverError: etcd at ${url()} refused /v3/kv/range: HTTP 403: etcdserver: permission ` +
          `denied \\(etcd user "${USER}" needs a role with readwrite permission on the key ` +
          'prefix ETCD_PREFIX\\)$'
      )
    )
  })

  test('a wrong password: an error naming the user and the endpoint, never the password, within the timeout', async () => {
    const wrong = { user: USER, password: 'guessed:wrong' }
    const ms = await elapsed(() =>
      assert.rejects(ask(host('node-a', { auth: wrong })), (error: Error) => {
        assert.equal(
          error.message,
          `etcd at ${url()} refused etcd user "${USER}": HTTP 400: etcdserver: authentication ` +
            'failed, invalid user ID or password (check ETCD_USER and ETCD_PASSWORD)'
        )
        return true
      })
    )
    assert.ok(ms < TIMEOUT_MS * 2, `took ${Math.round(ms)} ms`)
  })

  test('no user set while etcd requires one: the error names ETCD_USER and ETCD_PASSWORD', async () => {
    await assert.rejects(
      ask(host('node-a')),
      /refused \/v3\/kv\/range: HTTP 403: etcdserver: permission denied \(etcd requires authentication: set ETCD_USER and ETCD_PASSWORD\)$/
    )
  })

  test('a client certificate with a Common Name: refused by the gateway once authentication is on, and the error says what to use', async () => {
    const tls = {
      ca: clientTls?.ca,
      cert: readFileSync(pki.namedCert),
      key: readFileSync(pki.namedKey),
    }
    await assert.rejects(
      ask(host('node-a', { tls, auth })),
      /refused \/v3\/auth\/authenticate: HTTP 400: CommonName of client sending a request against gateway will be ignored and not used as expected \(with authentication enabled, etcd's JSON gateway refuses a client certificate that has a Common Name: give ETCD_CERT one without/
    )
  })

  /** A host whose debug log is kept: the test sees that a token really was replaced. */
  const logged = () => {
    const lines: string[] = []
    const log = createLogger('debug', (_, line) => lines.push(line))
    const ipam = new Ipam({ store: store({ auth, log }), host: 'node-a', log: silentLogger })
    const rejections = () => lines.filter((l) => l.includes('etcd auth token rejected'))
    return { ipam, lines, rejections }
  }

  test(`a token expired (--auth-token-ttl ${TOKEN_TTL_S}): a new one is taken transparently`, async () => {
    const { ipam, lines, rejections } = logged()
    await ask(ipam)
    assert.deepEqual(rejections(), [])
    // etcd drops an unused simple token after its TTL (checked every second).
    await new Promise((resolve) => setTimeout(resolve, (TOKEN_TTL_S + 2) * 1000))
    await ask(ipam)
    assert.equal(rejections().length, 1, lines.join(''))
    assert.match(rejections()[0] ?? '', /HTTP 401: etcdserver: invalid auth token/)
    assert.ok(!lines.join('').includes(PASSWORD), 'the password is never logged')
  })

  test('etcd restarted (simple tokens live in memory): a new token is taken transparently, nothing lost', async () => {
    assert.ok(etcd)
    const { ipam, rejections } = logged()
    await ask(ipam)
    const before = (await store({ auth }).read(KEY)).allocations.map((a) => a.address).sort()
    // An Authenticate is a raft entry carrying the token's random part: killed before its backend
    // committed (every 100 ms) the index of a later write, etcd replays that entry at start and
    // makes the very same token again, valid for another TTL (4 of 8 runs here, and CI on
    // 2026-12-04). A second's wait lets the commit land, so the restart really loses the token.
    await new Promise((resolve) => setTimeout(resolve, 1000))
    await etcd.kill()
    etcd = await startEtcd(place, 60_000, options)
    await ask(ipam)
    assert.equal(rejections().length, 1, 'the token from before the restart was rejected')
    const now = (await store({ auth }).read(KEY)).allocations.map((a) => a.address)
    assert.equal(now.length, before.length + 1)
    for (const address of before) assert.ok(now.includes(address), `${address} kept`)
  })

  // The plugin manages a throw-away namespace (its start-up sweep must not touch the host's).
  const skip = rootSkipReason('host netns')
  test(
    'the plugin process with the TLS files and a user: activates without etcd, allocates over TLS as that user',
    { skip },
    async () => {
      const ns = createNetns()
      let plugin: PluginProcess | undefined
      try {
        plugin = await startPlugin({
          netns: ns.name,
          args: [
            ...['--etcd-endpoints', url(), '--etcd-prefix', PREFIX, '--host-id', 'node-p'],
            ...[
              '--etcd-cacert',
              pki.ca,
              '--etcd-cert',
              pki.clientCert,
              '--etcd-key',
              pki.clientKey,
            ],
            ...['--etcd-user', USER],
          ],
          env: { ETCD_PASSWORD: PASSWORD },
        })
        const activate = await call(plugin.socket, 'Plugin.Activate')
        assert.deepEqual(activate.body, { Implements: ['NetworkDriver', 'IpamDriver'] })
        const got = await call(plugin.socket, 'IpamDriver.RequestAddress', {
          PoolID: POOL,
          Address: '10.77.0.250',
          Options: {},
        })
        assert.deepEqual(got.body, { Address: '10.77.0.250/24', Data: {} })
        const entry = (await store({ auth }).read(KEY)).allocations.find(
          (x) => x.address === '10.77.0.250'
        )
        assert.deepEqual(
          entry?.holders.map((h) => h.host),
          ['node-p']
        )
        assert.ok(!plugin.output().includes(PASSWORD), 'the password is not in the log')
      } finally {
        await plugin?.stop('SIGKILL')
        ns.remove()
      }
    }
  )

  test('the plugin process with a missing ETCD_CACERT file: stops at start naming the setting and the path', async () => {
    const path = join(base, 'no-such-ca.pem')
    const child = spawn(
      process.execPath,
      [
        ...pluginEntry(),
        ...['--socket', join(base, 'never.sock'), '--state-dir', join(base, 'state')],
        ...['--etcd-endpoints', url(), '--etcd-cacert', path],
      ],
      { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] }
    )
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    assert.equal(code, 1, stderr)
    assert.match(stderr, new RegExp(`fatal: ETCD_CACERT: cannot read ${path}: no such file`))
  })
})
