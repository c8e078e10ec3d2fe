import { DriverError, messageOf } from '../errors.ts'
import type { Logger } from '../log.ts'
import type { PendingDurability } from './durability.ts'
import type { EarlyLinks } from './early-link.ts'
import type { IpvlanBatcher } from './ipvlan-batcher.ts'
import type { LinkReaper } from './link-reaper.ts'
import type { KeyedMutex, KeyedSharedLock } from './lock.ts'
import type { NetworkRecord } from './model.ts'
import type { LinkLayer } from './ports/link-layer.ts'
import type { Store } from './ports/store.ts'
import type { DriverState } from './state.ts'

/**
 * What every lifecycle phase (network, endpoint, join/leave, setup, reconcile) works over. Memory
 * (`state`) is only updated after `store` accepted the change.
 */
export interface DriverContext {
  readonly links: LinkLayer
  readonly store: Store
  readonly log: Logger
  readonly state: DriverState
  /** Marks the links this plugin instance owns (see naming.ts). */
  readonly instanceId: string
  /**
   * This host's HOST_ID (default: its host name), named in every error about this host's
   * interfaces: an operator of a fleet sees which host lacks one.
   */
  readonly hostId: string
  readonly mutex: KeyedMutex
  /**
   * Per network: endpoint operations share it (independent endpoints run concurrently, each
   * serialised on its own `endpointKey`); the network's creation and deletion hold it alone.
   */
  readonly networkLock: KeyedSharedLock
  /** Deletes deleted endpoints' links off Docker's critical path. */
  readonly reaper: LinkReaper
  /** Endpoint links started right after CreateEndpoint, for Join to use. */
  readonly earlyLinks: EarlyLinks
  /** Endpoint records CreateEndpoint placed whose fsyncs Join waits for. */
  readonly durability: PendingDurability
  /** Endpoint link creations, batched when they arrive together. */
  readonly ipvlans: IpvlanBatcher
}

/** Mutex key of one endpoint: its create, join and delete run one after another. */
export const endpointKey = (endpointId: string): string => `ep:${endpointId}`

/** Lock key taken by network creation and deletion: the one-network-per-parent rule spans networks. */
export const ALL_NETWORKS = 'networks'

/** How errors name this host, after "the host" or "this host": "(HOST_ID node-b)". */
export const hostLabel = (hostId: string): string => `(HOST_ID ${hostId})`

/** Docker IDs as they appear in logs and messages: the first 12 characters, as `docker` prints them. */
export const short = (id: string): string => id.slice(0, 12)

export function requireNetwork(ctx: DriverContext, networkId: string): NetworkRecord {
  const network = ctx.state.network(networkId)
  if (!network) {
    throw new DriverError(
      'not-found',
      `network ${short(networkId)} not found: it was not created by this plugin (or its state directory was replaced)`
    )
  }
  return network
}

/** A store write that failed: Docker may retry, so the message says what could not be saved. */
export function stateFailure(what: string, error: unknown): DriverError {
  return new DriverError(
    'unavailable',
    `${what}: the state directory could not be written: ${messageOf(error)}`,
    { cause: error }
  )
}
