import * as v from 'valibot'
import { ALLOCATION_KINDS } from '../driver/ipam/model.ts'

/**
 * The format of the IPAM's table files, versioned apart from records.ts (networks, endpoints):
 * the two change at different times. Same rule: a newer version is refused and left untouched,
 * and a change bumps this number with a step from the previous version.
 */
export const IPAM_STATE_VERSION = 1

const Revision = v.pipe(v.number(), v.safeInteger(), v.minValue(1))

/** Who holds an allocation: the same shape in the local files and in etcd values. */
export const Holder = v.object({
  host: v.string(),
  poolId: v.string(),
  options: v.optional(v.record(v.string(), v.string())),
})

/** One subnet's allocations (ipam-local-store.ts), as written. */
export const SubnetFile = v.object({
  version: v.literal(IPAM_STATE_VERSION),
  addressSpace: v.string(),
  subnet: v.string(),
  revision: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  allocations: v.array(
    v.object({
      address: v.string(),
      kind: v.picklist(ALLOCATION_KINDS),
      revision: Revision,
      holders: v.pipe(v.array(Holder), v.minLength(1)),
    })
  ),
})

export type SubnetFileContent = v.InferOutput<typeof SubnetFile>

/**
 * `text` parsed against `schema` at format version `current`: the value, or why it cannot be used,
 * or the version of a newer plugin's value (its shape is unknown here, so it is not judged). The
 * local store's files and the etcd store's values both read through this.
 */
export function decodeVersioned<S extends v.GenericSchema>(
  text: string,
  current: number,
  schema: S
): { value: v.InferOutput<S> } | { reason: string } | { newer: number } {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    return { reason: `invalid JSON: ${(error as Error).message}` }
  }
  const version = (json as { version?: unknown } | null)?.version
  if (typeof version === 'number' && Number.isSafeInteger(version) && version > current)
    return { newer: version }
  const result = v.safeParse(schema, json)
  if (!result.success) return { reason: `schema mismatch: ${v.summarize(result.issues)}` }
  return { value: result.output }
}

/** The content, or why it cannot be used, or the version of a newer plugin's file (not judged). */
export function decodeSubnetFile(
  text: string
): { file: SubnetFileContent } | { reason: string } | { newer: number } {
  const decoded = decodeVersioned(text, IPAM_STATE_VERSION, SubnetFile)
  return 'value' in decoded ? { file: decoded.value } : decoded
}
