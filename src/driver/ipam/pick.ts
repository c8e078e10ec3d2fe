import { hostBits, lastOf } from './address.ts'
import type { Prefix } from './address.ts'

/**
 * Which addresses of a pool are never handed out: the network address and, for IPv4, the
 * broadcast address. Point-to-point prefixes (/31 and /32, /127 and /128) use every address.
 */
export function reservedOf(pool: Prefix): bigint[] {
  if (hostBits(pool) <= 1) return []
  return pool.family === 4 ? [pool.network, lastOf(pool)] : [pool.network]
}

/** The gateway Docker gets when it names none: the first usable address of the subnet. */
export function firstUsable(pool: Prefix): bigint {
  return hostBits(pool) <= 1 ? pool.network : pool.network + 1n
}

/**
 * The lowest address of `range` that is neither reserved in `pool` nor held, or with `skip`, the
 * (skip + 1)-th lowest (the highest free one when there are fewer). Each step passes a held,
 * reserved or skipped address, so the walk is bounded by the number of allocations plus `skip`,
 * never by the size of the range: an IPv6 /64 costs what a /24 costs.
 */
export function firstFree(
  range: Prefix,
  pool: Prefix,
  held: ReadonlySet<bigint>,
  skip = 0
): bigint | undefined {
  const excluded = new Set([...held, ...reservedOf(pool)])
  const last = lastOf(range)
  let found: bigint | undefined
  let left = skip
  for (let candidate = range.network; candidate <= last; candidate++) {
    if (excluded.has(candidate)) continue
    found = candidate
    if (left-- === 0) break
  }
  return found
}
