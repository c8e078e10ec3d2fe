/**
 * The driver core's vocabulary. The adapters (link layer, store, HTTP) take these lists and types
 * from here; nothing else spells them out.
 */
export const IPVLAN_MODES = ['l2', 'l3', 'l3s'] as const
export const IPVLAN_FLAGS = ['bridge', 'private', 'vepa'] as const
export type IpvlanMode = (typeof IPVLAN_MODES)[number]
export type IpvlanFlag = (typeof IPVLAN_FLAGS)[number]

/** One IPAM pool of a network: CIDR pool and, when Docker reserved one, the gateway IP (no mask). */
export interface Subnet {
  pool: string
  gateway?: string | undefined
  /**
   * The IPAM address space Docker named at CreateNetwork ("lan": this plugin's IPAM). Absent in
   * records of older plugin versions: IPAM reconciliation leaves such subnets alone.
   */
  addressSpace?: string | undefined
  /**
   * The pool's `--aux-address` values, plain IPs, as Docker reserved them before CreateNetwork.
   * Absent in records of older plugin versions (and when there are none): a switch to etcd then
   * cannot copy them (ipam/reservations.ts).
   */
  auxAddresses?: string[] | undefined
}

/** How a network's parent came to be, which decides whether we delete it with the network. */
export const PARENT_ORIGINS = ['existing', 'vlan', 'dummy'] as const
export type ParentOrigin = (typeof PARENT_ORIGINS)[number]

/** Everything needed to serve a network after a restart; persisted as is. */
export interface NetworkRecord {
  id: string
  /** The interface, as named or as `-o parent=auto` resolved at creation: later work uses this. */
  parent: string
  /**
   * `-o parent` as given when it named no interface itself (`auto`, `auto.10`); absent otherwise.
   * A repeated CreateNetwork matches on it, so a moved default route does not make it differ.
   */
  requestedParent?: string | undefined
  parentOrigin: ParentOrigin
  /** For a parent we created as an 802.1Q sub-interface: its master and VLAN id. */
  vlan?: { master: string; id: number } | undefined
  mode: IpvlanMode
  flag: IpvlanFlag
  mtu?: number | undefined
  internal: boolean
  ipv4: Subnet[]
  ipv6: Subnet[]
  /** Opted into sharing its parent (`-o shared_parent=true`); absent in older records: false. */
  sharedParent?: boolean | undefined
  /** The host's own leg on the network (`-o host_address`), when asked for. */
  hostAccess?: HostAccess | undefined
}

/** A host-side ipvlan link on the network's parent, and the host's addresses on it. */
export interface HostAccess {
  link: string
  /** "192.168.10.2/32", "2001:db8::2/128": host routes only, so no prefix route is added. */
  addresses: string[]
}

/** Everything needed to serve an endpoint after a restart; persisted as is. */
export interface EndpointRecord {
  id: string
  networkId: string
  /** Host-side name of the ipvlan link we create at Join. */
  ifname: string
  /** CIDR strings as Docker's IPAM assigned them, when present. */
  ipv4?: string | undefined
  ipv6?: string | undefined
}

/** A default or on-link route handed back to libnetwork in Join. */
export interface StaticRoute {
  destination: string
  /** 0 = next hop, 1 = connected (libnetwork types.NEXTHOP / types.CONNECTED). */
  routeType: 0 | 1
  nextHop?: string
}

export interface JoinResult {
  srcName: string
  dstPrefix: string
  gateway?: string
  gatewayIPv6?: string
  staticRoutes: StaticRoute[]
  disableGatewayService: boolean
}
