import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  dummyParentName,
  endpointLinkName,
  ownerAlias,
  parseOwnerAlias,
  parseVlanParent,
  probeLinkName,
} from '../../src/driver/naming.ts'
import { IFNAME_RULE, ifnameProblem, isValidIfname } from '../../src/ifname.ts'
import { id } from '../fakes/ids.ts'

describe('link names', () => {
  const networkId = id('network')
  const endpointId = id('endpoint')

  test('the dummy parent is "di-" and the first 12 characters of the network id, like the built-in driver', () => {
    assert.equal(dummyParentName(networkId), `di-${networkId.slice(0, 12)}`)
  })

  test('the endpoint link is "ivl" and the first 12 characters of the endpoint id', () => {
    assert.equal(endpointLinkName(endpointId), `ivl${endpointId.slice(0, 12)}`)
  })

  test('the probe link is "ivp" and the first 12 characters of the network id', () => {
    assert.equal(probeLinkName(networkId), `ivp${networkId.slice(0, 12)}`)
  })

  test('every generated name is a valid interface name of at most 15 bytes', () => {
    for (let i = 0; i < 50; i++) {
      for (const name of [
        dummyParentName(id(`n${i}`)),
        endpointLinkName(id(`e${i}`)),
        probeLinkName(id(`p${i}`)),
      ]) {
        assert.ok(Buffer.byteLength(name) <= 15, name)
        assert.equal(ifnameProblem(name), undefined, name)
      }
    }
  })

  test('names are derived from the ids alone, so a retried request finds the same link', () => {
    assert.equal(endpointLinkName(endpointId), endpointLinkName(endpointId))
    assert.notEqual(endpointLinkName(endpointId), endpointLinkName(id('other endpoint')))
  })
})

describe('owner aliases', () => {
  test('ownerAlias and parseOwnerAlias round trip for every kind', () => {
    for (const kind of ['parent', 'ep', 'probe'] as const) {
      const alias = ownerAlias('feedf00d', kind, id('x'))
      assert.deepEqual(parseOwnerAlias(alias), { instanceId: 'feedf00d', kind, id: id('x') })
    }
  })

  test('the alias is prefixed "ipvlan-lan/" and separated by colons', () => {
    assert.equal(ownerAlias('feedf00d', 'ep', 'abc'), 'ipvlan-lan/feedf00d:ep:abc')
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
