import { ifnameProblem } from '../ifname.ts'

/**
 * Names of the links we create, and the alias that marks them as ours. Names derive from Docker's
 * IDs, so a retried or replayed request finds the same link instead of leaking a second one.
 */

/** Parent of a network created without `-o parent`, as the built-in driver names it ("di-" + 12). */
export const dummyParentName = (networkId: string): string => `di-${networkId.slice(0, 12)}`

/** Host-side name of an endpoint's ipvlan link until libnetwork moves it into the container. */
export const endpointLinkName = (endpointId: string): string => `ivl${endpointId.slice(0, 12)}`

/** The host's own leg on a network with host access ("ivh" + 12 of the network id). */
export const hostLinkName = (networkId: string): string => `ivh${networkId.slice(0, 12)}`

/**
 * Short-lived link used to prove at network creation that the kernel and parent accept ipvlan.
 * "ivp" + the instance id (8) + 4 of the network id: the name alone says which instance made it,
 * because the kernel ignores an alias given to "link add" (it is set by the next batch line), so a
 * probe killed in between carries no alias. Network creations are serialised, so the 4 characters
 * only have to tell a stranded probe from the next one.
 */
export const probeLinkName = (instanceId: string, networkId: string): string =>
  `ivp${instanceId}${networkId.slice(0, 4)}`

/** Whether `name` is a probe link of this instance (see probeLinkName). */
export const isProbeLinkOf = (instanceId: string, name: string): boolean =>
  name.length === 15 && name.startsWith(`ivp${instanceId}`)

export type AliasKind = 'parent' | 'ep' | 'probe' | 'host'

const ALIAS_PREFIX = 'ipvlan-lan/'

/**
 * Ownership marker stored in the link's alias (IFLA_IFALIAS). The instance id keeps two installs
 * of the plugin (or a test run) from ever deleting each other's links.
 */
export const ownerAlias = (instanceId: string, kind: AliasKind, id: string): string =>
  `${ALIAS_PREFIX}${instanceId}:${kind}:${id}`

export function parseOwnerAlias(
  alias: string | undefined
): { instanceId: string; kind: AliasKind; id: string } | undefined {
  if (alias === undefined || !alias.startsWith(ALIAS_PREFIX)) return undefined
  const [instanceId, kind, id] = alias.slice(ALIAS_PREFIX.length).split(':')
  if (
    !instanceId ||
    !id ||
    (kind !== 'parent' && kind !== 'ep' && kind !== 'probe' && kind !== 'host')
  )
    return undefined
  return { instanceId, kind, id }
}

/**
 * Splits an 802.1Q parent name "master.vid" (e.g. eth0.10). Returns an error text saying what was
 * expected when the name is not of that form.
 */
export function parseVlanParent(
  name: string
): { master: string; vlanId: number } | { problem: string } {
  const parts = name.split('.')
  if (parts.length !== 2) {
    return { problem: `expected an existing interface or name.VLAN (e.g. eth0.10), got "${name}"` }
  }
  const [master = '', vid = ''] = parts
  const masterProblem = ifnameProblem(master)
  if (masterProblem !== undefined) {
    return { problem: `the master "${master}" of "${name}" ${masterProblem}` }
  }
  if (!/^[0-9]{1,4}$/.test(vid)) {
    return { problem: `"${vid}" in "${name}" is not a VLAN id (expected 1-4094, e.g. eth0.10)` }
  }
  const vlanId = Number(vid)
  if (vlanId < 1 || vlanId > 4094) {
    return { problem: `VLAN id ${vlanId} in "${name}" is out of range (expected 1-4094)` }
  }
  return { master, vlanId }
}
