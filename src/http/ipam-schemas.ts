import * as v from 'valibot'
import { StringMap } from './schemas.ts'

/**
 * Request bodies of the remote IPAM protocol (moby daemon/libnetwork/ipams/remote/api/api.go).
 * Go writes every field ("" when unset) and nil maps as null. Objects are loose: newer engines
 * may add fields.
 */

/** map[string]string, checked by hand (schemas.ts StringMap): v.record would drop "__proto__". */
const Options = v.optional(v.nullable(StringMap), null)

const Text = (expected: string) => v.optional(v.string(expected), '')

export const RequestPoolRequest = v.looseObject({
  AddressSpace: Text('expected a string'),
  Pool: Text('expected a CIDR string'),
  SubPool: Text('expected a CIDR string or ""'),
  // --ipam-opt: accepted, none is used yet.
  Options,
  V6: v.optional(v.boolean('expected a boolean'), false),
})

// A missing PoolID or Address reads as "": the core then names the field and what it expects.
const PoolID = Text('expected the string RequestPool returned')

export const ReleasePoolRequest = v.looseObject({ PoolID })

export const RequestAddressRequest = v.looseObject({
  PoolID,
  Address: Text('expected an IP address string or ""'),
  Options,
})

export const ReleaseAddressRequest = v.looseObject({
  PoolID,
  Address: Text('expected an IP address string'),
})
