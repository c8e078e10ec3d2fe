import * as v from 'valibot'
import { DriverError, messageOf } from '../errors.ts'
import type { Logger } from '../log.ts'
import { EtcdTokens } from './etcd-tokens.ts'
import type { EtcdCredentials, TokenOutcome } from './etcd-tokens.ts'
import { EtcdTransport } from './etcd-transport.ts'
import type { EtcdTls } from './etcd-transport.ts'

/**
 * A minimal client for etcd v3's JSON gateway (POST /v3/kv/range, /v3/kv/txn): keys and values
 * base64, int64 numbers as strings, false / zero / empty fields left out of answers.
 *
 * Why no client library: npm `etcd3`, the only v3 client for Node, is tested against etcd 3.1-3.3
 * only, is sparsely maintained (open: long-running gRPC failures) and brings gRPC along; the
 * gateway is stable from etcd 3.4 on (Debian 12 ships 3.4) and needs nothing but Node's own
 * http/https (etcd-transport.ts: why not fetch).
 *
 * Endpoints are tried in turn, starting with the last one that answered, so a dead member costs
 * its timeout once, not on every request. Every request is bounded by the timeout: a member that
 * never answers is an error naming it, never a hang.
 *
 * TLS (https:// endpoints): a private CA (ETCD_CACERT) and a client certificate (ETCD_CERT,
 * ETCD_KEY) for etcd's --trusted-ca-file / --client-cert-auth. Authentication (ETCD_USER,
 * ETCD_PASSWORD): POST /v3/auth/authenticate gives a token sent as `Authorization` on every
 * request; a token etcd rejects (expired, or lost in a restart: "invalid auth token") is replaced
 * once per request, then the request fails. A request with authentication costs at most four
 * bounded exchanges per member (authenticate, request, authenticate again, request again).
 */
export interface EtcdGatewayOptions {
  /** Origins ("http://10.0.0.2:2379"), at least one. */
  endpoints: readonly string[]
  /** Per HTTP request, body included. */
  timeoutMs: number
  /** Told when a member failed and another answered (the operator should know a member is down). */
  log?: Logger | undefined
  /** For https:// endpoints: a private CA, a client certificate. */
  tls?: EtcdTls | undefined
  /** etcd authentication; absent: requests carry no token. */
  auth?: EtcdCredentials | undefined
}

export interface KeyValue {
  key: string
  value: string
  modRevision: number
}

export interface RangeResult {
  /** The store's revision when read. */
  revision: number
  kvs: KeyValue[]
}

export interface Compare {
  key: string
  /** mod_revision == this (0: the key is absent, compared as create_revision == 0). */
  modRevision: number
}

export type Operation = { put: { key: string; value: string } } | { delete: { key: string } }

export interface TxnResult {
  succeeded: boolean
  /** The store's revision after the txn: on success, the written key's new mod_revision. */
  revision: number
  /** On failure, the compared key as it is now (undefined: absent). */
  current: KeyValue | undefined
}

// Answers, as the gateway spells them (int64 as decimal strings).
const Int64 = v.pipe(
  v.string(),
  v.regex(/^[0-9]{1,15}$/, 'expected a revision (an int64 as a decimal string)'),
  v.transform(Number)
)
const Header = v.object({ revision: Int64 })
const Kv = v.object({ key: v.string(), value: v.optional(v.string(), ''), mod_revision: Int64 })
const RangeAnswer = v.object({ header: Header, kvs: v.optional(v.array(Kv), []) })
const TxnAnswer = v.object({
  header: Header,
  succeeded: v.optional(v.boolean(), false),
  responses: v.optional(
    v.array(
      v.object({
        response_range: v.optional(v.object({ kvs: v.optional(v.array(Kv), []) })),
      })
    ),
    []
  ),
})

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64')
const unb64 = (text: string): string => Buffer.from(text, 'base64').toString('utf8')
const kv = (raw: v.InferOutput<typeof Kv>): KeyValue => ({
  key: unb64(raw.key),
  value: unb64(raw.value),
  modRevision: raw.mod_revision,
})

/** The range_end that makes a range cover every key starting with `prefix` (etcd's rule). */
export function prefixEnd(prefix: string): string {
  const bytes = [...Buffer.from(prefix, 'utf8')]
  while (bytes.length > 0) {
    const last = bytes.pop() ?? 0xff
    if (last < 0xff) return Buffer.from([...bytes, last + 1]).toString('base64')
  }
  return Buffer.from([0]).toString('base64') // all 0xff: to the end of the key space
}

/** Answers that say the request itself is refused (bad argument, auth): no member will differ. */
const REQUEST_ERRORS = new Set([400, 401, 403])
const AUTHENTICATE = '/v3/auth/authenticate'
/** etcd's words for a token it no longer knows (clientv3 authenticates again on the same). */
const TOKEN_REJECTED = /invalid auth token|user name is empty|revision of auth store is old/
const AuthenticateAnswer = v.object({ token: v.pipe(v.string(), v.minLength(1)) })

