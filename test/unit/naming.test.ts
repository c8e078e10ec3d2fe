import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  dummyParentName,
  endpointLinkName,
  isProbeLinkOf,
  ownerAlias,
  parseOwnerAlias,
  parseVlanParent,
  probeLinkName,
} from '../../src/driver/naming.ts'
import { IFNAME_RULE, ifnameProblem, isValidIfname } from '../../src/ifname.ts'
import { id } from '../fakes/ids.ts'

// Fixed Docker-style ids (64 hex) whose names are written out by hand below: the expectations
// are literals, never rebuilt with the code's own template.
const NETWORK_ID = '0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9'
const ENDPOINT_ID = '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'
const OTHER_ID = 'fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210'

describe('link names: fixed examples', () => {
  test('the dummy parent is "di-" and the first 12 characters of the network id, like the built-in driver', () => {
    assert.equal(dummyParentName(NETWORK_ID), 'di-0a1b2c3d4e5f')
    assert.equal(dummyParentName(ENDPOINT_ID), 'di-0123456789ab')
    assert.equal(dummyParentName(OTHER_ID), 'di-fedcba987654')
  })

  test('the endpoint link is "ivl" and the first 12 characters of the endpoint id', () => {
    assert.equal(endpointLinkName(ENDPOINT_ID), 'ivl0123456789ab')
    assert.equal(endpointLinkName(NETWORK_ID), 'ivl0a1b2c3d4e5f')
    assert.equal(endpointLinkName(OTHER_ID), 'ivlfedcba987654')
  })
})

// PROBE NAME: the probe link's template is the one most likely to change. Its fixed examples are
// all in this one describe; the properties further down hold whatever the template.
describe('PROBE NAME (fixed examples of the current template: update here when it changes)', () => {
  test('the probe link is "ivp", the 8-character instance id and the first 4 characters of the network id', () => {
    assert.equal(probeLinkName('feedf00d', NETWORK_ID), 'ivpfeedf00d0a1b')
    assert.equal(probeLinkName('feedf00d', OTHER_ID), 'ivpfeedf00dfedc')
    assert.equal(probeLinkName('0a1b2c3d', ENDPOINT_ID), 'ivp0a1b2c3d0123')
  })

  test('isProbeLinkOf recognises the probe names of its own instance only', () => {
    assert.equal(isProbeLinkOf('feedf00d', 'ivpfeedf00d0a1b'), true)
    assert.equal(isProbeLinkOf('feedf00d', 'ivpfeedf00dfedc'), true)
    assert.equal(isProbeLinkOf('feedf00d', 'ivp0a1b2c3d0123'), false, 'another instance')
    assert.equal(isProbeLinkOf('feedf00d', 'ivpfeedf00d0a1'), false, 'too short')
    assert.equal(isProbeLinkOf('feedf00d', 'ivlfeedf00d0a1b'), false, 'an endpoint link')
    assert.equal(isProbeLinkOf('feedf00d', 'di-feedf00d0a1b'), false, 'a dummy parent')
  })
})

