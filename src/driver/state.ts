import type { EndpointRecord, NetworkRecord } from './model.ts'

/** In-memory view of the persisted records, indexed the ways the driver looks them up. */
export class DriverState {
  private readonly networks = new Map<string, NetworkRecord>()
  private readonly endpoints = new Map<string, EndpointRecord>()
  private readonly endpointsByNetwork = new Map<string, Set<string>>()

  constructor(networks: NetworkRecord[] = [], endpoints: EndpointRecord[] = []) {
    for (const network of networks) this.putNetwork(network)
    for (const endpoint of endpoints) this.putEndpoint(endpoint)
  }

  network(id: string): NetworkRecord | undefined {
    return this.networks.get(id)
  }

  networkByParent(parent: string): NetworkRecord | undefined {
    return this.networksByParent(parent)[0]
  }

  /** Every network on `parent`: more than one only when they all opted into sharing it. */
  networksByParent(parent: string): NetworkRecord[] {
    return [...this.networks.values()].filter((network) => network.parent === parent)
  }

  allNetworks(): NetworkRecord[] {
    return [...this.networks.values()]
  }

  putNetwork(network: NetworkRecord): void {
    this.networks.set(network.id, network)
    if (!this.endpointsByNetwork.has(network.id)) this.endpointsByNetwork.set(network.id, new Set())
  }

  removeNetwork(id: string): void {
    this.networks.delete(id)
    this.endpointsByNetwork.delete(id)
  }

  endpoint(id: string): EndpointRecord | undefined {
    return this.endpoints.get(id)
  }

  endpointsOf(networkId: string): EndpointRecord[] {
    const ids = this.endpointsByNetwork.get(networkId) ?? new Set<string>()
    return [...ids].flatMap((id) => this.endpoints.get(id) ?? [])
  }

  allEndpoints(): EndpointRecord[] {
    return [...this.endpoints.values()]
  }

  /** Endpoints whose network is unknown are still kept: their link may need deleting later. */
  putEndpoint(endpoint: EndpointRecord): void {
    this.endpoints.set(endpoint.id, endpoint)
    let ids = this.endpointsByNetwork.get(endpoint.networkId)
    if (!ids) {
      ids = new Set()
      this.endpointsByNetwork.set(endpoint.networkId, ids)
    }
    ids.add(endpoint.id)
  }

  removeEndpoint(id: string): void {
    const endpoint = this.endpoints.get(id)
    if (!endpoint) return
    this.endpoints.delete(id)
    this.endpointsByNetwork.get(endpoint.networkId)?.delete(id)
  }
}
