import * as v from 'valibot'
import { IPVLAN_FLAGS, IPVLAN_MODES, PARENT_ORIGINS } from '../driver/model.ts'

/**
 * The state format this code writes and the newest it reads. A format change bumps this number
 * and adds the step from the previous version to MIGRATIONS; the schemas below describe only
 * this version.
 */
export const CURRENT_STATE_VERSION = 1

/** Step from version N to N + 1, under key N: fills in what version N lacks. None yet. */
const MIGRATIONS: Readonly<
  Partial<Record<number, (record: Record<string, unknown>) => Record<string, unknown>>>
> = {}

/**
 * Brings a parsed state file up to CURRENT_STATE_VERSION. `newer` is the version of a file a
 * newer plugin wrote: its shape is unknown here, so the caller must not judge or touch it. A file
 * without `version` is read as version 1, the first format. A version that no plugin writes (a
 * string such as "2", null, 0, a fraction) goes on unchanged for the schema to reject as invalid
 * content.
 */
export function migrate(json: unknown): { newer: number } | { value: unknown } {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return { value: json }
  const found: unknown = (json as { version?: unknown }).version
  const version = found === undefined ? 1 : found
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1)
    return { value: json }
  if (version > CURRENT_STATE_VERSION) return { newer: version }
  let record: Record<string, unknown> = { ...json, version }
  for (let from = version; from < CURRENT_STATE_VERSION; from++) {
    const step = MIGRATIONS[from]
    if (step === undefined) throw new Error(`no migration from state version ${from}`)
    record = { ...step(record), version: from + 1 }
  }
  return { value: record }
}

const Subnet = v.object({
  pool: v.string(),
  gateway: v.optional(v.string()),
  addressSpace: v.optional(v.string()),
  auxAddresses: v.optional(v.array(v.string())),
})

export const NetworkFile = v.object({
  version: v.literal(CURRENT_STATE_VERSION),
  id: v.string(),
  parent: v.string(),
  requestedParent: v.optional(v.string()),
  parentOrigin: v.picklist(PARENT_ORIGINS),
  vlan: v.optional(v.object({ master: v.string(), id: v.number() })),
  mode: v.picklist(IPVLAN_MODES),
  // Missing in a record means the default, the moby#44925 lesson: never fail on an older file.
  flag: v.optional(v.picklist(IPVLAN_FLAGS), 'bridge'),
  mtu: v.optional(v.number()),
  internal: v.boolean(),
  ipv4: v.array(Subnet),
  ipv6: v.array(Subnet),
  sharedParent: v.optional(v.boolean()),
  hostAccess: v.optional(v.object({ link: v.string(), addresses: v.array(v.string()) })),
})

export const EndpointFile = v.object({
  version: v.literal(CURRENT_STATE_VERSION),
  id: v.string(),
  networkId: v.string(),
  ifname: v.string(),
  ipv4: v.optional(v.string()),
  ipv6: v.optional(v.string()),
})