describe('link names: properties (no template involved)', () => {
  const ids = Array.from({ length: 200 }, (_, i) => id(`naming-${i}`))
  const instances = ['feedf00d', '0a1b2c3d', ...ids.slice(0, 20).map((x) => x.slice(-8))]

  /** Every name generator; the probe one under each of several instance ids. */
  const generators: [string, (id: string) => string][] = [
    ['dummy parent', dummyParentName],
    ['endpoint link', endpointLinkName],
    ...instances.map((instance): [string, (id: string) => string] => [
      `probe link of instance ${instance}`,
      (networkId) => probeLinkName(instance, networkId),
    ]),
  ]

  test('every generated name is a valid interface name of at most 15 bytes', () => {
    let checked = 0
    for (const [what, name] of generators) {
      for (const x of [...ids, NETWORK_ID, ENDPOINT_ID, OTHER_ID]) {
        const ifname = name(x)
        assert.ok(Buffer.byteLength(ifname) <= 15, `${what}: ${ifname}`)
        assert.equal(ifnameProblem(ifname), undefined, `${what}: ${ifname}`)
        assert.ok(isValidIfname(ifname), `${what}: ${ifname}`)
        checked++
      }
    }
    assert.equal(checked, generators.length * (ids.length + 3))
  })

  test('names are derived from the ids alone, so a retried request finds the same link', () => {
    for (const [what, name] of generators) {
      for (const x of ids.slice(0, 20)) {
        // A fresh copy of the string: equal content, not the same reference.
        assert.equal(name(x), name(x.split('').join('')), what)
      }
    }
  })

  for (const [what, name] of [
    ['dummy parent', dummyParentName],
    ['endpoint link', endpointLinkName],
  ] as const) {
    test(`ids with distinct 12-character prefixes give distinct ${what} names`, () => {
      assert.equal(new Set(ids.map(name)).size, ids.length, 'random ids')
      // One character changed at each of the first 12 positions: 13 prefixes, 13 names.
      const variants = [ENDPOINT_ID]
      for (let i = 0; i < 12; i++) {
        const changed = ENDPOINT_ID[i] === 'f' ? 'e' : 'f'
        variants.push(ENDPOINT_ID.slice(0, i) + changed + ENDPOINT_ID.slice(i + 1))
      }
      assert.equal(new Set(variants.map(name)).size, variants.length, 'one-character changes')
    })
  }

  test('two instances never share a probe name, whatever the networks', () => {
    const networks = [NETWORK_ID, ENDPOINT_ID, OTHER_ID, ...ids.slice(0, 20)]
    const owner = new Map<string, string>()
    for (const instance of instances) {
      for (const networkId of networks) {
        const name = probeLinkName(instance, networkId)
        const other = owner.get(name)
        assert.ok(other === undefined || other === instance, `${name}: ${other} and ${instance}`)
        owner.set(name, instance)
        assert.equal(isProbeLinkOf(instance, name), true, `${instance} owns ${name}`)
        for (const stranger of instances)
          if (stranger !== instance) assert.equal(isProbeLinkOf(stranger, name), false)
      }
    }
    assert.equal(new Set(owner.values()).size, instances.length)
  })

  test('names of different kinds never collide, even for the same id', () => {
    const kinds = [dummyParentName, endpointLinkName, (x: string) => probeLinkName('feedf00d', x)]
    const all = ids.flatMap((x) => kinds.map((name) => name(x)))
    assert.equal(new Set(all).size, ids.length * kinds.length)
    for (const x of ids) {
      assert.equal(isProbeLinkOf('feedf00d', dummyParentName(x)), false)
      assert.equal(isProbeLinkOf('feedf00d', endpointLinkName(x)), false)
    }
  })
})

describe('owner aliases', () => {
  test('fixed examples: "ipvlan-lan/", the instance id, the kind and the full id, colon-separated', () => {
    assert.equal(ownerAlias('feedf00d', 'ep', 'abc'), 'ipvlan-lan/feedf00d:ep:abc')
    assert.equal(
      ownerAlias('0a1b2c3d', 'ep', ENDPOINT_ID),
      'ipvlan-lan/0a1b2c3d:ep:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'
    )
    assert.equal(
      ownerAlias('0a1b2c3d', 'parent', NETWORK_ID),
      'ipvlan-lan/0a1b2c3d:parent:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9'
    )
    assert.equal(
      ownerAlias('0a1b2c3d', 'probe', NETWORK_ID),
      'ipvlan-lan/0a1b2c3d:probe:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9'
    )
  })

  test('parseOwnerAlias reads fixed examples', () => {
    assert.deepEqual(
      parseOwnerAlias(
        'ipvlan-lan/0a1b2c3d:ep:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'
      ),
      { instanceId: '0a1b2c3d', kind: 'ep', id: ENDPOINT_ID }
    )
    assert.deepEqual(parseOwnerAlias('ipvlan-lan/feedf00d:parent:abc'), {
      instanceId: 'feedf00d',
      kind: 'parent',
      id: 'abc',
    })
    assert.deepEqual(parseOwnerAlias('ipvlan-lan/feedf00d:probe:abc'), {
      instanceId: 'feedf00d',
      kind: 'probe',
      id: 'abc',
    })
  })

  test('ownerAlias and parseOwnerAlias round trip for every kind', () => {
    for (const kind of ['parent', 'ep', 'probe'] as const) {
      const alias = ownerAlias('feedf00d', kind, id('x'))
      assert.deepEqual(parseOwnerAlias(alias), { instanceId: 'feedf00d', kind, id: id('x') })
    }
  })

  test('aliases of different instances, kinds or ids differ', () => {
    const aliases = new Set<string>()
    for (const instance of ['feedf00d', '0a1b2c3d'])
      for (const kind of ['parent', 'ep', 'probe'] as const)
        for (const x of [NETWORK_ID, ENDPOINT_ID]) aliases.add(ownerAlias(instance, kind, x))
    assert.equal(aliases.size, 12)
  })

  const foreign: [string, string | undefined][] = [
    ['no alias', undefined],
    ['an empty alias', ''],
    ['an operator comment', 'uplink to the core switch'],
    ['another program prefix', 'macvlan-lan/feedf00d:ep:abc'],
    ['the prefix without the slash', 'ipvlan-lanfeedf00d:ep:abc'],
    ['an unknown kind', 'ipvlan-lan/feedf00d:bridge:abc'],
    ['an empty instance id', 'ipvlan-lan/:ep:abc'],
    ['an empty id', 'ipvlan-lan/feedf00d:ep:'],
    ['a missing id', 'ipvlan-lan/feedf00d:ep'],
    ['only the prefix', 'ipvlan-lan/'],
  ]
  for (const [what, alias] of foreign) {
    test(`parseOwnerAlias rejects ${what}`, () => {
      assert.equal(parseOwnerAlias(alias), undefined)
    })
  }
})

