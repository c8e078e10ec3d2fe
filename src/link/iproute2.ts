import { IPVLAN_FLAGS, IPVLAN_MODES } from '../driver/model.ts'
import { isValidIfname } from '../ifname.ts'
import { classify } from './classify.ts'
import type {
  BatchOutcome,
  DefaultRoute,
  IpvlanSpec,
  LinkInfo,
  LinkLayer,
} from '../driver/ports/link-layer.ts'
import { LinkError } from '../driver/ports/link-layer.ts'
import type { BatchRunner } from './resident-ip.ts'
import type { IpResult, IpRunner } from './runner.ts'

export interface Iproute2Options {
  run: IpRunner
  /** Reported in timeout errors. */
  timeoutMs: number
  /** Run every command in this named network namespace (`ip -n`): tests and benchmarks. */
  netns?: string | undefined
  /**
   * Runs the `ip -batch` groups (every change on the endpoint path) in a long-lived process
   * (ResidentIp, given the same netns); without it each group is one `ip -batch -` of `run`.
   */
  batch?: BatchRunner | undefined
}

const ALIAS = /^[A-Za-z0-9_.:/-]{1,200}$/
// A host route as the driver builds it: an IPv4 /32 or an IPv6 /128, nothing else reaches `ip`.
const HOST_ROUTE = /^(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}\/32|[0-9a-fA-F:]{2,39}\/128)$/
const MODES: ReadonlySet<string> = new Set(IPVLAN_MODES)
const FLAGS: ReadonlySet<string> = new Set(IPVLAN_FLAGS)

/**
 * LinkLayer over iproute2. Multi-step changes go through one `ip -batch -` process (one fork per
 * Join), and every argument is re-checked here so nothing unvalidated ever reaches `ip`.
 */
