import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { parseNetworkOptions, parseSubnets } from '../../src/driver/options.ts'

// Spelt out here, not imported: the test pins the accepted values, whatever the code's lists say.
const MODES = ['l2', 'l3', 'l3s'] as const
const FLAGS = ['bridge', 'private', 'vepa'] as const
import type { NetworkOptionsInput } from '../../src/driver/options.ts'
import { DriverError } from '../../src/errors.ts'

const input = (generic: Record<string, string>, internal = false): NetworkOptionsInput => ({
  generic: new Map(Object.entries(generic)),
  internal,
})

/** Asserts an invalid-parameter DriverError whose message matches every pattern. */
function rejects(run: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof DriverError, `expected a DriverError, got ${String(error)}`)
    assert.equal(error.kind, 'invalid-parameter')
    for (const pattern of patterns) assert.match(error.message, pattern)
    return true
  })
}

describe('parseNetworkOptions', () => {
  test('defaults to l2 mode and the bridge flag, with no mtu', () => {
    assert.deepEqual(parseNetworkOptions(input({ parent: 'eth0' })), {
      parent: 'eth0',
      mode: 'l2',
      flag: 'bridge',
      mtu: undefined,
      internal: false,
      sharedParent: false,
      hostAddresses: [],
    })
  })

  test('host_address: one IPv4, one IPv6 or both, comma-separated', () => {
    const parse = (value: string) =>
      parseNetworkOptions(input({ parent: 'eth0', host_address: value })).hostAddresses
    assert.deepEqual(parse('192.168.10.2'), ['192.168.10.2'])
    assert.deepEqual(parse('192.168.10.2, 2001:db8::2'), ['192.168.10.2', '2001:db8::2'])
    assert.deepEqual(parse(''), [])
  })

  test('host_address: not an IP, a CIDR, a zone or two of one family names the option', () => {
    for (const bad of ['host', '192.168.10.2/24', 'fe80::1%eth0', '192.168.10.300']) {
      rejects(
        () => parseNetworkOptions(input({ parent: 'eth0', host_address: bad })),
        /^option "host_address": ".*" is not an IP address/
      )
    }
    rejects(
      () => parseNetworkOptions(input({ parent: 'eth0', host_address: '10.0.0.2,10.0.0.3' })),
      /^option "host_address": .* two addresses of one family/
    )
  })

  test('host_address with ipvlan_flag=private is refused: the host link could not reach anyone', () => {
    rejects(
      () =>
        parseNetworkOptions(
          input({ parent: 'eth0', host_address: '10.0.0.2', ipvlan_flag: 'private' })
        ),
      /^option "host_address": .*ipvlan_flag=private/
    )
  })

  test('shared_parent: true or false, default false; anything else names the option', () => {
    assert.equal(
      parseNetworkOptions(input({ parent: 'eth0', shared_parent: 'true' })).sharedParent,
      true
    )
    assert.equal(
      parseNetworkOptions(input({ parent: 'eth0', shared_parent: 'false' })).sharedParent,
      false
    )
    assert.equal(
      parseNetworkOptions(input({ parent: 'eth0', shared_parent: '' })).sharedParent,
      false
    )
    rejects(
      () => parseNetworkOptions(input({ parent: 'eth0', shared_parent: 'yes' })),
      /option "shared_parent": "yes" is not valid, expected one of true, false/
    )
  })

  test('shared_parent without a parent is refused: such a network gets a dummy parent of its own', () => {
    rejects(
      () => parseNetworkOptions(input({ shared_parent: 'true' })),
      /option "shared_parent": needs -o parent/
    )
  })

  test('empty mode and flag values fall back to the defaults, as in the built-in driver', () => {
    const parsed = parseNetworkOptions(input({ parent: 'eth0', ipvlan_mode: '', ipvlan_flag: '' }))
    assert.equal(parsed.mode, 'l2')
    assert.equal(parsed.flag, 'bridge')
  })

  for (const mode of MODES) {
    for (const flag of FLAGS) {
      test(`accepts ipvlan_mode ${mode} with ipvlan_flag ${flag}`, () => {
        const parsed = parseNetworkOptions(
          input({ parent: 'eth0', ipvlan_mode: mode, ipvlan_flag: flag })
        )
        assert.equal(parsed.mode, mode)
        assert.equal(parsed.flag, flag)
      })
    }
  }

  for (const bad of ['L2', 'l4', 'bridge', ' l2', 'l2 ', 'passthru']) {
    test(`rejects ipvlan_mode ${JSON.stringify(bad)}, naming the option and the allowed modes`, () => {
      rejects(
        () => parseNetworkOptions(input({ parent: 'eth0', ipvlan_mode: bad })),
        /option "ipvlan_mode"/,
        /expected one of l2, l3, l3s \(default l2\)/
      )
    })
  }

  for (const bad of ['Bridge', 'l2', 'source', 'vepa,private']) {
    test(`rejects ipvlan_flag ${JSON.stringify(bad)}, naming the option and the allowed flags`, () => {
      rejects(
        () => parseNetworkOptions(input({ parent: 'eth0', ipvlan_flag: bad })),
        /option "ipvlan_flag"/,
        /expected one of bridge, private, vepa \(default bridge\)/
      )
    })
  }

  test('escapes control characters of a rejected value in the message', () => {
    rejects(() => parseNetworkOptions(input({ ipvlan_mode: 'l2\nINJECTED' })), /"l2\\nINJECTED"/)
  })

  test('rejects an unknown option key, naming the key and the accepted options', () => {
    rejects(
      () => parseNetworkOptions(input({ parent: 'eth0', prent: 'eth1' })),
      /unknown option "prent"/,
      /parent, ipvlan_mode, ipvlan_flag, mtu, shared_parent and host_address/
    )
  })

  test('rejects macvlan_mode, which belongs to another driver', () => {
    rejects(
      () => parseNetworkOptions(input({ parent: 'eth0', macvlan_mode: 'bridge' })),
      /unknown option "macvlan_mode"/
    )
  })

  test('ignores com.docker.* keys, which Docker adds itself', () => {
    const parsed = parseNetworkOptions(
      input({
        parent: 'eth0',
        'com.docker.network.bridge.name': 'x',
        'com.docker.network.enable_ipv6': 'true',
      })
    )
    assert.equal(parsed.parent, 'eth0')
  })

  describe('parent', () => {
    test('no parent gives an internal network on a dummy parent', () => {
      const parsed = parseNetworkOptions(input({}))
      assert.equal(parsed.parent, undefined)
      assert.equal(parsed.internal, true)
    })

    test('an empty parent is the same as no parent', () => {
      const parsed = parseNetworkOptions(input({ parent: '' }))
      assert.equal(parsed.parent, undefined)
      assert.equal(parsed.internal, true)
    })

    test('--internal with a parent stays internal', () => {
      assert.equal(parseNetworkOptions(input({ parent: 'eth0' }, true)).internal, true)
    })

    for (const good of ['eth0', 'eth0.10', 'enp3s0f1.4094', 'bond0', 'x'.repeat(15), 'br_lan-2']) {
      test(`accepts parent ${good}`, () => {
        assert.equal(parseNetworkOptions(input({ parent: good })).parent, good)
      })
    }

    const bad: [string, string, RegExp][] = [
      ['a leading "-"', '-eth0', /starts with "-"/],
      ['a name over 15 bytes', 'x'.repeat(16), /is 16 bytes long \(at most 15\)/],
      ['a space', 'eth 0', /must be 1-15 characters/],
      ['a slash', 'eth0/1', /must be 1-15 characters/],
      ['non-ASCII characters', 'eth\u00e90', /must be 1-15 characters/],
      ['multi-byte characters over 15 bytes', '\u00e9'.repeat(8), /is 16 bytes long/],
      ['a leading dot', '.eth0', /must be 1-15 characters/],
      ['a colon', 'eth0:1', /must be 1-15 characters/],
    ]
    for (const [what, parent, message] of bad) {
      test(`rejects a parent with ${what}, naming the option`, () => {
        rejects(() => parseNetworkOptions(input({ parent })), /^option "parent": /, message)
      })
    }

    test('rejects the loopback interface', () => {
      rejects(
        () => parseNetworkOptions(input({ parent: 'lo' })),
        /option "parent": the loopback interface cannot be an ipvlan parent/
      )
    })
  })

  describe('mtu', () => {
    test('reads mtu', () => {
      assert.equal(parseNetworkOptions(input({ parent: 'eth0', mtu: '1400' })).mtu, 1400)
    })

    test('reads com.docker.network.driver.mtu', () => {
      const generic = { parent: 'eth0', 'com.docker.network.driver.mtu': '9000' }
      assert.equal(parseNetworkOptions(input(generic)).mtu, 9000)
    })

    test('mtu wins over com.docker.network.driver.mtu', () => {
      const generic = { mtu: '1400', 'com.docker.network.driver.mtu': '9000' }
      assert.equal(parseNetworkOptions(input(generic)).mtu, 1400)
    })

    test('an empty mtu means none', () => {
      assert.equal(parseNetworkOptions(input({ mtu: '' })).mtu, undefined)
    })

    test('accepts the bounds 68 and 65535', () => {
      assert.equal(parseNetworkOptions(input({ mtu: '68' })).mtu, 68)
      assert.equal(parseNetworkOptions(input({ mtu: '65535' })).mtu, 65535)
    })

    for (const bad of [
      '67',
      '65536',
      '0',
      '99999',
      '-1500',
      '1500.5',
      '1e3',
      'abc',
      ' 1500',
      '0x5dc',
    ]) {
      test(`rejects mtu ${JSON.stringify(bad)}, naming the option and the range`, () => {
        rejects(
          () => parseNetworkOptions(input({ mtu: bad })),
          /^option "mtu": /,
          /expected an integer from 68 to 65535/
        )
      })
    }

    test('names com.docker.network.driver.mtu when that is the bad one', () => {
      rejects(
        () => parseNetworkOptions(input({ 'com.docker.network.driver.mtu': 'jumbo' })),
        /^option "com\.docker\.network\.driver\.mtu": "jumbo" is not an MTU/
      )
    })
  })
})

