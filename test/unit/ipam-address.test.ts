import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  containsIp,
  containsPrefix,
  formatIp,
  formatPrefix,
  lastOf,
  parseIp,
  parsePrefix,
} from '../../src/driver/ipam/address.ts'
import type { Prefix } from '../../src/driver/ipam/address.ts'
import { firstFree, firstUsable, reservedOf } from '../../src/driver/ipam/pick.ts'
import { decodePoolId, encodePoolId } from '../../src/driver/ipam/pool-id.ts'

const prefix = (text: string): Prefix => {
  const parsed = parsePrefix(text)
  assert.ok(parsed, `${text} parses`)
  return parsed
}
const ip = (text: string): bigint => {
  const parsed = parseIp(text)
  assert.ok(parsed, `${text} parses`)
  return parsed.value
}

describe('IPAM addresses', () => {
  test('canonical spellings (RFC 5952 for IPv6)', () => {
    const cases: [string, string][] = [
      ['10.0.0.5', '10.0.0.5'],
      ['0.0.0.0', '0.0.0.0'],
      ['255.255.255.255', '255.255.255.255'],
      ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
      ['2001:db8:0000::0001', '2001:db8::1'],
      ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2:3:4:5:6'],
      ['2001:db8::1:0', '2001:db8::1:0'],
      ['::', '::'],
      ['::1', '::1'],
      ['1::', '1::'],
      ['::ffff:10.0.0.1', '::ffff:a00:1'],
      ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
    ]
    assert.ok(cases.length > 0)
    for (const [input, expected] of cases) {
      const parsed = parseIp(input)
      assert.ok(parsed, input)
      assert.equal(formatIp(parsed), expected, input)
    }
  })

  test('refuses what is not a plain address', () => {
    const bad = ['', '10.0.0', '10.0.0.256', '10.0.0.1/24', 'fe80::1%eth0', '2001:db8::g', 'x']
    for (const text of bad) assert.equal(parseIp(text), undefined, text)
  })

  test('prefixes: host bits cleared, bounds, containment', () => {
    assert.equal(formatPrefix(prefix('10.0.0.5/24')), '10.0.0.0/24')
    assert.equal(formatPrefix(prefix('2001:DB8::5/64')), '2001:db8::/64')
    assert.equal(lastOf(prefix('10.0.0.0/24')), ip('10.0.0.255'))
    assert.equal(lastOf(prefix('10.0.0.7/32')), ip('10.0.0.7'))
    assert.equal(lastOf(prefix('2001:db8::/64')), ip('2001:db8::ffff:ffff:ffff:ffff'))
    assert.equal(lastOf(prefix('::/0')), ip('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'))
    const pool = prefix('10.0.0.0/24')
    assert.ok(containsIp(pool, { family: 4, value: ip('10.0.0.255') }))
    assert.ok(!containsIp(pool, { family: 4, value: ip('10.0.1.0') }))
    assert.ok(!containsIp(pool, { family: 6, value: ip('::a00:5') }), 'another family')
    assert.ok(containsPrefix(pool, prefix('10.0.0.128/25')))
    assert.ok(containsPrefix(pool, pool))
    assert.ok(!containsPrefix(pool, prefix('10.0.0.0/23')))
    assert.ok(!containsPrefix(pool, prefix('10.0.1.0/25')))
    assert.equal(parsePrefix('10.0.0.0/33'), undefined)
    assert.equal(parsePrefix('10.0.0.0'), undefined)
  })

  test('reserved addresses, first usable, first free', () => {
    const v4 = prefix('10.0.0.0/24')
    assert.deepEqual(reservedOf(v4), [ip('10.0.0.0'), ip('10.0.0.255')])
    assert.deepEqual(reservedOf(prefix('10.0.0.0/31')), [])
    assert.deepEqual(reservedOf(prefix('2001:db8::/64')), [ip('2001:db8::')])
    assert.deepEqual(reservedOf(prefix('2001:db8::/127')), [])
    assert.equal(firstUsable(v4), ip('10.0.0.1'))
    assert.equal(firstUsable(prefix('10.0.0.8/32')), ip('10.0.0.8'))
    assert.equal(firstFree(v4, v4, new Set([ip('10.0.0.1'), ip('10.0.0.2')])), ip('10.0.0.3'))
    const top = prefix('10.0.0.252/30')
    assert.equal(
      firstFree(top, v4, new Set([ip('10.0.0.252'), ip('10.0.0.253')])),
      ip('10.0.0.254')
    )
    assert.equal(
      firstFree(top, v4, new Set([ip('10.0.0.252'), ip('10.0.0.253'), ip('10.0.0.254')])),
      undefined,
      'the broadcast address is never free'
    )
  })

  test('PoolIDs round-trip and only canonical ones decode', () => {
    const spec = {
      addressSpace: 'lan',
      pool: prefix('10.0.0.0/24'),
      subPool: prefix('10.0.0.128/25'),
    }
    const id = encodePoolId(spec)
    assert.equal(id, 'lan,10.0.0.0/24,10.0.0.128/25')
    assert.deepEqual(decodePoolId(id), spec)
    assert.equal(
      encodePoolId({ addressSpace: 'lan', pool: prefix('2001:db8::/64') }),
      'lan,2001:db8::/64'
    )
    const bad = [
      '',
      'lan',
      'lan,10.0.0.5/24',
      'lan,10.0.0.0/24,',
      'lan,10.0.0.0/24,10.0.1.0/25',
      'lan,10.0.0.0/24,10.0.0.128/25,x',
      '../x,10.0.0.0/24',
      'lan,2001:DB8::/64',
    ]
    for (const text of bad) assert.equal(decodePoolId(text), undefined, text)
  })
})
