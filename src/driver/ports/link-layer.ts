import type { IpvlanFlag, IpvlanMode } from '../model.ts'

/**
 * The driver core's port to the kernel. The driver only sees this interface; the iproute2 adapter
 * (src/link) implements it and is the only code that runs processes. Every name passed in has
 * already been validated by the caller, and implementations validate again before running anything.
 */

export interface LinkInfo {
  name: string
  alias: string | undefined
  kind: string | undefined
  up: boolean
}

export interface IpvlanSpec {
  name: string
  parent: string
  mode: IpvlanMode
  flag: IpvlanFlag
  mtu?: number | undefined
  alias: string
}

/** A default route of the main table, as `ip route show default` lists it. */
export interface DefaultRoute {
  /** The interfaces it leaves by: one, several for a multipath route, none when ip names none. */
  devices: string[]
  /** The kernel uses the route of the lowest metric (ip prints none for 0). */
  metric: number
}

/** The host's own leg on a network (host access): an ipvlan link with addresses, brought up. */
export interface HostLinkSpec extends IpvlanSpec {
  /** Host routes of the host's addresses: "a.b.c.d/32", "x::y/128". */
  addresses: string[]
}

export interface LinkLayer {
  /** All links of the host namespace, with their alias (our ownership marker). */
  list(): Promise<LinkInfo[]>
  /** One link, or undefined when it does not exist. */
  show(name: string): Promise<LinkInfo | undefined>
  /** Creates an ipvlan link on `parent` (left down: libnetwork brings it up in the container). */
  addIpvlan(spec: IpvlanSpec): Promise<void>
  /**
   * Creates several ipvlan links in one go, in order, stopping at the first that fails (so no
   * later line can touch a link that is not ours). The outcome says how far it got; it rejects only
   * when a spec is refused before anything runs.
   */
  addIpvlans(specs: IpvlanSpec[]): Promise<BatchOutcome>
  /** Creates and immediately deletes an ipvlan link: proves the kernel and the parent accept it. */
  probeIpvlan(spec: IpvlanSpec): Promise<void>
  /** Creates an 802.1Q sub-interface `name` of `master` and brings it up. */
  addVlan(spec: { name: string; master: string; vlanId: number; alias: string }): Promise<void>
  /** Creates a dummy link and brings it up (the parent of networks without `parent`). */
  addDummy(spec: { name: string; alias: string }): Promise<void>
  /** Brings a link up (a parent we own that went down). */
  setUp(name: string): Promise<void>
  /** Deletes a link; resolves false when it did not exist. */
  remove(name: string): Promise<boolean>
  /**
   * Deletes links in one go, in order, stopping at the first that fails: the outcome says how far
   * it got (`made`: how many are gone). Rejects only when a name is refused before anything runs.
   */
  removeAll(names: string[]): Promise<BatchOutcome>
  /** Creates the host's ipvlan link on a network, gives it its addresses and brings it up. */
  addHostLink(spec: HostLinkSpec): Promise<void>
  /** Adds a route to each destination ("ip/32", "ip/128") through `link`; 'exists' if one is there. */
  addRoutes(link: string, destinations: string[]): Promise<void>
  /** The devices of the routes to exactly `destination` in the main table. */
  routeDevices(destination: string): Promise<string[]>
  /** Deletes the routes to `destinations` through `link`; ones already gone are no error. */
  removeRoutes(link: string, destinations: string[]): Promise<void>
  /** The unicast default routes of one family in the main table (none: an empty list). */
  defaultRoutes(family: 4 | 6): Promise<DefaultRoute[]>
}

/** How far a batch of link creations (or deletions) got. */
export interface BatchOutcome {
  /** specs[0 .. made) exist now; the ones after the failed one were not tried. */
  made: number
  /** Why specs[made] failed. */
  error?: LinkError | undefined
  /**
   * The run failed as a whole (killed, timed out, never started, or ip said nothing of which line
   * failed): no spec's fate is known, and `error` is every spec's.
   */
  whole?: boolean
}

export type LinkErrorKind = 'not-found' | 'exists' | 'unsupported' | 'busy' | 'timeout' | 'failed'

/** How the `ip` process ended, as the process runner saw it: kept so no cause is lost. */
export interface LinkErrorDetails {
  /** The device `ip` complained about, when its message names one. */
  device?: string | undefined
  /** The errno code when `ip` could not be started at all (e.g. ENOENT: no such binary). */
  code?: string | undefined
  /** The signal that ended `ip` (e.g. SIGKILL), when it did not exit by itself. */
  signal?: string | undefined
  exitCode?: number | undefined
  /** The runner's own error, when there was one. */
  cause?: unknown
}

/** A failed `ip` run, classified so the driver can turn it into a message for the operator. */
export class LinkError extends Error {
  readonly kind: LinkErrorKind
  readonly command: string
  readonly device: string | undefined
  readonly code: string | undefined
  readonly signal: string | undefined
  readonly exitCode: number | undefined

  constructor(
    kind: LinkErrorKind,
    message: string,
    command: string,
    details: LinkErrorDetails = {}
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.name = 'LinkError'
    this.kind = kind
    this.command = command
    this.device = details.device
    this.code = details.code
    this.signal = details.signal
    this.exitCode = details.exitCode
  }
}
