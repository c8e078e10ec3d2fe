import * as v from 'valibot'

/**
 * Request bodies of the libnetwork remote-driver protocol (moby daemon/libnetwork/drivers/remote/
 * api/api.go). Objects are loose: newer engines add fields, and Go ignores unknown keys too.
 */
const Id = v.pipe(
  v.string('expected a string'),
  v.regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hexadecimal characters')
)

/**
 * A network's ID: 64 hex characters for a local network; a swarm-scoped network (`--scope swarm
 * --config-from`) carries the ID swarmkit gave it, 25 base-36 characters (swarmkit
 * identity.NewID), e.g. riepehhrkplwbvmint19iq2qs.
 */
const NetworkId = v.pipe(
  v.string('expected a string'),
  v.regex(
    /^(?:[0-9a-f]{64}|[0-9a-z]{25})$/,
    'expected 64 lowercase hexadecimal characters (or a swarm network ID: 25 lowercase letters and digits)'
  )
)

/**
 * A map of strings (Docker's map[string]string). Checked by hand rather than with v.record, which
 * drops keys such as "__proto__": those must reach the option parser and be refused by name.
 */
export const StringMap = v.custom<Record<string, string>>(
  (input) =>
    typeof input === 'object' &&
    input !== null &&
    !Array.isArray(input) &&
    Object.values(input).every((value) => typeof value === 'string'),
  'expected an object whose values are strings'
)

const IpamData = v.looseObject({
  AddressSpace: v.optional(v.string('expected a string')),
  Pool: v.string('expected a CIDR string'),
  Gateway: v.optional(v.string('expected a CIDR string')),
  // Values may be "<nil>" (an aux address outside --ip-range): we never read them.
  AuxAddresses: v.optional(v.nullable(v.record(v.string(), v.unknown()))),
})

const IpamList = v.optional(v.nullable(v.array(IpamData, 'expected an array')), null)

/** The Options map of CreateNetwork / GwAllocCheck (libnetwork's n.generic). */
const NetworkOptions = v.optional(
  v.nullable(
    v.looseObject({
      'com.docker.network.generic': v.optional(v.nullable(StringMap), null),
      'com.docker.network.internal': v.optional(v.boolean('expected a boolean')),
      'com.docker.network.enable_ipv4': v.optional(v.boolean('expected a boolean')),
      'com.docker.network.enable_ipv6': v.optional(v.boolean('expected a boolean')),
    })
  ),
  null
)

const AnyMap = v.optional(v.nullable(v.record(v.string(), v.unknown())), null)

export const Empty = v.looseObject({})

export const CreateNetworkRequest = v.looseObject({
  NetworkID: NetworkId,
  Options: NetworkOptions,
  IPv4Data: IpamList,
  IPv6Data: IpamList,
})

export const GwAllocCheckRequest = v.looseObject({ Options: NetworkOptions })

export const AllocateNetworkRequest = v.looseObject({
  NetworkID: NetworkId,
  Options: v.optional(v.nullable(StringMap), null),
  IPv4Data: IpamList,
  IPv6Data: IpamList,
})

export const NetworkRequest = v.looseObject({ NetworkID: NetworkId })

export const EndpointRequest = v.looseObject({ NetworkID: NetworkId, EndpointID: Id })

export const CreateEndpointRequest = v.looseObject({
  NetworkID: NetworkId,
  EndpointID: Id,
  Interface: v.optional(
    v.nullable(
      v.looseObject({
        Address: v.optional(v.string('expected a CIDR string'), ''),
        AddressIPv6: v.optional(v.string('expected a CIDR string'), ''),
        MacAddress: v.optional(v.string('expected a string'), ''),
      })
    ),
    null
  ),
  Options: AnyMap,
})

export const JoinRequest = v.looseObject({
  NetworkID: NetworkId,
  EndpointID: Id,
  SandboxKey: v.optional(v.string('expected a string')),
  Options: AnyMap,
})

export const ExternalConnectivityRequest = v.looseObject({
  NetworkID: NetworkId,
  EndpointID: Id,
  Options: AnyMap,
})

export const DiscoveryRequest = v.looseObject({
  DiscoveryType: v.number('expected a number'),
  DiscoveryData: v.optional(v.unknown()),
})

export type CreateNetworkBody = v.InferOutput<typeof CreateNetworkRequest>
export type NetworkOptionsBody = v.InferOutput<typeof NetworkOptions>
