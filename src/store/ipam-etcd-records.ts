import * as v from 'valibot'
import { ALLOCATION_KINDS } from '../driver/ipam/model.ts'
import type { Allocation } from '../driver/ipam/model.ts'
import { decodeVersioned, Holder } from './ipam-records.ts'

/**
 * The value of one etcd allocation key (ipam-etcd-store.ts), versioned apart from the local
 * store's files: hosts of one cluster may run different plugin versions, so a value of a newer
 * version is refused and left untouched, never rewritten in an older shape.
 */
export const IPAM_ETCD_VALUE_VERSION = 1

export const EtcdValue = v.object({
  version: v.literal(IPAM_ETCD_VALUE_VERSION),
  address: v.string(),
  kind: v.picklist(ALLOCATION_KINDS),
  holders: v.pipe(v.array(Holder), v.minLength(1)),
  /**
   * Random per write: a commit whose answer was lost (timeout, member died) and that is retried
   * on another member recognises its own write by it, where an equal allocation written by
   * another host (two hosts with the same HOST_ID) would not match.
   */
  write: v.string(),
})

export function encodeValue(allocation: Allocation, write: string): string {
  const { address, kind, holders } = allocation
  return JSON.stringify({ version: IPAM_ETCD_VALUE_VERSION, address, kind, holders, write })
}

/** The allocation, or why it cannot be used, or the version of a newer plugin's value (not judged). */
export function decodeValue(
  text: string
): { allocation: Allocation } | { reason: string } | { newer: number } {
  const decoded = decodeVersioned(text, IPAM_ETCD_VALUE_VERSION, EtcdValue)
  if (!('value' in decoded)) return decoded
  const { address, kind, holders } = decoded.value
  return { allocation: { address, kind, holders } }
}