export function createIproute2(options: Iproute2Options): LinkLayer {
  const { run, timeoutMs } = options
  if (options.netns !== undefined) name(options.netns)
  const prefix = options.netns === undefined ? [] : ['-n', options.netns]

  const exec = async (args: string[]): Promise<string> => {
    const result = await run([...prefix, ...args])
    if (result.exitCode === 0 && !result.timedOut) return result.stdout
    throw classify(result, `ip ${args.join(' ')}`, timeoutMs)
  }
  const runBatch = (lines: string[]): Promise<IpResult> =>
    options.batch ? options.batch(lines) : run([...prefix, '-batch', '-'], lines.join('\n') + '\n')
  const batch = async (lines: string[][]): Promise<void> => {
    const text = lines.map((line) => line.join(' '))
    const result = await runBatch(text)
    if (result.exitCode === 0 && !result.timedOut) return
    throw classify(result, `ip -batch: ${text.join('; ')}`, timeoutMs)
  }

  /**
   * Runs items of one or more lines each in one `ip -batch -`, without -force: ip stops at the
   * first failing line and names it ("Command failed -:N"), so no later line can touch a link in
   * the way. `whole` names the batch in an error that concerns every item.
   */
  const batchOutcome = async (
    items: string[][][],
    whole: (names: string) => string
  ): Promise<BatchOutcome> => {
    if (items.length === 0) return { made: 0 }
    const text = (lines: string[][]): string => lines.map((line) => line.join(' ')).join('\n')
    const result = await runBatch(items.flatMap((lines) => lines.map((line) => line.join(' '))))
    if (result.exitCode === 0 && !result.timedOut) return { made: items.length }
    const failedLine = /^Command failed -:(\d+)$/m.exec(result.stderr)
    let index = -1
    if (failedLine) {
      // Map ip's line number back to the item that holds it.
      let line = Number(failedLine[1])
      index = items.findIndex((item) => (line -= item.length) <= 0)
    }
    const item = items[index]
    if (result.exitCode === undefined || result.timedOut || item === undefined) {
      // "link add name NAME ..." and "link del dev NAME": the name is the fourth word.
      const names = items.map((lines) => lines[0]?.[3] ?? '?').join(', ')
      return {
        made: 0,
        whole: true,
        error: classify(result, `ip -batch: ${whole(names)}`, timeoutMs),
      }
    }
    const said = { ...result, stderr: result.stderr.replace(/^Command failed -:\d+\n?/m, '') }
    return {
      made: index,
      error: classify(said, `ip -batch: ${text(item).replace(/\n/g, '; ')}`, timeoutMs),
    }
  }

  const ipvlanAdd = (spec: IpvlanSpec): string[] => {
    name(spec.name)
    name(spec.parent)
    alias(spec.alias)
    if (!MODES.has(spec.mode)) refuse('ipvlan mode', spec.mode)
    if (!FLAGS.has(spec.flag)) refuse('ipvlan flag', spec.flag)
    const mtu = spec.mtu === undefined ? [] : ['mtu', String(integer(spec.mtu, 68, 65535, 'mtu'))]
    return [
      'link',
      'add',
      'name',
      spec.name,
      'link',
      spec.parent,
      ...mtu,
      'type',
      'ipvlan',
      'mode',
      spec.mode,
      spec.flag,
    ]
  }

  // The kernel ignores IFLA_IFALIAS on "link add", so the alias is always the batch's next line.
  const setAlias = (spec: { name: string; alias: string }): string[] => [
    'link',
    'set',
    'dev',
    spec.name,
    'alias',
    spec.alias,
  ]

  return {
    async list() {
      return parseLinks(await exec(['-j', '-d', 'link', 'show']))
    },
    async show(linkName) {
      name(linkName)
      try {
        return parseLinks(await exec(['-j', '-d', 'link', 'show', 'dev', linkName]))[0]
      } catch (error) {
        if (error instanceof LinkError && error.kind === 'not-found') return undefined
        throw error
      }
    },
    async addIpvlan(spec) {
      await batch([ipvlanAdd(spec), setAlias(spec)])
    },
    async addIpvlans(specs) {
      // Validated before anything runs: a bad spec refuses the whole batch, as for one link.
      const lines = specs.map((spec) => [ipvlanAdd(spec), setAlias(spec)])
      return batchOutcome(lines, (spec) => `${specs.length} ipvlan links (${spec})`)
    },
    async probeIpvlan(spec) {
      // Marked like every link we make: one stranded by a crash before the "del" is swept.
      await batch([ipvlanAdd(spec), setAlias(spec), ['link', 'del', 'dev', spec.name]])
    },
    async addVlan(spec) {
      name(spec.name)
      name(spec.master)
      alias(spec.alias)
      const id = String(integer(spec.vlanId, 1, 4094, 'vlan id'))
      await batch([
        ['link', 'add', 'link', spec.master, 'name', spec.name, 'type', 'vlan', 'id', id],
        setAlias(spec),
        ['link', 'set', 'dev', spec.name, 'up'],
      ])
    },
    async addDummy(spec) {
      name(spec.name)
      alias(spec.alias)
      await batch([
        ['link', 'add', 'name', spec.name, 'type', 'dummy'],
        setAlias(spec),
        ['link', 'set', 'dev', spec.name, 'up'],
      ])
    },
    async setUp(linkName) {
      name(linkName)
      await exec(['link', 'set', 'dev', linkName, 'up'])
    },
    async addHostLink(spec) {
      const addresses = spec.addresses.map((address) => {
        route(address)
        // No duplicate address detection: the address is reserved in Docker's IPAM (aux address).
        return [
          'address',
          'add',
          address,
          'dev',
          spec.name,
          ...(address.includes(':') ? ['nodad'] : []),
        ]
      })
      await batch([
        ipvlanAdd(spec),
        setAlias(spec),
        ...addresses,
        ['link', 'set', 'dev', spec.name, 'up'],
      ])
    },
    async addRoutes(linkName, destinations) {
      name(linkName)
      destinations.forEach(route)
      if (destinations.length === 0) return
      await batch(destinations.map((destination) => ['route', 'add', destination, 'dev', linkName]))
    },
    async routeDevices(destination) {
      route(destination)
      const family = destination.includes(':') ? '-6' : '-4'
      const parsed: unknown = JSON.parse(
        (await exec(['-j', family, 'route', 'show', 'exact', destination])) || '[]'
      )
      if (!Array.isArray(parsed)) return []
      return (parsed as { dev?: unknown }[]).flatMap((entry) =>
        typeof entry.dev === 'string' ? [entry.dev] : []
      )
    },
    async removeRoutes(linkName, destinations) {
      name(linkName)
      destinations.forEach(route)
      for (const destination of destinations) {
        try {
          await exec(['route', 'del', destination, 'dev', linkName])
        } catch (error) {
          // Gone already: with its link (reboot, network rm) or by an earlier delete.
          if (!(error instanceof LinkError && error.kind === 'not-found')) throw error
        }
      }
    },
    async defaultRoutes(family) {
      if (family !== 4 && family !== 6) refuse('address family', String(family))
      const args = ['-j', `-${family}`, 'route', 'show', 'default']
      return parseDefaultRoutes(await exec(args), `ip ${args.join(' ')}`)
    },
    async remove(linkName) {
      name(linkName)
      try {
        await exec(['link', 'del', 'dev', linkName])
        return true
      } catch (error) {
        if (error instanceof LinkError && error.kind === 'not-found') return false
        throw error
      }
    },
    async removeAll(linkNames) {
      for (const linkName of linkNames) name(linkName)
      return batchOutcome(
        linkNames.map((linkName) => [['link', 'del', 'dev', linkName]]),
        (names) => `deleting ${linkNames.length} links (${names})`
      )
    },
  }
}