describe('parseSubnets', () => {
  test('keeps the pool and strips the mask from the gateway', () => {
    assert.deepEqual(parseSubnets([{ pool: '192.168.10.0/24', gateway: '192.168.10.1/24' }], 4), [
      { pool: '192.168.10.0/24', gateway: '192.168.10.1' },
    ])
  })

  test('an IPv6 gateway in CIDR form becomes a plain address', () => {
    assert.deepEqual(parseSubnets([{ pool: '2001:db8::/64', gateway: '2001:db8::1/64' }], 6), [
      { pool: '2001:db8::/64', gateway: '2001:db8::1' },
    ])
  })

  test('a pool without a gateway (or an empty one) has none', () => {
    assert.deepEqual(
      parseSubnets(
        [{ pool: '10.0.0.0/8' }, { pool: '172.16.0.0/12', gateway: '' }, { pool: '10.1.0.0/16' }],
        4
      ),
      [{ pool: '10.0.0.0/8' }, { pool: '172.16.0.0/12' }, { pool: '10.1.0.0/16' }]
    )
  })

  test('skips 0.0.0.0/0, which engines send when IPv4 is disabled', () => {
    assert.deepEqual(parseSubnets([{ pool: '0.0.0.0/0' }], 4), [])
    assert.deepEqual(parseSubnets([{ pool: '::/0' }], 6), [])
  })

  test('an empty list is no subnets', () => {
    assert.deepEqual(parseSubnets([], 4), [])
  })

  for (const pool of [
    '192.168.10.0',
    '192.168.10.0/33',
    '300.1.1.0/24',
    '',
    'default',
    '10.0.0.0/',
  ]) {
    test(`rejects pool ${JSON.stringify(pool)}, naming IPv4Data and the index`, () => {
      rejects(
        () => parseSubnets([{ pool: '10.0.0.0/8' }, { pool }], 4),
        /^IPv4Data\[1\]\.Pool: /,
        /is not an IPv4 CIDR/
      )
    })
  }

  test('rejects an IPv6 pool in IPv4Data', () => {
    rejects(
      () => parseSubnets([{ pool: '2001:db8::/64' }], 4),
      /^IPv4Data\[0\]\.Pool: "2001:db8::\/64" is not an IPv4 CIDR/
    )
  })

  test('rejects an IPv4 pool in IPv6Data', () => {
    rejects(
      () => parseSubnets([{ pool: '10.0.0.0/8' }], 6),
      /^IPv6Data\[0\]\.Pool: "10\.0\.0\.0\/8" is not an IPv6 CIDR/
    )
  })

  test('rejects a gateway that is not in CIDR form', () => {
    rejects(
      () => parseSubnets([{ pool: '10.0.0.0/8', gateway: '10.0.0.1' }], 4),
      /^IPv4Data\[0\]\.Gateway: "10\.0\.0\.1" is not an IPv4 address in CIDR form/
    )
  })

  test('rejects a gateway of the wrong family', () => {
    rejects(
      () => parseSubnets([{ pool: '2001:db8::/64', gateway: '10.0.0.1/8' }], 6),
      /^IPv6Data\[0\]\.Gateway: /
    )
  })
})
