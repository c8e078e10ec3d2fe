import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** PEM files of a throw-away PKI for the etcd TLS tests, each a path in one temp directory. */
export interface EtcdPki {
  ca: string
  serverCert: string
  serverKey: string
  clientCert: string
  clientKey: string
  /** A second CA, trusted by nobody: the "wrong CA" of the tests. */
  otherCa: string
  /** A client certificate signed by the other CA: etcd must refuse it. */
  strangerCert: string
  strangerKey: string
  /** A client certificate of the right CA with a Common Name (see makeEtcdPki). */
  namedCert: string
  namedKey: string
}

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
}

/** A P-256 key and a self-signed CA certificate valid for two days. */
function makeCa(dir: string, name: string): void {
  openssl(
    dir,
    ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
    ...['-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`]
  )
}

/**
 * A key and a certificate signed by `ca`. etcd's JSON gateway dials etcd's own gRPC port with the
 * server certificate as its client certificate, so the server's carries clientAuth as well.
 */
function makeLeaf(
  dir: string,
  ca: string,
  name: string,
  subject: string,
  extensions: string
): void {
  writeFileSync(join(dir, `${name}.ext`), extensions)
  openssl(
    dir,
    ...['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
    ...['-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]
  )
  openssl(
    dir,
    ...['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`],
    ...['-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`]
  )
}

/**
 * A CA, a server certificate for 127.0.0.1 and client certificates under it, and a stranger CA
 * with its own client certificate, generated with `openssl` into `dir`. The client certificate
 * has no Common Name: with --client-cert-auth and auth enabled, etcd's JSON gateway answers HTTP
 * 400 to a client certificate that has one (etcd embed/serve.go); `named*` has one, to show it.
 */
export function makeEtcdPki(dir: string): EtcdPki {
  makeCa(dir, 'ca')
  makeCa(dir, 'other-ca')
  const client = 'extendedKeyUsage=clientAuth\n'
  makeLeaf(
    dir,
    'ca',
    'server',
    '/CN=etcd-test-server',
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n'
  )
  makeLeaf(dir, 'ca', 'client', '/O=ipvlan-lan', client)
  makeLeaf(dir, 'ca', 'named', '/CN=ipvlan-lan-client', client)
  makeLeaf(dir, 'other-ca', 'stranger', '/O=ipvlan-lan', client)
  const at = (file: string): string => join(dir, file)
  return {
    ca: at('ca.pem'),
    serverCert: at('server.pem'),
    serverKey: at('server.key'),
    clientCert: at('client.pem'),
    clientKey: at('client.key'),
    otherCa: at('other-ca.pem'),
    strangerCert: at('stranger.pem'),
    strangerKey: at('stranger.key'),
    namedCert: at('named.pem'),
    namedKey: at('named.key'),
  }
}
