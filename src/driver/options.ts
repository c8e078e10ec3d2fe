import { invalid, printable } from '../errors.ts'
import { ifnameProblem } from '../ifname.ts'
import { ipFamily, parseCidr } from './ipnet.ts'
import { IPVLAN_FLAGS, IPVLAN_MODES } from './model.ts'
import type { IpvlanFlag, IpvlanMode, Subnet } from './model.ts'

/** Network options as Docker sends them, already shaped by the HTTP layer. */
export interface NetworkOptionsInput {
  /** The user's `-o key=value` pairs (com.docker.network.generic). */
  generic: ReadonlyMap<string, string>
  /** `--internal` (com.docker.network.internal). */
  internal: boolean
  /** com.docker.network.enable_ipv4 / enable_ipv6; undefined on engines that do not send them. */
  enableIPv4?: boolean | undefined
  enableIPv6?: boolean | undefined
}

export interface IpamInput {
  pool: string
  /** CIDR as IPAM sends it ("192.168.10.1/24"), when a gateway was reserved. */
  gateway?: string | undefined
  /** The values of `--aux-address` in this pool, as IPAM sends them (CIDR, or a plain IP). */
  auxAddresses?: readonly string[] | undefined
  /** The IPAM's address space ("lan" for this plugin's IPAM, "LocalDefault" for Docker's). */
  addressSpace?: string | undefined
}

export interface NetworkOptions {
  /** undefined: no `-o parent`, the network gets a dummy parent and is internal. */
  parent: string | undefined
  /**
   * `-o parent=auto` or `auto.VID`: the interface of this host's default route (or its 802.1Q
   * sub-interface VID), resolved at CreateNetwork; `parent` then holds the option as given.
   * Absent otherwise.
   */
  auto?: { vlanId: number | undefined }
  mode: IpvlanMode
  flag: IpvlanFlag
  mtu: number | undefined
  internal: boolean
  /** `-o shared_parent=true`: this network may share its parent with others that opted in too. */
  sharedParent: boolean
  /** `-o host_address=IP[,IP6]`: the host's own addresses on the network (host access). */
  hostAddresses: string[]
}

const KNOWN_OPTIONS = [
  'parent',
  'ipvlan_mode',
  'ipvlan_flag',
  'mtu',
  'shared_parent',
  'host_address',
  'com.docker.network.driver.mtu',
]

/**
 * Reads the built-in ipvlan driver's options (parent, ipvlan_mode, ipvlan_flag) plus `mtu`.
 * Unlike the built-in driver, a misspelt option is an error rather than silently ignored: a typo
 * in `parent` used to produce a dummy parent without a word (moby/libnetwork#1008). Other
 * `com.docker.*` keys are Docker's own and are ignored.
 */
export function parseNetworkOptions(input: NetworkOptionsInput): NetworkOptions {
  for (const key of input.generic.keys()) {
    if (!KNOWN_OPTIONS.includes(key) && !key.startsWith('com.docker.')) {
      throw invalid(
        `unknown option "${printable(key)}": this driver accepts -o parent, ipvlan_mode, ipvlan_flag, mtu, shared_parent and host_address`
      )
    }
  }
  const parentText = input.generic.get('parent') ?? ''
  let parent: string | undefined
  const auto = parseAutoParent(parentText)
  if (auto) parent = parentText
  else if (parentText !== '') {
    const problem = ifnameProblem(parentText)
    if (problem !== undefined) {
      throw invalid(`option "parent": "${printable(parentText)}" ${problem}`)
    }
    if (parentText === 'lo')
      throw invalid('option "parent": the loopback interface cannot be an ipvlan parent')
    parent = parentText
  }
  const mode = pick(input.generic.get('ipvlan_mode'), IPVLAN_MODES, 'ipvlan_mode', 'l2')
  const flag = pick(input.generic.get('ipvlan_flag'), IPVLAN_FLAGS, 'ipvlan_flag', 'bridge')
  const mtu = parseMtu(input.generic)
  const sharedParent = pick(input.generic.get('shared_parent'), BOOLEANS, 'shared_parent', 'false')
  if (sharedParent === 'true' && parent === undefined) {
    throw invalid(
      'option "shared_parent": needs -o parent (a network without a parent gets a dummy link of its own)'
    )
  }
  const hostAddresses = parseHostAddresses(input.generic.get('host_address'))
  if (hostAddresses.length > 0 && flag === 'private') {
    throw invalid(
      'option "host_address": host access needs the host\'s link to reach the containers\' links, which ipvlan_flag=private forbids (use bridge, the default)'
    )
  }
  return {
    parent,
    ...(auto ? { auto } : {}),
    mode,
    flag,
    mtu,
    internal: input.internal || parent === undefined,
    sharedParent: sharedParent === 'true',
    hostAddresses,
  }
}

