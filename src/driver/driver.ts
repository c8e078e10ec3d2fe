import { DriverError, invalid, messageOf, printable } from '../errors.ts'
import type { Logger } from '../log.ts'
import type { IpvlanSpec, LinkInfo, LinkLayer } from './ports/link-layer.ts'
import { LinkError } from './ports/link-layer.ts'
import type { Store } from './ports/store.ts'
import { parseCidr } from './ipnet.ts'
import { joinResult } from './join-result.ts'
import { linkFailure } from './link-failure.ts'
import { KeyedMutex } from './lock.ts'
import type { EndpointRecord, JoinResult, NetworkRecord, ParentOrigin } from './model.ts'
import {
  dummyParentName,
  endpointLinkName,
  ownerAlias,
  parseOwnerAlias,
  parseVlanParent,
  probeLinkName,
} from './naming.ts'
import type { IpamInput, NetworkOptions, NetworkOptionsInput } from './options.ts'
import { parseNetworkOptions, parseSubnets } from './options.ts'
import { DriverState } from './state.ts'

export interface CreateNetworkInput {
  networkId: string
  options: NetworkOptionsInput
  ipv4: readonly IpamInput[]
  ipv6: readonly IpamInput[]
}

export interface CreateEndpointInput {
  networkId: string
  endpointId: string
  address: string
  addressIPv6: string
  macAddress: string
  /** A MAC given through the endpoint options (com.docker.network.endpoint.macaddress). */
  optionsMacAddress: boolean
}

export interface ReconcileReport {
  removed: string[]
}

export interface DriverDeps {
  links: LinkLayer
  store: Store
  log: Logger
}

const GLOBAL = 'networks'
const short = (id: string): string => id.slice(0, 12)

/**
 * The driver core: Docker's network-driver operations over a LinkLayer and a Store. No I/O of its
 * own and no third-party imports; every kernel change goes through `links`, every state change
 * through `store`, and memory is only updated after the store accepted the change.
 */
export class IpvlanDriver {
  private readonly links: LinkLayer
  private readonly store: Store
  private readonly log: Logger
  private readonly state: DriverState
  private readonly instanceId: string
  private readonly mutex = new KeyedMutex()

  private constructor(deps: DriverDeps, instanceId: string, state: DriverState) {
    this.links = deps.links
    this.store = deps.store
    this.log = deps.log
    this.instanceId = instanceId
    this.state = state
  }

  /** Loads the persisted state. Call `reconcile()` afterwards to sweep links nobody owns. */
  static async open(deps: DriverDeps): Promise<IpvlanDriver> {
    const snapshot = await deps.store.load()
    const state = new DriverState(snapshot.networks, snapshot.endpoints)
    deps.log.info('state loaded', {
      networks: snapshot.networks.length,
      endpoints: snapshot.endpoints.length,
    })
    return new IpvlanDriver(deps, snapshot.instanceId, state)
  }

  /** Read-only views for the HTTP layer's status output and for tests. */
  networks(): NetworkRecord[] {
    return this.state.allNetworks()
  }

  endpoints(): EndpointRecord[] {
    return this.state.allEndpoints()
  }

  /**
   * Deletes links marked as ours (alias) that no record owns: leftovers of a crash between a
   * kernel change and the state write, or of a network whose delete failed half-way.
   */
  async reconcile(): Promise<ReconcileReport> {
    return this.mutex.run(GLOBAL, async () => {
      let links: LinkInfo[]
      try {
        links = await this.links.list()
      } catch (error) {
        throw linkFailure(error, { op: 'list' })
      }
      const removed: string[] = []
      for (const link of links) {
        const mark = parseOwnerAlias(link.alias)
        if (!mark || mark.instanceId !== this.instanceId) continue
        // Ownership is checked now, not when the list was taken: a Join may have run meanwhile,
        // and an endpoint record is always written before its link is created.
        if (this.owns(link.name)) continue
        try {
          await this.links.remove(link.name)
          removed.push(link.name)
          this.log.info('removed leftover link', { link: link.name, alias: link.alias })
        } catch (error) {
          this.log.warn('could not remove leftover link', {
            link: link.name,
            error: messageOf(error),
          })
        }
      }
      return { removed }
    })
  }

