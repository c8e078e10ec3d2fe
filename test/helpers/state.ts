import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Subnet } from '../../src/driver/model.ts'

/**
 * Writes the record a successful CreateNetwork leaves (an l2 network on an existing `eth0`), so
 * endpoint tests also run on a kernel that cannot create the network itself (no ipvlan).
 */
export function seedNetworkRecord(
  stateDir: string,
  networkId: string,
  pool: string,
  gateway: string,
  /** The IPAM's address space, as Docker names it at CreateNetwork ("lan": this plugin's IPAM). */
  addressSpace?: string,
  /** The pool's --aux-address values (plain IPs), and IPv6 pools, as CreateNetwork records them. */
  more: { auxAddresses?: string[]; ipv6?: Subnet[] } = {}
): void {
  mkdirSync(join(stateDir, 'networks'), { recursive: true })
  const record = {
    version: 1,
    id: networkId,
    parent: 'eth0',
    parentOrigin: 'existing',
    mode: 'l2',
    flag: 'bridge',
    internal: false,
    ipv4: [
      {
        pool,
        gateway,
        ...(addressSpace ? { addressSpace } : {}),
        ...(more.auxAddresses ? { auxAddresses: more.auxAddresses } : {}),
      },
    ],
    ipv6: more.ipv6 ?? [],
  }
  writeFileSync(join(stateDir, 'networks', `${networkId}.json`), JSON.stringify(record))
}
