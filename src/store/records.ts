import * as v from 'valibot'
import { IPVLAN_FLAGS, IPVLAN_MODES, PARENT_ORIGINS } from '../driver/model.ts'

/** On-disk schema of the state files. Version 1; a later version migrates with defaults here. */
const Subnet = v.object({ pool: v.string(), gateway: v.optional(v.string()) })

export const NetworkFile = v.object({
  version: v.literal(1),
  id: v.string(),
  parent: v.string(),
  parentOrigin: v.picklist(PARENT_ORIGINS),
  vlan: v.optional(v.object({ master: v.string(), id: v.number() })),
  mode: v.picklist(IPVLAN_MODES),
  // Missing in a record means the default, the moby#44925 lesson: never fail on an older file.
  flag: v.optional(v.picklist(IPVLAN_FLAGS), 'bridge'),
  mtu: v.optional(v.number()),
  internal: v.boolean(),
  ipv4: v.array(Subnet),
  ipv6: v.array(Subnet),
  sharedParent: v.optional(v.boolean()),
  hostAccess: v.optional(v.object({ link: v.string(), addresses: v.array(v.string()) })),
})

export const EndpointFile = v.object({
  version: v.literal(1),
  id: v.string(),
  networkId: v.string(),
  ifname: v.string(),
  ipv4: v.optional(v.string()),
  ipv6: v.optional(v.string()),
})