  private owns(linkName: string): boolean {
    // Any parent a network uses is kept, whatever its origin: never sweep a live network's uplink.
    if (this.state.networkByParent(linkName)) return true
    return this.state.allEndpoints().some((endpoint) => endpoint.ifname === linkName)
  }

  capabilities(): { scope: 'local'; connectivityScope: 'global'; gwAllocChecker: true } {
    return { scope: 'local', connectivityScope: 'global', gwAllocChecker: true }
  }

  /** No gateway address is reserved where none is used: l3, l3s and internal networks. */
  gwAllocCheck(options: NetworkOptionsInput): { skipIPv4: boolean; skipIPv6: boolean } {
    const parsed = parseNetworkOptions(options)
    const skip = parsed.internal || parsed.mode !== 'l2'
    return { skipIPv4: skip, skipIPv6: skip }
  }

  /** Swarm managers call this for global-scope drivers only; we validate and pass nothing on. */
  allocateNetwork(options: NetworkOptionsInput): Record<string, string> {
    parseNetworkOptions(options)
    return {}
  }

  async createNetwork(input: CreateNetworkInput): Promise<void> {
    const options = parseNetworkOptions(input.options)
    const ipv4 = parseSubnets(input.ipv4, 4)
    const ipv6 = parseSubnets(input.ipv6, 6)
    if (input.options.enableIPv4 !== false && ipv4.length === 0) {
      throw invalid('IPv4Data: the ipv4 pool is empty (give --subnet, or disable IPv4)')
    }
    if (input.options.enableIPv6 === true && ipv6.length === 0) {
      throw invalid('IPv6Data: the ipv6 pool is empty (--ipv6 needs an IPv6 --subnet)')
    }
    const { networkId } = input
    await this.mutex.run(GLOBAL, () =>
      this.mutex.run(networkId, async () => {
        const parent = options.parent ?? dummyParentName(networkId)
        const known = this.state.network(networkId)
        if (known) {
          const same =
            known.parent === parent &&
            known.mode === options.mode &&
            known.flag === options.flag &&
            known.mtu === options.mtu &&
            known.internal === options.internal &&
            JSON.stringify([known.ipv4, known.ipv6]) === JSON.stringify([ipv4, ipv6])
          if (same) return
          throw new DriverError(
            'conflict',
            `network ${short(networkId)} already exists with other options`
          )
        }
        const user = this.state.networkByParent(parent)
        if (user) {
          throw new DriverError(
            'conflict',
            `option "parent": network ${short(user.id)} is already using parent interface "${parent}" (one network per parent, as with the built-in ipvlan driver)`
          )
        }
        const prepared = await this.prepareParent(networkId, parent, options)
        const record: NetworkRecord = {
          id: networkId,
          parent,
          parentOrigin: prepared.origin,
          vlan: prepared.vlan,
          mode: options.mode,
          flag: options.flag,
          mtu: options.mtu,
          internal: options.internal,
          ipv4,
          ipv6,
        }
        try {
          await this.probe(record)
          await this.store.saveNetwork(record)
        } catch (error) {
          if (prepared.created) await this.removeQuietly(parent)
          throw error instanceof DriverError ? error : stateFailure('saving network', error)
        }
        this.state.putNetwork(record)
        this.log.info('network created', {
          network: short(networkId),
          parent,
          origin: prepared.origin,
        })
      })
    )
  }

