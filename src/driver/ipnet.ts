import { BlockList, isIP } from 'node:net'

/** IP prefix helpers over node:net (no I/O). */
export interface Cidr {
  ip: string
  prefix: number
  family: 4 | 6
}

/** The family of a plain IP address (no prefix, no zone), or undefined when it is not one. */
export function ipFamily(text: string): 4 | 6 | undefined {
  if (text.includes('%')) return undefined
  const family = isIP(text)
  return family === 4 || family === 6 ? family : undefined
}

export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/')
  if (slash < 0) return undefined
  const ip = text.slice(0, slash)
  // node:net accepts IPv6 zones ("fe80::1%eth0"); Docker's net.ParseIP does not.
  if (ip.includes('%')) return undefined
  const prefixText = text.slice(slash + 1)
  const family = isIP(ip)
  if ((family !== 4 && family !== 6) || !/^[0-9]{1,3}$/.test(prefixText)) return undefined
  const prefix = Number(prefixText)
  if (prefix > (family === 4 ? 32 : 128)) return undefined
  return { ip, prefix, family }
}

/** True when `ip` lies inside `pool` (both of the same family). */
export function poolContains(pool: Cidr, ip: Cidr): boolean {
  if (pool.family !== ip.family) return false
  const list = new BlockList()
  const type = pool.family === 4 ? 'ipv4' : 'ipv6'
  list.addSubnet(pool.ip, pool.prefix, type)
  return list.check(ip.ip, type)
}

/** True when two prefixes share an address: the shorter one then holds the longer one's address. */
export function poolsOverlap(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false
  return a.prefix <= b.prefix ? poolContains(a, b) : poolContains(b, a)
}
