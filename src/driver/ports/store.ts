import type { EndpointRecord, NetworkRecord } from '../model.ts'

export interface StoreSnapshot {
  /** Random id of this state directory: marks the links this plugin instance owns. */
  instanceId: string
  networks: NetworkRecord[]
  endpoints: EndpointRecord[]
}

/**
 * A record in place: it survives a crash of the plugin (it is in the page cache, under its name),
 * and `durable` settles once it would survive a crash of the machine too (fsynced).
 */
export interface Placed {
  durable: Promise<void>
}

/**
 * The driver core's port to durable state; src/store implements it. Every write is atomic; deletes
 * of missing records succeed.
 */
export interface Store {
  load(): Promise<StoreSnapshot>
  saveNetwork(network: NetworkRecord): Promise<void>
  deleteNetwork(id: string): Promise<void>
  /**
   * Writes an endpoint record and answers once it is in place, before the fsyncs: CreateEndpoint
   * answers then, and Join waits for `durable` (no container uses an endpoint a power loss could
   * forget).
   */
  placeEndpoint(endpoint: EndpointRecord): Promise<Placed>
  deleteEndpoint(id: string): Promise<void>
}