  /**
   * Finds or makes the parent. A parent we made earlier (our alias, no owner left) is adopted
   * rather than mistaken for the operator's, so it is still deleted with its network.
   */
  private async prepareParent(
    networkId: string,
    parent: string,
    options: NetworkOptions
  ): Promise<{ origin: ParentOrigin; vlan?: { master: string; id: number }; created: boolean }> {
    const existing = await this.show(parent)
    const vlan = parseVlanParent(parent)
    const vlanSpec = 'problem' in vlan ? undefined : { master: vlan.master, id: vlan.vlanId }
    if (existing) {
      const mark = parseOwnerAlias(existing.alias)
      const ours = mark?.instanceId === this.instanceId && mark.kind === 'parent'
      if (ours && existing.kind === 'dummy') {
        await this.setUp(parent)
        return { origin: 'dummy', created: false }
      }
      if (ours && existing.kind === 'vlan' && vlanSpec) {
        await this.setUp(parent)
        return { origin: 'vlan', vlan: vlanSpec, created: false }
      }
      if (options.parent === undefined) {
        throw new DriverError('conflict', `a link named "${parent}" already exists and is not ours`)
      }
      return { origin: 'existing', created: false }
    }
    if (options.parent === undefined) {
      await this.createParent(networkId, parent, undefined)
      return { origin: 'dummy', created: true }
    }
    if (!vlanSpec) {
      throw invalid(
        `option "parent": interface "${printable(parent)}" does not exist on the host, and it is not a name.VLAN sub-interface we could create (${'problem' in vlan ? vlan.problem : ''})`
      )
    }
    await this.createParent(networkId, parent, vlanSpec)
    return { origin: 'vlan', vlan: vlanSpec, created: true }
  }

  /** Makes a parent we own: an 802.1Q sub-interface when `vlan` is given, else a dummy link. */
  private async createParent(
    networkId: string,
    name: string,
    vlan: { master: string; id: number } | undefined
  ): Promise<void> {
    const alias = ownerAlias(this.instanceId, 'parent', networkId)
    try {
      if (vlan) await this.links.addVlan({ name, master: vlan.master, vlanId: vlan.id, alias })
      else await this.links.addDummy({ name, alias })
    } catch (error) {
      throw linkFailure(
        error,
        vlan ? { op: 'vlan', name, master: vlan.master } : { op: 'dummy', name }
      )
    }
  }

  /** Creates and deletes a throw-away ipvlan link: a kernel without ipvlan fails here, plainly. */
  private async probe(network: NetworkRecord): Promise<void> {
    const spec = this.ipvlanSpec(network, probeLinkName(network.id), 'probe', network.id)
    try {
      await this.links.probeIpvlan(spec)
    } catch (error) {
      if (error instanceof LinkError && error.kind === 'exists') {
        // A probe link left by a crash mid-probe: clear it and try once more.
        await this.removeLeftover(spec.name)
        try {
          await this.links.probeIpvlan(spec)
          return
        } catch (again) {
          throw linkFailure(again, { op: 'ipvlan', parent: spec.parent, name: spec.name })
        }
      }
      throw linkFailure(error, { op: 'ipvlan', parent: spec.parent, name: spec.name })
    }
  }

  async deleteNetwork(networkId: string): Promise<void> {
    await this.mutex.run(GLOBAL, () =>
      this.mutex.run(networkId, async () => {
        const network = this.state.network(networkId)
        if (!network) {
          this.log.debug('delete of unknown network ignored', { network: short(networkId) })
          return
        }
        // Links first, records last: if we die in between, the records still name the links.
        // A link we fail to delete keeps its alias, so start-up reconciliation removes it.
        const endpoints = this.state.endpointsOf(networkId)
        for (const endpoint of endpoints) await this.removeQuietly(endpoint.ifname)
        if (network.parentOrigin !== 'existing') await this.removeOwnedParent(network)
        try {
          for (const endpoint of endpoints) await this.store.deleteEndpoint(endpoint.id)
          await this.store.deleteNetwork(networkId)
        } catch (error) {
          throw stateFailure('deleting network', error)
        }
        for (const endpoint of endpoints) this.state.removeEndpoint(endpoint.id)
        this.state.removeNetwork(networkId)
        this.log.info('network deleted', { network: short(networkId) })
      })
    )
  }

