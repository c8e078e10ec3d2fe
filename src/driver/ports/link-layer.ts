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

export interface LinkLayer {
  /** All links of the host namespace, with their alias (our ownership marker). */
  list(): Promise<LinkInfo[]>
  /** One link, or undefined when it does not exist. */
  show(name: string): Promise<LinkInfo | undefined>
  /** Creates an ipvlan link on `parent` (left down: libnetwork brings it up in the container). */
  addIpvlan(spec: IpvlanSpec): Promise<void>
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
}

export type LinkErrorKind = 'not-found' | 'exists' | 'unsupported' | 'busy' | 'timeout' | 'failed'

/** A failed `ip` run, classified so the driver can turn it into a message for the operator. */
export class LinkError extends Error {
  readonly kind: LinkErrorKind
  /** The device `ip` complained about, when its message names one. */
  readonly device: string | undefined
  readonly command: string

  constructor(kind: LinkErrorKind, message: string, command: string, device?: string) {
    super(message)
    this.name = 'LinkError'
    this.kind = kind
    this.command = command
    this.device = device
  }
}