/** What one member said: JSON, an HTTP error, or nothing usable. */
type Reply = { answer: unknown } | { failed: string } | { status: number; message: string }
/** `rejected`: the token sent is no longer valid (authenticate again). */
type Outcome = { answer: unknown } | { failed: string } | { refused: string } | { rejected: string }

export class EtcdGateway {
  private readonly endpoints: readonly string[]
  private readonly timeoutMs: number
  private readonly log: Logger | undefined
  private readonly transport: EtcdTransport
  private readonly auth: EtcdCredentials | undefined
  private readonly tokens: EtcdTokens | undefined
  private preferred = 0

  constructor({ endpoints, timeoutMs, log, tls, auth }: EtcdGatewayOptions) {
    if (endpoints.length === 0) throw new Error('EtcdGateway: no endpoint')
    this.endpoints = endpoints
    this.timeoutMs = timeoutMs
    this.log = log
    this.transport = new EtcdTransport(tls)
    this.auth = auth
    this.tokens = auth && new EtcdTokens((endpoint) => this.authenticate(endpoint, auth))
  }

  /** Every key starting with `prefix`, in key order, and the store revision of the read. */
  async range(prefix: string): Promise<RangeResult> {
    const body = { key: b64(prefix), range_end: prefixEnd(prefix) }
    const answer = parse(RangeAnswer, await this.post('/v3/kv/range', body), 'range')
    return { revision: answer.header.revision, kvs: answer.kvs.map(kv) }
  }

  /**
   * If(compare and every one of `also`) Then(operation) Else(read the compared key). The Else
   * read costs nothing extra and lets a caller whose earlier attempt's answer was lost recognise
   * its own write.
   */
  async txn(
    compare: Compare,
    operation: Operation,
    also: readonly Compare[] = []
  ): Promise<TxnResult> {
    const key = b64(compare.key)
    const condition = (c: Compare) =>
      c.modRevision === 0
        ? { key: b64(c.key), target: 'CREATE', result: 'EQUAL', create_revision: '0' }
        : { key: b64(c.key), target: 'MOD', result: 'EQUAL', mod_revision: String(c.modRevision) }
    const then =
      'put' in operation
        ? { request_put: { key: b64(operation.put.key), value: b64(operation.put.value) } }
        : { request_delete_range: { key: b64(operation.delete.key) } }
    const body = {
      compare: [compare, ...also].map(condition),
      success: [then],
      failure: [{ request_range: { key } }],
    }
    const answer = parse(TxnAnswer, await this.post('/v3/kv/txn', body), 'txn')
    const found = answer.responses[0]?.response_range?.kvs[0]
    return {
      succeeded: answer.succeeded,
      revision: answer.header.revision,
      current: found && kv(found),
    }
  }

  /** Closes idle connections (tests). */
  close(): void {
    this.transport.close()
  }

  /** The first member's JSON answer; the next member on a failure that another may not share. */
  private async post(path: string, body: unknown): Promise<unknown> {
    const text = JSON.stringify(body)
    const failures: string[] = []
    for (let i = 0; i < this.endpoints.length; i++) {
      const index = (this.preferred + i) % this.endpoints.length
      const endpoint = this.endpoints[index] ?? ''
      const outcome = await this.exchange(endpoint, path, text)
      if ('answer' in outcome) {
        if (failures.length > 0)
          this.log?.warn('etcd member failed; the next one answered', {
            failed: failures,
            answered: endpoint,
          })
        this.preferred = index
        return outcome.answer
      }
      if ('refused' in outcome) throw new DriverError('unavailable', outcome.refused)
      if ('rejected' in outcome)
        throw new Error(`etcd at ${endpoint}: a token was rejected on a request that sent none`)
      failures.push(`${endpoint} (${outcome.failed})`)
    }
    throw new DriverError('unavailable', `etcd unreachable at ${failures.join(', ')}`)
  }

  /** One request on one member, with a token when authenticating: a rejected one replaced once. */
  private async exchange(endpoint: string, path: string, body: string): Promise<Outcome> {
    if (!this.tokens || !this.auth)
      return this.outcome(endpoint, path, await this.send(endpoint, path, body))
    const user = JSON.stringify(this.auth.user)
    for (let round = 1; ; round++) {
      const got = await this.tokens.get(endpoint)
      if (!('token' in got)) return got
      const reply = await this.send(endpoint, path, body, got.token)
      const outcome = this.outcome(endpoint, path, reply, got.token)
      if (!('rejected' in outcome)) return outcome
      this.tokens.forget(endpoint, got.token)
      if (round === 2)
        return {
          refused:
            `etcd at ${endpoint} rejected the token it had just given etcd user ${user} ` +
            `(${outcome.rejected}); is its clock or --auth-token setting wrong?`,
        }
      this.log?.debug('etcd auth token rejected; authenticating again', {
        endpoint,
        user: this.auth.user,
        reason: outcome.rejected,
      })
    }
  }