/**
 * "auto" or "auto.VID" (VID 1-4094, as in eth0.10). Every value starting with "auto." is taken as
 * this form, so a typo is an error rather than the name of an interface that does not exist.
 */
function parseAutoParent(text: string): { vlanId: number | undefined } | undefined {
  if (text === 'auto') return { vlanId: undefined }
  if (!text.startsWith('auto.')) return undefined
  const vid = text.slice('auto.'.length)
  const vlanId = /^[0-9]{1,4}$/.test(vid) ? Number(vid) : NaN
  if (!(vlanId >= 1 && vlanId <= 4094)) {
    throw invalid(
      `option "parent": "${printable(text)}": "${printable(vid)}" is not a VLAN id (expected auto, or auto.VID with VID 1-4094, e.g. auto.10)`
    )
  }
  return { vlanId }
}

/** "192.168.10.2", "2001:db8::2" or both, comma-separated: at most one address per family. */
function parseHostAddresses(text: string | undefined): string[] {
  if (text === undefined || text.trim() === '') return []
  const addresses = text.split(',').map((part) => part.trim())
  const families = addresses.map((address) => {
    const family = ipFamily(address)
    if (family === undefined) {
      throw invalid(
        `option "host_address": "${printable(address)}" is not an IP address (expected e.g. 192.168.10.2, or 192.168.10.2,2001:db8::2)`
      )
    }
    return family
  })
  if (new Set(families).size !== families.length) {
    throw invalid(
      `option "host_address": "${printable(text)}" gives two addresses of one family (expected at most one IPv4 and one IPv6)`
    )
  }
  return addresses
}

const BOOLEANS = ['true', 'false'] as const

function pick<T extends string>(
  value: string | undefined,
  allowed: readonly T[],
  option: string,
  fallback: T
): T {
  if (value === undefined || value === '') return fallback
  const found = allowed.find((candidate) => candidate === value)
  if (found === undefined) {
    throw invalid(
      `option "${option}": "${printable(value)}" is not valid, expected one of ${allowed.join(', ')} (default ${fallback})`
    )
  }
  return found
}

function parseMtu(generic: ReadonlyMap<string, string>): number | undefined {
  const ours = generic.get('mtu')
  const dockers = generic.get('com.docker.network.driver.mtu')
  const [key, text] =
    ours !== undefined && ours !== '' ? ['mtu', ours] : ['com.docker.network.driver.mtu', dockers]
  if (text === undefined || text === '') return undefined
  const mtu = /^[0-9]{1,5}$/.test(text) ? Number(text) : NaN
  if (!(mtu >= 68 && mtu <= 65535)) {
    throw invalid(
      `option "${key}": "${printable(text)}" is not an MTU, expected an integer from 68 to 65535`
    )
  }
  return mtu
}

/** Turns IPAM data into subnets; `family` names the field in errors (IPv4Data / IPv6Data). */
export function parseSubnets(data: readonly IpamInput[], family: 4 | 6): Subnet[] {
  const field = family === 4 ? 'IPv4Data' : 'IPv6Data'
  return data.flatMap((entry, index) => {
    const pool = parseCidr(entry.pool)
    if (!pool || pool.family !== family) {
      throw invalid(
        `${field}[${index}].Pool: "${printable(entry.pool)}" is not an IPv${family} CIDR`
      )
    }
    // Docker sends 0.0.0.0/0 when IPv4 is disabled on engines that always send IPv4Data.
    if (pool.prefix === 0) return []
    // Recorded only when given, so records without them stay as they were.
    const aux = auxAddressesOf(entry, family)
    const space = {
      ...(entry.addressSpace ? { addressSpace: entry.addressSpace } : {}),
      ...(aux.length > 0 ? { auxAddresses: aux } : {}),
    }
    if (entry.gateway === undefined || entry.gateway === '') return [{ pool: entry.pool, ...space }]
    const gateway = parseCidr(entry.gateway)
    if (!gateway || gateway.family !== family) {
      throw invalid(
        `${field}[${index}].Gateway: "${printable(entry.gateway)}" is not an IPv${family} address in CIDR form`
      )
    }
    return [{ pool: entry.pool, gateway: gateway.ip, ...space }]
  })
}

/**
 * The pool's --aux-address values as plain IPs, kept so a switch of the IPAM to etcd can copy
 * these reservations. Docker sends them as CIDRs ("192.168.10.2/24"); anything that is not an
 * address of the family ("<nil>") reserves nothing and is left out rather than refused.
 */
function auxAddressesOf(entry: IpamInput, family: 4 | 6): string[] {
  return (entry.auxAddresses ?? []).flatMap((text) => {
    const ip = text.includes('/') ? parseCidr(text)?.ip : text
    return ip !== undefined && ipFamily(ip) === family ? [ip] : []
  })
}