function name(value: string): void {
  if (!isValidIfname(value)) refuse('interface name', value)
}

function route(value: string): void {
  if (!HOST_ROUTE.test(value)) refuse('route destination', value)
}

function alias(value: string): void {
  if (!ALIAS.test(value)) refuse('alias', value)
}

function integer(value: number, min: number, max: number, what: string): number {
  if (!Number.isInteger(value) || value < min || value > max) refuse(what, String(value))
  return value
}

function refuse(what: string, value: string): never {
  throw new LinkError(
    'failed',
    `refusing to run ip with invalid ${what} ${JSON.stringify(value)}`,
    'ip'
  )
}

interface IpJsonLink {
  ifname?: unknown
  ifalias?: unknown
  flags?: unknown
  linkinfo?: { info_kind?: unknown }
}

function parseLinks(stdout: string): LinkInfo[] {
  const parsed: unknown = JSON.parse(stdout === '' ? '[]' : stdout)
  if (!Array.isArray(parsed)) return []
  return (parsed as IpJsonLink[]).flatMap((link) => {
    if (typeof link.ifname !== 'string') return []
    const flags = Array.isArray(link.flags) ? link.flags : []
    return [
      {
        name: link.ifname,
        alias: typeof link.ifalias === 'string' ? link.ifalias : undefined,
        kind: typeof link.linkinfo?.info_kind === 'string' ? link.linkinfo.info_kind : undefined,
        up: flags.includes('UP'),
      },
    ]
  })
}

/**
 * `ip -j route show default`: a list of routes, each with `dev`, or `nexthops` (each with `dev`)
 * for a multipath route. Anything else ip may print is narrowed field by field: a route of another
 * type (unreachable, blackhole, ...) or table is left out, a device that is not a string is not
 * named, and output that is not a JSON list is an error naming the command.
 */
export function parseDefaultRoutes(stdout: string, command: string): DefaultRoute[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(stdout.trim() === '' ? '[]' : stdout)
  } catch (error) {
    throw new LinkError(
      'failed',
      `"${command}" printed no JSON: ${(error as Error).message}`,
      command,
      {
        cause: error,
      }
    )
  }
  if (!Array.isArray(parsed)) {
    throw new LinkError('failed', `"${command}" printed JSON that is not a list of routes`, command)
  }
  return parsed.flatMap((entry: unknown): DefaultRoute[] => {
    if (!isRecord(entry)) return []
    if (entry['type'] !== undefined && entry['type'] !== 'unicast') return []
    if (entry['table'] !== undefined && entry['table'] !== 'main') return []
    const hops = Array.isArray(entry['nexthops']) ? entry['nexthops'] : [entry]
    const devices = hops.flatMap((hop: unknown) =>
      isRecord(hop) && typeof hop['dev'] === 'string' ? [hop['dev']] : []
    )
    const metric = entry['metric']
    return [
      {
        devices,
        metric:
          typeof metric === 'number' && Number.isSafeInteger(metric) && metric >= 0 ? metric : 0,
      },
    ]
  })
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
