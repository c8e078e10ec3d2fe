import type { EndpointRecord, NetworkRecord } from '../../src/driver/model.ts'
import type { Placed, Store, StoreSnapshot } from '../../src/driver/ports/store.ts'

/**
 * A Store in memory, with a switch that makes every write fail (a read-only or full disk), and one
 * that decides when a placed endpoint record becomes durable (its fsyncs).
 */
export class MemoryStore implements Store {
  readonly networks = new Map<string, NetworkRecord>()
  readonly endpoints = new Map<string, EndpointRecord>()
  writes = 0
  failWrites: Error | undefined
  /** What placeEndpoint's `durable` is: by default durable at once. */
  durability: (endpointId: string) => Promise<void> = () => Promise.resolve()
  readonly instanceId: string

  constructor(instanceId = 'feedf00d') {
    this.instanceId = instanceId
  }

  async load(): Promise<StoreSnapshot> {
    return {
      instanceId: this.instanceId,
      networks: [...this.networks.values()].map((n) => structuredClone(n)),
      endpoints: [...this.endpoints.values()].map((e) => structuredClone(e)),
    }
  }

  private check(): void {
    if (this.failWrites) throw this.failWrites
    this.writes++
  }

  async saveNetwork(network: NetworkRecord): Promise<void> {
    this.check()
    this.networks.set(network.id, structuredClone(network))
  }

  async deleteNetwork(id: string): Promise<void> {
    this.check()
    this.networks.delete(id)
  }

  async placeEndpoint(endpoint: EndpointRecord): Promise<Placed> {
    this.check()
    this.endpoints.set(endpoint.id, structuredClone(endpoint))
    return { durable: this.durability(endpoint.id) }
  }

  async deleteEndpoint(id: string): Promise<void> {
    this.check()
    this.endpoints.delete(id)
  }
}
