import type { EndpointRecord, NetworkRecord } from '../model.ts'

export interface StoreSnapshot {
  /** Random id of this state directory: marks the links this plugin instance owns. */
  instanceId: string
  networks: NetworkRecord[]
  endpoints: EndpointRecord[]
}

/**
 * The driver core's port to durable state; src/store implements it. Every write is atomic; deletes
 * of missing records succeed.
 */
export interface Store {
  load(): Promise<StoreSnapshot>
  saveNetwork(network: NetworkRecord): Promise<void>
  deleteNetwork(id: string): Promise<void>
  saveEndpoint(endpoint: EndpointRecord): Promise<void>
  deleteEndpoint(id: string): Promise<void>
}
