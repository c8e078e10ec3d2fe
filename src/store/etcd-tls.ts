import { X509Certificate } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { createSecureContext } from 'node:tls'
import { messageOf } from '../errors.ts'
import type { EtcdTls } from './etcd-transport.ts'

export interface EtcdTlsPaths {
  cacert?: string | undefined
  cert?: string | undefined
  key?: string | undefined
}

/** How the operator gives the plugin the files (plugin/config.json's `etcd` mount). */
const MOUNT_HINT =
  'the files reach the plugin through its "etcd" mount: ' +
  'docker plugin set ipvlan-lan:latest etcd.source=HOST_DIR (plugin disabled), ' +
  'then the setting names /etc/ipvlan-lan/etcd/FILE'

/**
 * Reads and checks the TLS files once, at start: a missing or unreadable file, a CA file with no
 * certificate, or a key that does not match its certificate is an error naming the setting and
 * the path, before any request (the alternative, a handshake error at the first allocation, would
 * not say which file is wrong).
 */
export async function readEtcdTls(paths: EtcdTlsPaths): Promise<EtcdTls | undefined> {
  const read = async (setting: string, path: string | undefined): Promise<Buffer | undefined> => {
    if (path === undefined) return undefined
    try {
      return await readFile(path)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      const why = code === 'ENOENT' || code === 'ENOTDIR' ? 'no such file' : messageOf(error)
      throw new Error(`${setting}: cannot read ${path}: ${why} (${MOUNT_HINT})`)
    }
  }
  const ca = await read('ETCD_CACERT', paths.cacert)
  const cert = await read('ETCD_CERT', paths.cert)
  const key = await read('ETCD_KEY', paths.key)
  if (!ca && !cert && !key) return undefined
  if (ca) {
    try {
      new X509Certificate(ca)
    } catch (error) {
      throw new Error(`ETCD_CACERT: ${paths.cacert} holds no PEM certificate (${messageOf(error)})`)
    }
  }
  if (cert && key) {
    try {
      createSecureContext({ cert, key })
    } catch (error) {
      throw new Error(
        `ETCD_CERT / ETCD_KEY: ${paths.cert} and ${paths.key} are not a PEM certificate and ` +
          `its private key (${messageOf(error)})`
      )
    }
  }
  return { ca, cert, key }
}
