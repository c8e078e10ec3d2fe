import { Agent as HttpAgent, request as httpRequest } from 'node:http'
import type { ClientRequest, IncomingMessage } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { messageOf } from '../errors.ts'

/**
 * One bounded JSON POST to an etcd member, over http or https. Node's `node:http(s)` rather than
 * its global fetch: fetch takes neither a private CA nor a client certificate without the npm
 * `undici` package (Node 20 does not expose the undici it bundles), and `node:https` takes both as
 * plain options, with no dependency to add to the plugin's bundle.
 */
export interface EtcdTls {
  /** PEM: the CA(s) etcd's server certificate must chain to; absent: Node's public roots. */
  ca?: Buffer | undefined
  /** PEM: the client certificate and its key, both or neither. */
  cert?: Buffer | undefined
  key?: Buffer | undefined
}

export interface HttpAnswer {
  status: number
  text: string
}

/** Why no HTTP answer came: said to the operator as is. */
export class TransportFailure extends Error {
  override readonly name = 'TransportFailure'
}

export class EtcdTransport {
  // One agent per scheme: connections and TLS sessions are reused between requests, as fetch
  // did. Free sockets close after 5 s (Node's default agent does the same).
  private readonly http = new HttpAgent({ keepAlive: true, timeout: 5000 })
  private readonly https: HttpsAgent

  constructor(tls: EtcdTls = {}) {
    this.https = new HttpsAgent({
      keepAlive: true,
      timeout: 5000,
      ...(tls.ca ? { ca: tls.ca } : {}),
      ...(tls.cert ? { cert: tls.cert } : {}),
      ...(tls.key ? { key: tls.key } : {}),
    })
  }

  /**
   * POSTs `body` to `url` and reads the whole answer, all within `timeoutMs`; rejects with a
   * TransportFailure saying what went wrong below HTTP.
   */
  post(
    url: string,
    body: string,
    headers: Record<string, string>,
    timeoutMs: number
  ): Promise<HttpAnswer> {
    const https = url.startsWith('https:')
    return new Promise<HttpAnswer>((resolve, reject) => {
      let request: ClientRequest | undefined
      const fail = (error: unknown): void => {
        clearTimeout(timer)
        reject(new TransportFailure(describe(error)))
        request?.destroy()
      }
      const timer = setTimeout(
        () => fail(new TransportFailure(`no answer within ${timeoutMs} ms`)),
        timeoutMs
      )
      const answered = (response: IncomingMessage): void => {
        const chunks: Buffer[] = []
        response.on('data', (chunk: Buffer) => chunks.push(chunk))
        response.on('error', fail)
        response.on('end', () => {
          clearTimeout(timer)
          resolve({
            status: response.statusCode ?? 0,
            text: Buffer.concat(chunks).toString('utf8'),
          })
        })
      }
      const options = {
        method: 'POST',
        agent: https ? this.https : this.http,
        headers: {
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          ...headers,
        },
      }
      try {
        request = https ? httpsRequest(url, options, answered) : httpRequest(url, options, answered)
      } catch (error) {
        fail(error)
        return
      }
      request.on('error', fail)
      request.end(body)
    })
  }

  /** Closes the idle connections (tests; the plugin keeps its transport for its lifetime). */
  close(): void {
    this.http.destroy()
    this.https.destroy()
  }
}

/** Certificate checks that failed on etcd's server certificate: a CA question. */
const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
])

/** The socket or TLS error in the operator's terms, with the setting to look at. */
function describe(error: unknown): string {
  if (error instanceof TransportFailure) return error.message
  const code = (error as { code?: unknown } | null)?.code
  const message = messageOf(error)
  if (typeof code !== 'string') return message
  if (UNTRUSTED.has(code))
    return `TLS: etcd's certificate is not trusted: ${message} (${code}; check ETCD_CACERT)`
  // OpenSSL's text is "write EPROTO 80...:error:0A00010B:SSL routines:func:REASON:file:line:".
  const reason = /error:[0-9A-F]+:[^:]*:[^:]*:([^:]+):/.exec(message)?.[1]
  if (reason === 'wrong version number')
    return `TLS: no TLS answer (${reason}): is this endpoint http://, not https://?`
  if (reason !== undefined && /alert/i.test(reason))
    return (
      `TLS: etcd refused the handshake (${reason}): check ETCD_CERT and ETCD_KEY ` +
      '(etcd with --client-cert-auth needs a client certificate from its CA)'
    )
  if (reason !== undefined) return `TLS: ${reason} (${code})`
  return message.includes(code) ? message : `${message} (${code})`
}
