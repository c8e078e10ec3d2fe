import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createServer as createTlsServer } from 'node:https'
import type { AddressInfo } from 'node:net'

/**
 * Just enough of etcd v3's JSON gateway for the etcd IPAM store: POST /v3/kv/range and
 * /v3/kv/txn (compare MOD / CREATE / VERSION with EQUAL; put, delete of one key, range), with
 * etcd's revisions and its JSON quirks (base64 keys and values, int64 as strings, false and empty
 * fields left out). Several servers may share one FakeEtcdData: members of one cluster.
 * Optionally /v3/auth/authenticate and tokens (each server its own, as etcd's `simple` tokens),
 * answered with etcd 3.4's statuses and messages as measured, and https with client certificates.
 */
interface Entry {
  value: Buffer
  create: number
  mod: number
  version: number
}

export class FakeEtcdData {
  revision = 1
  /** Keys as latin1 strings: their order is etcd's byte order. */
  private readonly entries = new Map<string, Entry>()

  /** Writes without any check, as an operator's etcdctl put would. */
  put(key: string, value: string): void {
    this.revision++
    this.write(Buffer.from(key, 'utf8').toString('latin1'), Buffer.from(value, 'utf8'))
  }

  get(key: string): { value: string; mod: number } | undefined {
    const entry = this.entries.get(Buffer.from(key, 'utf8').toString('latin1'))
    return entry && { value: entry.value.toString('utf8'), mod: entry.mod }
  }

  keys(): string[] {
    return [...this.entries.keys()].sort().map((k) => Buffer.from(k, 'latin1').toString('utf8'))
  }

  range(key: string, end: string | undefined): object[] {
    const hits = [...this.entries.entries()]
      .filter(([k]) => (end === undefined ? k === key : k >= key && (end === '\0' || k < end)))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return hits.map(([k, e]) => ({
      key: Buffer.from(k, 'latin1').toString('base64'),
      create_revision: String(e.create),
      mod_revision: String(e.mod),
      version: String(e.version),
      ...(e.value.length > 0 ? { value: e.value.toString('base64') } : {}),
    }))
  }

  compare(c: Record<string, unknown>): boolean {
    const entry = this.entries.get(latin1(c['key']))
    if (c['result'] !== 'EQUAL') throw new Error(`fake etcd: result ${String(c['result'])}`)
    const [field, actual] =
      c['target'] === 'MOD'
        ? ['mod_revision', entry?.mod ?? 0]
        : c['target'] === 'CREATE'
          ? ['create_revision', entry?.create ?? 0]
          : c['target'] === 'VERSION'
            ? ['version', entry?.version ?? 0]
            : ['?', NaN]
    // proto3 JSON: a zero value may be left out, and int64 may come as a string or a number.
    return Number(c[field] ?? 0) === actual
  }

  write(key: string, value: Buffer | undefined): void {
    const old = this.entries.get(key)
    if (!value) this.entries.delete(key)
    else
      this.entries.set(key, {
        value,
        create: old?.create ?? this.revision,
        mod: this.revision,
        version: (old?.version ?? 0) + 1,
      })
  }

  has(key: string): boolean {
    return this.entries.has(key)
  }
}

/** How a member answers: normally, never, or after applying a txn it drops the connection. */
export type FakeEtcdMode = 'normal' | 'hang' | 'apply-then-drop' | { status: number; body: string }

/** etcd with authentication enabled. */
export interface FakeEtcdAuth {
  /** User name -> password. */
  users: Map<string, string>
  /** Tokens this member still accepts; clear() is a restart or an expiry. */
  tokens: Set<string>
  /** Tokens issued so far (successful authentications). */
  issued: number
  /** false: a token is forgotten as soon as it is issued (a member that rejects every token). */
  keep: boolean
}

export interface FakeEtcd {
  url: string
  data: FakeEtcdData
  mode: FakeEtcdMode
  /** Paths of the requests received, in order. */
  requests: string[]
  /** The Authorization header of each request, in order ('' when none). */
  authorizations: string[]
  /** Set: authentication is enabled. */
  auth: FakeEtcdAuth | undefined
  close(): Promise<void>
}

/** Authentication on, with these users. */
export const fakeAuth = (users: Record<string, string>): FakeEtcdAuth => ({
  users: new Map(Object.entries(users)),
  tokens: new Set(),
  issued: 0,
  keep: true,
})

/** PEM key, certificate and the CA client certificates must chain to (etcd --client-cert-auth). */
export interface FakeEtcdTls {
  key: Buffer
  cert: Buffer
  ca: Buffer
}

