import type { Logger } from '../log.ts'
import type { DriverContext } from './context.ts'
import type { CreateEndpointInput } from './endpoint.ts'
import { createEndpoint, deleteEndpoint, endpointOperInfo } from './endpoint.ts'
import { join, leave } from './join-leave.ts'
import { PendingDurability } from './durability.ts'
import { EarlyLinks } from './early-link.ts'
import { IpvlanBatcher } from './ipvlan-batcher.ts'
import { LinkReaper } from './link-reaper.ts'
import { KeyedMutex, KeyedSharedLock } from './lock.ts'
import type { EndpointRecord, JoinResult, NetworkRecord } from './model.ts'
import type { CreateNetworkInput } from './network.ts'
import { allocateNetwork, createNetwork, deleteNetwork, gwAllocCheck } from './network.ts'
import type { NetworkOptionsInput } from './options.ts'
import type { LinkLayer } from './ports/link-layer.ts'
import type { Store } from './ports/store.ts'
import type { ReconcileReport } from './reconcile.ts'
import { reconcile } from './reconcile.ts'
import { DriverState } from './state.ts'

export type { CreateEndpointInput, CreateNetworkInput, ReconcileReport }

export interface DriverDeps {
  links: LinkLayer
  store: Store
  log: Logger
  /** HOST_ID (config.ts; default: the host name): errors about this host's interfaces name it. */
  hostId: string
  /**
   * false: endpoint links are made at Join only, as they are when the plugin restarted between
   * CreateEndpoint and Join or the early start failed. Tests of that path set it; default true.
   */
  earlyLinks?: boolean
}

/**
 * The driver core: Docker's network-driver operations over a LinkLayer and a Store, as the HTTP
 * layer calls them. Each operation lives in the file of its lifecycle phase (network.ts,
 * endpoint.ts, join-leave.ts, reconcile.ts; kernel work in setup.ts, parent policy in parent.ts),
 * all over one shared DriverContext. No I/O of its own and no third-party imports.
 */
export class IpvlanDriver {
  private readonly ctx: DriverContext

  private constructor(ctx: DriverContext) {
    this.ctx = ctx
  }

  /** Loads the persisted state. Call `reconcile()` afterwards to sweep links nobody owns. */
  static async open(deps: DriverDeps): Promise<IpvlanDriver> {
    const snapshot = await deps.store.load()
    deps.log.info('state loaded', {
      networks: snapshot.networks.length,
      endpoints: snapshot.endpoints.length,
    })
    return new IpvlanDriver({
      ...deps,
      state: new DriverState(snapshot.networks, snapshot.endpoints),
      instanceId: snapshot.instanceId,
      mutex: new KeyedMutex(),
      networkLock: new KeyedSharedLock(),
      reaper: new LinkReaper(deps.links, deps.log),
      earlyLinks: new EarlyLinks(deps.earlyLinks ?? true),
      durability: new PendingDurability(),
      ipvlans: new IpvlanBatcher(deps.links),
    })
  }

  /** Read-only views for the HTTP layer's status output and for tests. */
  networks(): NetworkRecord[] {
    return this.ctx.state.allNetworks()
  }

  endpoints(): EndpointRecord[] {
    return this.ctx.state.allEndpoints()
  }

  /** Links of deleted endpoints not deleted yet (they go right after DeleteEndpoint answers). */
  pendingLinkDeletes(): number {
    return this.ctx.reaper.pending
  }

  /** Resolves once every queued link deletion is done: at shutdown, and for benchmarks. */
  drainLinkDeletes(): Promise<void> {
    return this.ctx.reaper.drain()
  }

  /**
   * Resolves once no work runs behind an answer (early starts, queued deletions, record fsyncs):
   * tests.
   */
  async settled(): Promise<void> {
    await this.ctx.earlyLinks.idle()
    await this.ctx.reaper.drain()
    await this.ctx.durability.idle()
  }

  reconcile(): Promise<ReconcileReport> {
    return reconcile(this.ctx)
  }

  capabilities(): { scope: 'local'; connectivityScope: 'global'; gwAllocChecker: true } {
    return { scope: 'local', connectivityScope: 'global', gwAllocChecker: true }
  }

  gwAllocCheck(options: NetworkOptionsInput): { skipIPv4: boolean; skipIPv6: boolean } {
    return gwAllocCheck(options)
  }

  allocateNetwork(options: NetworkOptionsInput): Record<string, string> {
    return allocateNetwork(options)
  }

  createNetwork(input: CreateNetworkInput): Promise<void> {
    return createNetwork(this.ctx, input)
  }

  deleteNetwork(networkId: string): Promise<void> {
    return deleteNetwork(this.ctx, networkId)
  }

  createEndpoint(input: CreateEndpointInput): Promise<void> {
    return createEndpoint(this.ctx, input)
  }

  deleteEndpoint(networkId: string, endpointId: string): Promise<void> {
    return deleteEndpoint(this.ctx, networkId, endpointId)
  }

  endpointOperInfo(networkId: string, endpointId: string): Record<string, string> {
    return endpointOperInfo(this.ctx, networkId, endpointId)
  }

  join(networkId: string, endpointId: string): Promise<JoinResult> {
    return join(this.ctx, networkId, endpointId)
  }

  leave(): void {
    leave()
  }
}
