import type {
  BatchOutcome,
  DefaultRoute,
  HostLinkSpec,
  IpvlanSpec,
  LinkInfo,
  LinkLayer,
} from '../../src/driver/ports/link-layer.ts'
import { LinkError } from '../../src/driver/ports/link-layer.ts'

interface FakeLink {
  name: string
  alias: string | undefined
  kind: string
  up: boolean
  parent?: string
  addresses?: string[]
}

type Method = keyof LinkLayer

/**
 * An in-memory kernel for the unit tier: links with names, aliases and kinds, the same error kinds
 * as iproute2 (not-found, exists, unsupported), a call log, and injectable faults.
 */
export class FakeLinkLayer implements LinkLayer {
  readonly links = new Map<string, FakeLink>()
  readonly calls: { method: Method; args: unknown }[] = []
  /** The main routing table: destination -> device. */
  readonly routes = new Map<string, string>()
  /** Default routes per family, as the link layer reports them; none unless a test sets them. */
  readonly defaults: Record<4 | 6, DefaultRoute[]> = { 4: [], 6: [] }
  /** Kernel features; false makes creation fail like a kernel without the driver. */
  readonly supports = { ipvlan: true, vlan: true, dummy: true }
  /** Next call of `method` throws this error (once), or hangs forever when 'hang'. */
  private removeAllGate: { held: Promise<void>; once: boolean } | undefined
  private readonly faults = new Map<Method, { fault: LinkError | Error | 'hang'; times: number }>()

  constructor(existing: string[] = ['eth0']) {
    for (const name of existing)
      this.links.set(name, { name, alias: undefined, kind: 'device', up: true })
  }

  /** The next `times` calls of `method` fail with `fault` (or hang). */
  failNext(method: Method, fault: LinkError | Error | 'hang', times = 1): void {
    this.faults.set(method, { fault, times })
  }

  /** Names of links carrying an alias (links we created). */
  owned(): string[] {
    return [...this.links.values()]
      .filter((link) => link.alias !== undefined)
      .map((link) => link.name)
  }

  private async enter(method: Method, args: unknown): Promise<void> {
    this.calls.push({ method, args })
    await Promise.resolve()
    const planned = this.faults.get(method)
    if (planned === undefined) return
    if (--planned.times <= 0) this.faults.delete(method)
    const { fault } = planned
    if (fault === 'hang') await new Promise(() => {})
    throw fault
  }

  async list(): Promise<LinkInfo[]> {
    await this.enter('list', undefined)
    return [...this.links.values()].map(info)
  }

  async show(name: string): Promise<LinkInfo | undefined> {
    await this.enter('show', name)
    const link = this.links.get(name)
    return link ? info(link) : undefined
  }

  async addIpvlan(spec: IpvlanSpec): Promise<void> {
    await this.enter('addIpvlan', spec)
    this.create(spec.name, spec.parent, 'ipvlan', spec.alias, false)
  }

  /** As iproute2's batch: one call, then each link in order, stopping at the first failure. */
  async addIpvlans(specs: IpvlanSpec[]): Promise<BatchOutcome> {
    await this.enter(
      'addIpvlans',
      specs.map((spec) => spec.name)
    )
    for (const [index, spec] of specs.entries()) {
      try {
        await this.addIpvlan(spec)
      } catch (error) {
        if (!(error instanceof LinkError))
          return { made: 0, whole: true, error: asLinkError(error) }
        if (error.kind === 'timeout') return { made: 0, whole: true, error }
        return { made: index, error }
      }
    }
    return { made: specs.length }
  }

  async probeIpvlan(spec: IpvlanSpec): Promise<void> {
    await this.enter('probeIpvlan', spec)
    this.create(spec.name, spec.parent, 'ipvlan', spec.alias, false)
    this.links.delete(spec.name)
  }

  async addVlan(spec: {
    name: string
    master: string
    vlanId: number
    alias: string
  }): Promise<void> {
    await this.enter('addVlan', spec)
    this.create(spec.name, spec.master, 'vlan', spec.alias, true)
  }

  async addDummy(spec: { name: string; alias: string }): Promise<void> {
    await this.enter('addDummy', spec)
    this.create(spec.name, undefined, 'dummy', spec.alias, true)
  }

