import { containsPrefix, formatPrefix, parsePrefix } from './address.ts'
import type { Prefix } from './address.ts'

/**
 * A PoolID is the pool itself, spelled out: "<space>,<subnet>" or "<space>,<subnet>,<ip-range>",
 * canonical CIDRs. Every host that asks for the same pool gets the same ID without asking anyone,
 * and the ID alone says which addresses a request may get, so nothing about pools is stored.
 */
export interface PoolSpec {
  addressSpace: string
  pool: Prefix
  /** The --ip-range dynamic addresses come from; the whole pool when absent. */
  subPool?: Prefix | undefined
}

/** Address space names end up in file and key names: keep them to a safe alphabet. */
export const ADDRESS_SPACE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/
export const ADDRESS_SPACE_RULE =
  '1 to 64 letters, digits, "_", "." or "-", starting with a letter or digit'

export function encodePoolId(spec: PoolSpec): string {
  const parts = [spec.addressSpace, formatPrefix(spec.pool)]
  if (spec.subPool) parts.push(formatPrefix(spec.subPool))
  return parts.join(',')
}

/** The pool an ID stands for; undefined unless it is exactly what encodePoolId writes. */
export function decodePoolId(text: string): PoolSpec | undefined {
  const [addressSpace, poolText, subText, ...rest] = text.split(',')
  if (addressSpace === undefined || poolText === undefined || rest.length > 0) return undefined
  if (!ADDRESS_SPACE.test(addressSpace)) return undefined
  const pool = parsePrefix(poolText)
  const subPool = subText === undefined ? undefined : parsePrefix(subText)
  if (!pool || (subText !== undefined && (!subPool || !containsPrefix(pool, subPool))))
    return undefined
  const spec: PoolSpec = { addressSpace, pool, subPool }
  return encodePoolId(spec) === text ? spec : undefined
}
