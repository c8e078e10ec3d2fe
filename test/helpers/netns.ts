import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'

/** Root is needed for network namespaces; say so loudly when a tier cannot run. */
export function rootSkipReason(tier: string): string | false {
  if (process.getuid?.() === 0) return false
  const reason = `${tier} tier NOT RUN: it needs root (network namespaces); run as root or in CI`
  process.stderr.write(`\n!!! ${reason}\n\n`)
  return reason
}

export function ipSync(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

/** A throw-away network namespace with a random name; returns it and a cleanup function. */
export function createNetns(): { name: string; remove: () => void } {
  const name = `t-${randomBytes(4).toString('hex')}`
  ipSync('netns', 'add', name)
  ipSync('-n', name, 'link', 'set', 'lo', 'up')
  return { name, remove: () => ipSync('netns', 'del', name) }
}

/** What the running kernel can create: decides which branch of a kernel-dependent test runs. */
export function kernelSupports(kind: 'ipvlan' | 'vlan' | 'dummy'): boolean {
  const ns = createNetns()
  try {
    if (kind === 'dummy') ipSync('-n', ns.name, 'link', 'add', 'probe0', 'type', 'dummy')
    else {
      ipSync('-n', ns.name, 'link', 'add', 'm0', 'type', 'veth', 'peer', 'name', 'm1')
      if (kind === 'ipvlan')
        ipSync('-n', ns.name, 'link', 'add', 'probe0', 'link', 'm0', 'type', 'ipvlan')
      else
        ipSync(
          '-n',
          ns.name,
          'link',
          'add',
          'link',
          'm0',
          'name',
          'm0.5',
          'type',
          'vlan',
          'id',
          '5'
        )
    }
    return true
  } catch {
    return false
  } finally {
    ns.remove()
  }
}

export interface NsLink {
  ifname: string
  ifindex?: number
  ifalias?: string
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown> }
  flags?: string[]
}

export function nsLinks(ns: string): NsLink[] {
  return JSON.parse(ipSync('-j', '-d', '-n', ns, 'link', 'show')) as NsLink[]
}