  /** Deletes a parent we created, unless someone replaced it with a link that is not ours. */
  private async removeOwnedParent(network: NetworkRecord): Promise<void> {
    const link = await this.show(network.parent).catch(() => undefined)
    if (!link) return
    const mark = parseOwnerAlias(link.alias)
    if (mark?.instanceId !== this.instanceId) {
      this.log.warn('parent is no longer ours; left in place', { parent: network.parent })
      return
    }
    await this.removeQuietly(network.parent)
  }

  async createEndpoint(input: CreateEndpointInput): Promise<void> {
    if (input.macAddress !== '' || input.optionsMacAddress) {
      throw invalid(
        "Interface.MacAddress: ipvlan links cannot take a MAC address (they share the parent's), so --mac-address is not supported on this network"
      )
    }
    const ipv4 = optionalCidr(input.address, 4, 'Interface.Address')
    const ipv6 = optionalCidr(input.addressIPv6, 6, 'Interface.AddressIPv6')
    const { networkId, endpointId } = input
    await this.mutex.run(networkId, async () => {
      this.requireNetwork(networkId)
      const record: EndpointRecord = {
        id: endpointId,
        networkId,
        ifname: endpointLinkName(endpointId),
        ipv4,
        ipv6,
      }
      const known = this.state.endpoint(endpointId)
      if (known) {
        if (known.networkId === networkId && known.ipv4 === ipv4 && known.ipv6 === ipv6) return
        throw new DriverError(
          'conflict',
          `endpoint ${short(endpointId)} already exists with other addresses`
        )
      }
      try {
        await this.store.saveEndpoint(record)
      } catch (error) {
        throw stateFailure('saving endpoint', error)
      }
      this.state.putEndpoint(record)
      this.log.debug('endpoint created', { endpoint: short(endpointId), ipv4, ipv6 })
    })
  }

  async deleteEndpoint(networkId: string, endpointId: string): Promise<void> {
    // Serialise on the network the endpoint really belongs to, whatever the request says.
    const owner = this.state.endpoint(endpointId)?.networkId ?? networkId
    await this.mutex.run(owner, async () => {
      const endpoint = this.state.endpoint(endpointId)
      if (!endpoint || endpoint.networkId !== owner) {
        this.log.debug('delete of unknown endpoint ignored', { endpoint: short(endpointId) })
        return
      }
      try {
        await this.links.remove(endpoint.ifname)
      } catch (error) {
        throw linkFailure(error, { op: 'remove', name: endpoint.ifname })
      }
      try {
        await this.store.deleteEndpoint(endpointId)
      } catch (error) {
        throw stateFailure('deleting endpoint', error)
      }
      this.state.removeEndpoint(endpointId)
      this.log.debug('endpoint deleted', { endpoint: short(endpointId) })
    })
  }

  endpointOperInfo(networkId: string, endpointId: string): Record<string, string> {
    const endpoint = this.state.endpoint(endpointId)
    if (!endpoint || endpoint.networkId !== networkId) return {}
    return { 'ipvlan-lan.link': endpoint.ifname }
  }

  /**
   * Creates the endpoint's ipvlan link in the host namespace; libnetwork moves it into the
   * container, addresses it and applies the routes we return.
   */
  async join(networkId: string, endpointId: string): Promise<JoinResult> {
    return this.mutex.run(networkId, async () => {
      const network = this.requireNetwork(networkId)
      const endpoint = this.state.endpoint(endpointId)
      if (!endpoint || endpoint.networkId !== networkId) {
        throw new DriverError(
          'not-found',
          `endpoint ${short(endpointId)} not found on network ${short(networkId)}`
        )
      }
      const spec = this.ipvlanSpec(network, endpoint.ifname, 'ep', endpointId)
      await this.addEndpointLink(network, spec)
      return joinResult(network, endpoint)
    })
  }