describe('parseVlanParent', () => {
  test('eth0.10 is master eth0, VLAN 10', () => {
    assert.deepEqual(parseVlanParent('eth0.10'), { master: 'eth0', vlanId: 10 })
  })

  test('the VLAN id bounds 1 and 4094 are accepted', () => {
    assert.deepEqual(parseVlanParent('bond0.1'), { master: 'bond0', vlanId: 1 })
    assert.deepEqual(parseVlanParent('bond0.4094'), { master: 'bond0', vlanId: 4094 })
  })

  const rejected: [string, RegExp][] = [
    ['eth0', /expected an existing interface or name\.VLAN \(e\.g\. eth0\.10\), got "eth0"/],
    ['eth0.0', /VLAN id 0 in "eth0\.0" is out of range \(expected 1-4094\)/],
    ['eth0.4095', /VLAN id 4095 in "eth0\.4095" is out of range \(expected 1-4094\)/],
    ['eth0.x', /"x" in "eth0\.x" is not a VLAN id \(expected 1-4094/],
    ['eth0.', /"" in "eth0\." is not a VLAN id/],
    ['eth0.10000', /"10000" in "eth0\.10000" is not a VLAN id/],
    ['a.b.c', /expected an existing interface or name\.VLAN .* got "a\.b\.c"/],
    ['-x.10', /the master "-x" of "-x\.10" starts with "-"/],
    ['.10', /the master "" of "\.10" is empty/],
  ]
  for (const [name, message] of rejected) {
    test(`${name} is rejected with a message saying what was expected`, () => {
      const result = parseVlanParent(name)
      assert.ok('problem' in result, `expected a problem for ${name}`)
      assert.match(result.problem, message)
    })
  }
})

describe('ifnameProblem', () => {
  const table: [string, string | undefined][] = [
    ['eth0', undefined],
    ['eth0.10', undefined],
    ['enp3s0f1', undefined],
    ['br_lan-1', undefined],
    ['a', undefined],
    ['x'.repeat(15), undefined],
    ['0eth', undefined],
    ['', 'is empty'],
    ['x'.repeat(16), 'is 16 bytes long (at most 15)'],
    ['\u00e9'.repeat(8), 'is 16 bytes long (at most 15)'],
    ['-eth0', 'starts with "-"'],
    ['.eth0', `must be ${IFNAME_RULE}`],
    ['..', `must be ${IFNAME_RULE}`],
    ['eth 0', `must be ${IFNAME_RULE}`],
    ['eth0/1', `must be ${IFNAME_RULE}`],
    ['eth0:1', `must be ${IFNAME_RULE}`],
    ['eth\u00e9', `must be ${IFNAME_RULE}`],
    ['eth0\n', `must be ${IFNAME_RULE}`],
    ['$(reboot)', `must be ${IFNAME_RULE}`],
  ]
  for (const [name, problem] of table) {
    test(`${JSON.stringify(name)} is ${problem === undefined ? 'valid' : `rejected: ${problem}`}`, () => {
      assert.equal(ifnameProblem(name), problem)
      assert.equal(isValidIfname(name), problem === undefined)
    })
  }
})
