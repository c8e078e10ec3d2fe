/**
 * The etcd IPAM backend's TLS and authentication settings, checked against each other and the
 * endpoints (config.ts reads them in; the files themselves are read by store/etcd-tls.ts).
 *
 * The password is an environment variable only (ETCD_PASSWORD, a plugin setting): a command-line
 * flag would show it to every user of the host in `ps`. No error ever repeats it.
 */
export interface EtcdTlsFiles {
  cacert?: string | undefined
  cert?: string | undefined
  key?: string | undefined
}

export interface EtcdAccess {
  /** Paths inside the plugin (under /etc/ipvlan-lan/etcd, the `etcd` mount). */
  tlsFiles: EtcdTlsFiles
  auth: { user: string; password: string } | undefined
}

/** parseArgs options of these settings, spread into config.ts's. */
export const ETCD_ACCESS_FLAGS = {
  'etcd-cacert': { type: 'string' },
  'etcd-cert': { type: 'string' },
  'etcd-key': { type: 'string' },
  'etcd-user': { type: 'string' },
} as const

type Flags = Partial<Record<keyof typeof ETCD_ACCESS_FLAGS, string | undefined>>

/** Where the plugin sees the files of its `etcd` mount (plugin/config.json). */
export const ETCD_MOUNT = '/etc/ipvlan-lan/etcd'

const FILES = [
  ['cacert', 'ETCD_CACERT', 'etcd-cacert'],
  ['cert', 'ETCD_CERT', 'etcd-cert'],
  ['key', 'ETCD_KEY', 'etcd-key'],
] as const

// etcdctl's --user NAME:PASSWORD could not name a user with ":" in it.
const USER_RULE = /^[\x21-\x39\x3b-\x7e]{1,128}$/
const PASSWORD_RULE = /^[^\x00-\x1f\x7f]{1,1024}$/

/** Throws an error naming the settings and what was expected; "" is unset (config.json's default). */
export function loadEtcdAccess(
  flags: Flags,
  env: NodeJS.ProcessEnv,
  endpoints: readonly string[]
): EtcdAccess {
  const tlsFiles: EtcdTlsFiles = {}
  for (const [field, name, flag] of FILES) {
    const path = flags[flag] || env[name] || undefined
    if (path === undefined) continue
    if (!path.startsWith('/') || path.includes('\0'))
      throw new Error(
        `--${flag} / ${name}: expected an absolute path (in the plugin, a file under ` +
          `${ETCD_MOUNT}, the "etcd" mount), got ${JSON.stringify(path)}`
      )
    tlsFiles[field] = path
  }
  if ((tlsFiles.cert === undefined) !== (tlsFiles.key === undefined))
    throw new Error(
      'ETCD_CERT and ETCD_KEY: expected both (the client certificate and its private key) or ' +
        `neither; ${tlsFiles.cert === undefined ? 'ETCD_CERT' : 'ETCD_KEY'} is not set`
    )
  const tlsNames = FILES.filter(([field]) => tlsFiles[field] !== undefined).map(([, name]) => name)
  if (tlsNames.length > 0) {
    if (endpoints.length === 0)
      throw new Error(
        `${tlsNames.join(', ')}: set, but ETCD_ENDPOINTS is empty (the TLS files are for ` +
          'the etcd IPAM backend)'
      )
    const plain = endpoints.filter((endpoint) => !endpoint.startsWith('https:'))
    if (plain.length > 0)
      throw new Error(
        `${tlsNames.join(', ')}: set, so every ETCD_ENDPOINTS entry must be https://; ` +
          `not: ${plain.join(', ')}`
      )
  }

  const user = flags['etcd-user'] || env['ETCD_USER'] || undefined
  const password = env['ETCD_PASSWORD'] || undefined
  if (user === undefined && password === undefined) return { tlsFiles, auth: undefined }
  if (user === undefined)
    throw new Error('ETCD_USER: expected the etcd user whose password ETCD_PASSWORD is')
  if (!USER_RULE.test(user))
    throw new Error(
      '--etcd-user / ETCD_USER: expected an etcd user name of 1 to 128 printable ASCII ' +
        `characters without spaces or ":", got ${JSON.stringify(user.slice(0, 140))}`
    )
  if (password === undefined)
    throw new Error(`ETCD_PASSWORD: expected the password of etcd user ${JSON.stringify(user)}`)
  if (!PASSWORD_RULE.test(password))
    throw new Error(
      'ETCD_PASSWORD: expected 1 to 1024 characters without control characters ' +
        '(the value is not shown)'
    )
  if (endpoints.length === 0)
    throw new Error(
      'ETCD_USER, ETCD_PASSWORD: set, but ETCD_ENDPOINTS is empty (they are for the etcd ' +
        'IPAM backend)'
    )
  return { tlsFiles, auth: { user, password } }
}
