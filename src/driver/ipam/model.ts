/**
 * The IPAM's vocabulary: who holds an address and why. The store port and the backends take these
 * shapes from here.
 */

/**
 * Why an address is held. A gateway is shared: every network on the subnet, on every host, names
 * the same router. A static address (--ip, --aux-address) and a dynamic one have one holder.
 */
export const ALLOCATION_KINDS = ['gateway', 'static', 'dynamic'] as const
export type AllocationKind = (typeof ALLOCATION_KINDS)[number]

export interface Holder {
  /** The host that asked: releases from other hosts leave it alone. */
  host: string
  /** The pool it was asked through (one subnet may have several pools, one per --ip-range). */
  poolId: string
  /** What Docker sent with the request (endpoint name, MAC, request type), when anything. */
  options?: Record<string, string> | undefined
}

export interface Allocation {
  /** Canonical plain address (address.ts formatIp): the key of the entry. */
  address: string
  kind: AllocationKind
  /** One for static and dynamic; one per request for a gateway (so the same host may repeat). */
  holders: Holder[]
}

/** Docker's option keys the IPAM reads (moby libnetwork ipamapi and netlabel). */
export const REQUEST_ADDRESS_TYPE = 'RequestAddressType'
export const GATEWAY_REQUEST = 'com.docker.network.gateway'
export const ENDPOINT_NAME = 'com.docker.network.endpoint.name'