  private async addEndpointLink(network: NetworkRecord, spec: IpvlanSpec): Promise<void> {
    try {
      await this.links.addIpvlan(spec)
      return
    } catch (error) {
      if (!(error instanceof LinkError)) throw linkFailure(error, { op: 'ipvlan', ...spec })
      if (error.kind === 'exists') {
        // Left in the host namespace by an earlier Join that failed later on: start afresh.
        await this.removeLeftover(spec.name)
      } else if (error.kind === 'not-found' && network.parentOrigin !== 'existing') {
        // A parent we made is gone (host reboot, someone deleted it): make it again.
        await this.repairParent(network)
      } else {
        throw linkFailure(error, { op: 'ipvlan', ...spec })
      }
    }
    try {
      await this.links.addIpvlan(spec)
    } catch (error) {
      throw linkFailure(error, { op: 'ipvlan', ...spec })
    }
  }

  private async repairParent(network: NetworkRecord): Promise<void> {
    this.log.warn('re-creating missing parent', {
      network: short(network.id),
      parent: network.parent,
    })
    if (network.parentOrigin === 'vlan' && !network.vlan) {
      throw new DriverError('internal', `network ${short(network.id)} lost its VLAN settings`)
    }
    await this.createParent(
      network.id,
      network.parent,
      network.parentOrigin === 'vlan' ? network.vlan : undefined
    )
  }

  /** Nothing to undo: libnetwork has already moved the link back; DeleteEndpoint deletes it. */
  leave(): void {}

  private requireNetwork(networkId: string): NetworkRecord {
    const network = this.state.network(networkId)
    if (!network) {
      throw new DriverError(
        'not-found',
        `network ${short(networkId)} not found: it was not created by this plugin (or its state directory was replaced)`
      )
    }
    return network
  }

  private ipvlanSpec(
    network: NetworkRecord,
    name: string,
    kind: 'ep' | 'probe',
    id: string
  ): IpvlanSpec {
    return {
      name,
      parent: network.parent,
      mode: network.mode,
      flag: network.flag,
      mtu: network.mtu,
      alias: ownerAlias(this.instanceId, kind, id),
    }
  }

  private async setUp(name: string): Promise<void> {
    try {
      await this.links.setUp(name)
    } catch (error) {
      throw linkFailure(error, { op: 'up', name })
    }
  }

  private async show(name: string): Promise<LinkInfo | undefined> {
    try {
      return await this.links.show(name)
    } catch (error) {
      throw linkFailure(error, { op: 'show', name })
    }
  }

  /** Deletes a link in our way only if it carries our mark; someone else's link is an error. */
  private async removeLeftover(name: string): Promise<void> {
    const link = await this.show(name)
    const marked = parseOwnerAlias(link?.alias)?.instanceId === this.instanceId
    // An `ip -batch` killed between "link add" and "link set alias" (or a probe's "link del")
    // leaves an unmarked ipvlan link under the very name we derive from the ID: that one is ours.
    const halfMade = link?.alias === undefined && link?.kind === 'ipvlan'
    if (link && !marked && !halfMade) {
      throw new DriverError(
        'conflict',
        `a link named "${name}" already exists on the host and was not created by this plugin; remove or rename it`
      )
    }
    await this.removeQuietly(name)
  }

  /** Deletes a link, logging instead of failing: used on rollback and cleanup paths. */
  private async removeQuietly(name: string): Promise<void> {
    try {
      await this.links.remove(name)
    } catch (error) {
      this.log.warn('could not delete link', { link: name, error: messageOf(error) })
    }
  }
}

function optionalCidr(text: string, family: 4 | 6, field: string): string | undefined {
  if (text === '') return undefined
  const cidr = parseCidr(text)
  if (!cidr || cidr.family !== family) {
    throw invalid(`${field}: "${printable(text)}" is not an IPv${family} address in CIDR form`)
  }
  return text
}

function stateFailure(what: string, error: unknown): DriverError {
  return new DriverError(
    'unavailable',
    `${what}: the state directory could not be written: ${messageOf(error)}`,
    {
      cause: error,
    }
  )
}
