import * as v from 'valibot'
import { DriverError, messageOf } from '../errors.ts'
import type { Logger } from '../log.ts'

/**
 * A minimal client for etcd v3's JSON gateway (POST /v3/kv/range, /v3/kv/txn): keys and values
 * base64, int64 numbers as strings, false / zero / empty fields left out of answers.
 *
 * Why no client library: npm `etcd3`, the only v3 client for Node, is tested against etcd 3.1-3.3
 * only, is sparsely maintained (open: long-running gRPC failures) and brings gRPC along; the
 * gateway is stable from etcd 3.4 on (Debian 12 ships 3.4) and needs nothing but Node's fetch.
 *
 * Endpoints are tried in turn, starting with the last one that answered, so a dead member costs
 * its timeout once, not on every request. Every request is bounded by the timeout: a member that
 * never answers is an error naming it, never a hang.
 *
 * Not supported yet: etcd authentication (user/password), client certificates and a private CA
 * (https:// works only with a certificate Node already trusts).
 */
export interface EtcdGatewayOptions {
  /** Origins ("http://10.0.0.2:2379"), at least one. */
  endpoints: readonly string[]
  /** Per HTTP request, body included. */
  timeoutMs: number
  /** Told when a member failed and another answered (the operator should know a member is down). */
  log?: Logger | undefined
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

export class EtcdGateway {
  private readonly endpoints: readonly string[]
  private readonly timeoutMs: number
  private readonly log: Logger | undefined
  private preferred = 0

  constructor({ endpoints, timeoutMs, log }: EtcdGatewayOptions) {
    if (endpoints.length === 0) throw new Error('EtcdGateway: no endpoint')
    this.endpoints = endpoints
    this.timeoutMs = timeoutMs
    this.log = log
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

  /** The first member's JSON answer; the next member on a failure that another may not share. */
  private async post(path: string, body: unknown): Promise<unknown> {
    const text = JSON.stringify(body)
    const failures: string[] = []
    for (let i = 0; i < this.endpoints.length; i++) {
      const index = (this.preferred + i) % this.endpoints.length
      const endpoint = this.endpoints[index] ?? ''
      const outcome = await this.attempt(endpoint, path, text)
      if ('answer' in outcome) {
        if (failures.length > 0)
          this.log?.warn('etcd member failed; the next one answered', {
            failed: failures,
            answered: endpoint,
          })
        this.preferred = index
        return outcome.answer
      }
      if ('refused' in outcome)
        throw new DriverError(
          'unavailable',
          `etcd at ${endpoint} refused ${path}: ${outcome.refused}`
        )
      failures.push(`${endpoint} (${outcome.failed})`)
    }
    throw new DriverError('unavailable', `etcd unreachable at ${failures.join(', ')}`)
  }

  private async attempt(
    endpoint: string,
    path: string,
    body: string
  ): Promise<{ answer: unknown } | { failed: string } | { refused: string }> {
    try {
      const response = await fetch(endpoint + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      })
      const text = await response.text()
      if (response.status === 200) {
        try {
          return { answer: JSON.parse(text) }
        } catch {
          return { failed: `HTTP 200 with a body that is not JSON: ${snippet(text)}` }
        }
      }
      const why = `HTTP ${response.status}: ${gatewayMessage(text)}`
      if (response.status === 401)
        return { refused: `${why} (etcd authentication is not supported by this plugin yet)` }
      if (REQUEST_ERRORS.has(response.status)) return { refused: why }
      if (response.status === 404)
        return { failed: `${why} (no v3 JSON gateway here: etcd 3.4 or later is needed)` }
      return { failed: why }
    } catch (error) {
      return { failed: fetchFailure(error, this.timeoutMs) }
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

/** What went wrong below HTTP: the timeout, or the socket error (ECONNREFUSED, ENOTFOUND...). */
function fetchFailure(error: unknown, timeoutMs: number): string {
  const name = (error as { name?: unknown } | null)?.name
  if (name === 'TimeoutError' || name === 'AbortError') return `no answer within ${timeoutMs} ms`
  const cause = error instanceof Error ? error.cause : undefined
  return cause === undefined ? messageOf(error) : messageOf(cause)
}

function snippet(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  return flat.length > 200 ? `${flat.slice(0, 200)}...` : flat || '(empty body)'
}
