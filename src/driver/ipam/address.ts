import { ipFamily, parseCidr } from '../ipnet.ts'

/**
 * Addresses as numbers, for the IPAM: ipnet.ts validates text, this adds the arithmetic (next
 * address, range bounds) and one canonical spelling, so "2001:DB8::1" and "2001:db8:0::1" are the
 * same key in the allocation table and in a PoolID.
 */
export type Family = 4 | 6

export interface Ip {
  family: Family
  value: bigint
}

/** A prefix with its host bits cleared. */
export interface Prefix {
  family: Family
  network: bigint
  bits: number
}

const WIDTH: Record<Family, number> = { 4: 32, 6: 128 }

/** A plain address (no prefix, no zone), or undefined. */
export function parseIp(text: string): Ip | undefined {
  const family = ipFamily(text)
  if (family === undefined) return undefined
  return { family, value: family === 4 ? v4Value(text) : v6Value(text) }
}

/** A CIDR with its host bits cleared ("10.0.0.5/24" is 10.0.0.0/24), or undefined. */
export function parsePrefix(text: string): Prefix | undefined {
  const cidr = parseCidr(text)
  if (!cidr) return undefined
  const ip = parseIp(cidr.ip)
  if (!ip) return undefined
  return { family: ip.family, network: ip.value & mask(ip.family, cidr.prefix), bits: cidr.prefix }
}

export function formatIp({ family, value }: Ip): string {
  return family === 4 ? formatV4(value) : formatV6(value)
}

export function formatPrefix(prefix: Prefix): string {
  return `${formatIp({ family: prefix.family, value: prefix.network })}/${prefix.bits}`
}

/** The highest address of the prefix. */
export function lastOf(prefix: Prefix): bigint {
  return prefix.network | ((1n << BigInt(hostBits(prefix))) - 1n)
}

export function containsIp(prefix: Prefix, ip: Ip): boolean {
  return ip.family === prefix.family && ip.value >= prefix.network && ip.value <= lastOf(prefix)
}

export function containsPrefix(outer: Prefix, inner: Prefix): boolean {
  return (
    outer.family === inner.family &&
    inner.bits >= outer.bits &&
    containsIp(outer, { family: inner.family, value: inner.network })
  )
}

/** How many host bits the prefix has. */
export function hostBits(prefix: Prefix): number {
  return WIDTH[prefix.family] - prefix.bits
}

function full(family: Family): bigint {
  return (1n << BigInt(WIDTH[family])) - 1n
}

function mask(family: Family, bits: number): bigint {
  return full(family) ^ ((1n << BigInt(WIDTH[family] - bits)) - 1n)
}

function v4Value(text: string): bigint {
  return text.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n)
}

/** Expects text that node:net already accepted as IPv6 (so at most one "::"). */
function v6Value(text: string): bigint {
  const groups = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((group) => {
          if (!group.includes('.')) return [parseInt(group, 16)]
          const v4 = Number(v4Value(group))
          return [v4 >>> 16, v4 & 0xffff]
        })
  const [head = '', tail] = text.split('::')
  const left = groups(head)
  const right = tail === undefined ? [] : groups(tail)
  const zeros = tail === undefined ? [] : new Array<number>(8 - left.length - right.length).fill(0)
  return [...left, ...zeros, ...right].reduce((acc, group) => (acc << 16n) | BigInt(group), 0n)
}

function formatV4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.')
}

/** RFC 5952: lowercase, no leading zeros, the first longest run of two or more zero groups as "::". */
function formatV6(value: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) =>
    Number((value >> BigInt(112 - 16 * i)) & 0xffffn)
  )
  let bestStart = -1
  let bestLength = 1
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let end = i
    while (end < 8 && groups[end] === 0) end++
    if (end - i > bestLength) {
      bestStart = i
      bestLength = end - i
    }
    i = end
  }
  const hex = (list: number[]): string => list.map((group) => group.toString(16)).join(':')
  if (bestStart < 0) return hex(groups)
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`
}