const latin1 = (b64: unknown): string =>
  Buffer.from(typeof b64 === 'string' ? b64 : '', 'base64').toString('latin1')

export async function startFakeEtcd(
  data = new FakeEtcdData(),
  tls?: FakeEtcdTls
): Promise<FakeEtcd> {
  const fake: FakeEtcd = {
    url: '',
    data,
    mode: 'normal',
    requests: [],
    authorizations: [],
    auth: undefined,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
  const handler = (req: IncomingMessage, res: ServerResponse): void => void serve(fake, req, res)
  const server = tls
    ? createTlsServer({ ...tls, requestCert: true, rejectUnauthorized: true }, handler)
    : createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  fake.url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`
  const close = fake.close
  fake.close = () => {
    server.closeAllConnections()
    return close()
  }
  return fake
}

async function serve(fake: FakeEtcd, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let text = ''
  for await (const chunk of req) text += String(chunk)
  fake.requests.push(req.url ?? '')
  const mode = fake.mode
  if (mode === 'hang') return
  if (typeof mode === 'object') {
    res.writeHead(mode.status, { 'content-type': 'application/json' }).end(mode.body)
    return
  }
  const body = JSON.parse(text) as Record<string, unknown>
  const header = () => ({ cluster_id: '1', member_id: '2', revision: String(fake.data.revision) })
  fake.authorizations.push(req.headers.authorization ?? '')
  const auth = fake.auth
  if (req.url === '/v3/auth/authenticate') {
    if (!auth) return refuse(res, 412, 9, 'etcdserver: authentication is not enabled')
    const name = String(body['name'])
    if (!auth.users.has(name) || auth.users.get(name) !== body['password'])
      return refuse(res, 400, 3, 'etcdserver: authentication failed, invalid user ID or password')
    const token = `token-${++auth.issued}`
    if (auth.keep) auth.tokens.add(token)
    return reply(res, { header: header(), token })
  }
  if (auth) {
    const token = req.headers.authorization
    if (!token) return refuse(res, 400, 3, 'etcdserver: user name is empty')
    if (!auth.tokens.has(token)) return refuse(res, 401, 16, 'etcdserver: invalid auth token')
  }
  if (req.url === '/v3/kv/range') {
    const end = body['range_end'] === undefined ? undefined : latin1(body['range_end'])
    const kvs = fake.data.range(latin1(body['key']), end)
    return reply(res, {
      header: header(),
      ...(kvs.length > 0 ? { kvs, count: String(kvs.length) } : {}),
    })
  }
  if (req.url === '/v3/kv/txn') {
    const compares = (body['compare'] ?? []) as Record<string, unknown>[]
    const succeeded = compares.every((c) => fake.data.compare(c))
    const ops = (body[succeeded ? 'success' : 'failure'] ?? []) as Record<string, unknown>[]
    const writes = ops.some((op) => 'request_put' in op || 'request_delete_range' in op)
    if (writes) fake.data.revision++
    const responses = ops.map((op) => apply(fake.data, op))
    if (mode === 'apply-then-drop') {
      res.socket?.destroy()
      return
    }
    return reply(res, { header: header(), ...(succeeded ? { succeeded } : {}), responses })
  }
  res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found')
}

function apply(data: FakeEtcdData, op: Record<string, unknown>): object {
  const put = op['request_put'] as Record<string, unknown> | undefined
  if (put) {
    data.write(latin1(put['key']), Buffer.from(String(put['value'] ?? ''), 'base64'))
    return { response_put: { header: { revision: String(data.revision) } } }
  }
  const del = op['request_delete_range'] as Record<string, unknown> | undefined
  if (del) {
    const key = latin1(del['key'])
    const deleted = data.has(key) ? 1 : 0
    data.write(key, undefined)
    return { response_delete_range: { ...(deleted ? { deleted: '1' } : {}) } }
  }
  const range = op['request_range'] as Record<string, unknown> | undefined
  if (range) {
    const kvs = data.range(latin1(range['key']), undefined)
    return { response_range: kvs.length > 0 ? { kvs, count: String(kvs.length) } : {} }
  }
  throw new Error(`fake etcd: unsupported operation ${JSON.stringify(op)}`)
}

/** An error as the gateway spells it: the gRPC code and message, twice. */
function refuse(res: ServerResponse, status: number, code: number, message: string): void {
  res
    .writeHead(status, { 'content-type': 'application/json' })
    .end(JSON.stringify({ error: message, message, code }))
}

function reply(res: ServerResponse, body: object): void {
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body))
}
