import { DriverError, messageOf } from '../errors.ts'
import { hostLabel } from './context.ts'
import { LinkError } from './ports/link-layer.ts'

/**
 * What the driver was doing when `ip` failed, to phrase the error for the operator. `host` (HOST_ID)
 * where a missing interface is reported: in a fleet, it names the host that lacks the interface.
 */
export type LinkOperation =
  | { op: 'ipvlan'; parent: string; name: string; host: string }
  | { op: 'vlan'; name: string; master: string; host: string }
  | { op: 'dummy'; name: string }
  | { op: 'remove'; name: string }
  | { op: 'show'; name: string }
  | { op: 'up'; name: string }
  | { op: 'list' }

/** Turns a failed `ip` run into a DriverError whose message says what was wrong and what to do. */
export function linkFailure(error: unknown, what: LinkOperation): DriverError {
  if (!(error instanceof LinkError)) {
    return new DriverError('internal', `${describe(what)} failed: ${messageOf(error)}`, {
      cause: error,
    })
  }
  if (error.kind === 'timeout') {
    return new DriverError('unavailable', `${describe(what)}: ${error.message}`, { cause: error })
  }
  if (error.kind === 'unsupported') {
    // The likely cause first, in plain words; then ip's own, which may say it is something else.
    return new DriverError('unsupported', `${unsupportedText(what)} (ip said: ${error.message})`, {
      cause: error,
    })
  }
  if (error.kind === 'busy' && what.op === 'ipvlan') {
    return new DriverError(
      'conflict',
      `parent interface "${what.parent}" is busy: the kernel refused an ipvlan link on it (a macvlan link, bridge port or bond may already use it); ip said: ${error.message}`,
      { cause: error }
    )
  }
  if (error.kind === 'not-found' && what.op === 'ipvlan') {
    return new DriverError(
      'not-found',
      `parent interface "${what.parent}" does not exist on the host ${hostLabel(what.host)}`,
      { cause: error }
    )
  }
  if (error.kind === 'not-found' && what.op === 'vlan') {
    return new DriverError(
      'not-found',
      `option "parent": cannot create "${what.name}": its master interface "${what.master}" does not exist on the host ${hostLabel(what.host)}`,
      { cause: error }
    )
  }
  const kind = error.kind === 'exists' ? 'conflict' : 'internal'
  return new DriverError(kind, `${describe(what)} failed: ${error.message}`, { cause: error })
}

function describe(what: LinkOperation): string {
  switch (what.op) {
    case 'ipvlan':
      return `creating ipvlan link "${what.name}" on parent "${what.parent}"`
    case 'vlan':
      return `creating 802.1Q sub-interface "${what.name}" of "${what.master}"`
    case 'dummy':
      return `creating dummy parent "${what.name}"`
    case 'remove':
      return `deleting link "${what.name}"`
    case 'show':
      return `looking up link "${what.name}"`
    case 'up':
      return `bringing link "${what.name}" up`
    case 'list':
      return 'listing links'
  }
}

function unsupportedText(what: LinkOperation): string {
  switch (what.op) {
    case 'vlan':
      return (
        'the host kernel has no 802.1Q VLAN support (CONFIG_VLAN_8021Q), needed to create the sub-interface "' +
        what.name +
        '": load it with "modprobe 8021q" or create the parent yourself'
      )
    case 'dummy':
      return 'the host kernel has no dummy link support (CONFIG_DUMMY), needed for a network without -o parent: load it with "modprobe dummy" or give -o parent'
    default:
      return 'the host kernel has no ipvlan support (CONFIG_IPVLAN): load it with "modprobe ipvlan" or use a kernel built with it (Linux >= 4.2)'
  }
}