  async setUp(name: string): Promise<void> {
    await this.enter('setUp', name)
    const link = this.links.get(name)
    if (!link) throw notFound(name)
    link.up = true
  }

  async remove(name: string): Promise<boolean> {
    await this.enter('remove', name)
    // As in the kernel, a link's routes go with it.
    for (const [destination, dev] of this.routes) if (dev === name) this.routes.delete(destination)
    return this.links.delete(name)
  }

  /**
   * removeAll calls wait until the returned function is called: every call, or only the next one
   * with `once` (a deletion held in the kernel while more are queued behind it).
   */
  holdRemoveAll(once = false): () => void {
    let release = (): void => {}
    const held = new Promise<void>((resolve) => (release = resolve))
    this.removeAllGate = { held, once }
    return release
  }

  async removeAll(names: string[]): Promise<BatchOutcome> {
    const gate = this.removeAllGate
    if (gate?.once) this.removeAllGate = undefined
    if (gate) await gate.held
    try {
      await this.enter('removeAll', names)
    } catch (error) {
      return {
        made: 0,
        whole: true,
        error: error instanceof LinkError ? error : asLinkError(error),
      }
    }
    // As `ip -batch`: stops at the first name that fails.
    for (const [index, name] of names.entries()) {
      if (!this.links.has(name)) return { made: index, error: notFound(name) }
      for (const [destination, dev] of this.routes)
        if (dev === name) this.routes.delete(destination)
      this.links.delete(name)
    }
    return { made: names.length }
  }

  async addHostLink(spec: HostLinkSpec): Promise<void> {
    await this.enter('addHostLink', spec)
    this.create(spec.name, spec.parent, 'ipvlan', spec.alias, true)
    const link = this.links.get(spec.name)
    if (link) link.addresses = [...spec.addresses]
  }

  async addRoutes(link: string, destinations: string[]): Promise<void> {
    await this.enter('addRoutes', { link, destinations })
    if (!this.links.has(link)) throw notFound(link)
    for (const destination of destinations) {
      if (this.routes.has(destination)) {
        throw new LinkError(
          'exists',
          'RTNETLINK answers: File exists',
          `ip route add ${destination}`
        )
      }
      this.routes.set(destination, link)
    }
  }

  async routeDevices(destination: string): Promise<string[]> {
    await this.enter('routeDevices', destination)
    const dev = this.routes.get(destination)
    return dev === undefined ? [] : [dev]
  }

  async removeRoutes(link: string, destinations: string[]): Promise<void> {
    await this.enter('removeRoutes', { link, destinations })
    for (const destination of destinations)
      if (this.routes.get(destination) === link) this.routes.delete(destination)
  }

  async defaultRoutes(family: 4 | 6): Promise<DefaultRoute[]> {
    await this.enter('defaultRoutes', family)
    return this.defaults[family].map((route) => ({ ...route, devices: [...route.devices] }))
  }

  private create(
    name: string,
    parent: string | undefined,
    kind: 'ipvlan' | 'vlan' | 'dummy',
    alias: string,
    up: boolean
  ): void {
    if (!this.supports[kind]) {
      throw new LinkError(
        'unsupported',
        'Error: Unknown device type.',
        `ip link add ${name} type ${kind}`
      )
    }
    if (parent !== undefined && !this.links.has(parent)) throw notFound(parent)
    if (this.links.has(name)) {
      throw new LinkError('exists', 'RTNETLINK answers: File exists', `ip link add ${name}`)
    }
    this.links.set(name, { name, alias, kind, up, ...(parent === undefined ? {} : { parent }) })
  }
}

function info(link: FakeLink): LinkInfo {
  return { name: link.name, alias: link.alias, kind: link.kind, up: link.up }
}

function notFound(name: string): LinkError {
  return new LinkError('not-found', `Cannot find device "${name}"`, 'ip', { device: name })
}

/** A plain error (spawn failure) as the iproute2 adapter reports it for a whole batch. */
function asLinkError(error: unknown): LinkError {
  return new LinkError('failed', (error as Error).message, 'ip -batch', { cause: error })
}