  /** POST /v3/auth/authenticate: the token, or an error naming the user, never the password. */
  private async authenticate(endpoint: string, auth: EtcdCredentials): Promise<TokenOutcome> {
    const body = JSON.stringify({ name: auth.user, password: auth.password })
    const reply = await this.send(endpoint, AUTHENTICATE, body)
    const user = JSON.stringify(auth.user)
    if ('failed' in reply) return reply
    if ('answer' in reply) {
      const parsed = v.safeParse(AuthenticateAnswer, reply.answer)
      if (parsed.success) return { token: parsed.output.token }
      return { failed: `${AUTHENTICATE} answered without a token` }
    }
    const why = `HTTP ${reply.status}: ${reply.message}`
    if (/authentication failed/.test(reply.message))
      return {
        refused:
          `etcd at ${endpoint} refused etcd user ${user}: ${why} ` +
          '(check ETCD_USER and ETCD_PASSWORD)',
      }
    if (/authentication is not enabled/.test(reply.message))
      return {
        refused:
          `etcd at ${endpoint} has authentication disabled (${why}), but ETCD_USER is set ` +
          `(${user}): enable it (etcdctl auth enable) or clear ETCD_USER and ETCD_PASSWORD`,
      }
    const outcome = this.outcome(endpoint, AUTHENTICATE, reply)
    return 'refused' in outcome ? outcome : { failed: 'failed' in outcome ? outcome.failed : why }
  }

  /** What an answer means for the request: done, try the next member, give up, or new token. */
  private outcome(endpoint: string, path: string, reply: Reply, token?: string): Outcome {
    if (!('status' in reply)) return reply
    const { status, message } = reply
    const why = `HTTP ${status}: ${message}`
    if (token !== undefined && (status === 401 || TOKEN_REJECTED.test(message)))
      return { rejected: why }
    if (REQUEST_ERRORS.has(status))
      return { refused: `etcd at ${endpoint} refused ${path}: ${why}${this.hint(message)}` }
    if (status === 404)
      return { failed: `${why} (no v3 JSON gateway here: etcd 3.4 or later is needed)` }
    return { failed: why }
  }

  /** The setting to look at, for the refusals whose cause etcd does not spell out. */
  private hint(message: string): string {
    if (/CommonName of client/.test(message))
      return (
        " (with authentication enabled, etcd's JSON gateway refuses a client certificate that " +
        'has a Common Name: give ETCD_CERT one without, e.g. openssl -subj /O=ipvlan-lan)'
      )
    if (!this.auth && /user name is empty|permission denied|auth token/.test(message))
      return ' (etcd requires authentication: set ETCD_USER and ETCD_PASSWORD)'
    if (this.auth && /permission denied/.test(message))
      return (
        ` (etcd user ${JSON.stringify(this.auth.user)} needs a role with readwrite ` +
        'permission on the key prefix ETCD_PREFIX)'
      )
    return ''
  }

  /** One POST; an HTTP error is returned with etcd's message, a socket failure as `failed`. */
  private async send(endpoint: string, path: string, body: string, token?: string): Promise<Reply> {
    let status: number
    let text: string
    try {
      const headers: Record<string, string> = token === undefined ? {} : { authorization: token }
      ;({ status, text } = await this.transport.post(
        endpoint + path,
        body,
        headers,
        this.timeoutMs
      ))
    } catch (error) {
      return { failed: messageOf(error) }
    }
    if (status !== 200) return { status, message: gatewayMessage(text) }
    try {
      return { answer: JSON.parse(text) }
    } catch {
      return { failed: `HTTP 200 with a body that is not JSON: ${snippet(text)}` }
    }
  }
}

function parse<S extends v.GenericSchema>(schema: S, answer: unknown, what: string) {
  const result = v.safeParse(schema, answer)
  if (!result.success)
    throw new Error(`etcd ${what} answer not understood: ${v.summarize(result.issues)}`)
  return result.output as v.InferOutput<S>
}

/** etcd's error message out of the gateway's {"error", "message", "code"}, or the raw text. */
function gatewayMessage(text: string): string {
  try {
    const json = JSON.parse(text) as { message?: unknown; error?: unknown }
    const message = json.message ?? json.error
    if (typeof message === 'string') return snippet(message)
  } catch {
    // not JSON: the raw text below
  }
  return snippet(text)
}

function snippet(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  return flat.length > 200 ? `${flat.slice(0, 200)}...` : flat || '(empty body)'
}
