import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { joinResult } from '../../src/driver/join-result.ts'
import type { EndpointRecord, NetworkRecord } from '../../src/driver/model.ts'
import { id } from '../fakes/ids.ts'

const network = (extra: Partial<NetworkRecord> = {}): NetworkRecord => ({
  id: id('net'),
  parent: 'eth0',
  parentOrigin: 'existing',
  mode: 'l2',
  flag: 'bridge',
  internal: false,
  ipv4: [{ pool: '192.168.10.0/24', gateway: '192.168.10.1' }],
  ipv6: [],
  ...extra,
})

const endpoint = (extra: Partial<EndpointRecord> = {}): EndpointRecord => ({
  id: id('ep'),
  networkId: id('net'),
  ifname: 'ivl0123456789ab',
  ipv4: '192.168.10.5/24',
  ...extra,
})

describe('joinResult', () => {
  test('l2: the gateway of the endpoint subnet, no routes, gateway service disabled', () => {
    assert.deepEqual(joinResult(network(), endpoint()), {
      srcName: 'ivl0123456789ab',
      dstPrefix: 'eth',
      gateway: '192.168.10.1',
      staticRoutes: [],
      disableGatewayService: true,
    })
  })

  test('l2: with several subnets, the gateway comes from the subnet holding the address', () => {
    const net = network({
      ipv4: [
        { pool: '10.1.0.0/16', gateway: '10.1.0.1' },
        { pool: '192.168.10.0/24', gateway: '192.168.10.1' },
        { pool: '172.16.0.0/12', gateway: '172.16.0.1' },
      ],
    })
    assert.equal(joinResult(net, endpoint({ ipv4: '172.20.3.4/12' })).gateway, '172.16.0.1')
    assert.equal(joinResult(net, endpoint({ ipv4: '10.1.200.9/16' })).gateway, '10.1.0.1')
  })

  test('l2: with nested subnets, the most specific one wins whatever the order', () => {
    const wide = { pool: '10.0.0.0/8', gateway: '10.0.0.1' }
    const narrow = { pool: '10.20.0.0/16', gateway: '10.20.0.1' }
    for (const ipv4 of [
      [wide, narrow],
      [narrow, wide],
    ]) {
      const net = network({ ipv4 })
      assert.equal(joinResult(net, endpoint({ ipv4: '10.20.5.5/16' })).gateway, '10.20.0.1')
      assert.equal(joinResult(net, endpoint({ ipv4: '10.30.5.5/8' })).gateway, '10.0.0.1')
    }
  })

  test('l2: a subnet without a gateway is skipped in favour of one that has it', () => {
    const net = network({
      ipv4: [{ pool: '10.20.0.0/16' }, { pool: '10.0.0.0/8', gateway: '10.0.0.1' }],
    })
    assert.equal(joinResult(net, endpoint({ ipv4: '10.20.5.5/16' })).gateway, '10.0.0.1')
  })

  test('l2: no gateway when the subnet has none, and no default route either', () => {
    const result = joinResult(network({ ipv4: [{ pool: '192.168.10.0/24' }] }), endpoint())
    assert.equal('gateway' in result, false)
    assert.deepEqual(result.staticRoutes, [])
    assert.equal(result.disableGatewayService, true)
  })

  test('l2: no gateway when the address lies outside every subnet', () => {
    const result = joinResult(network(), endpoint({ ipv4: '10.9.9.9/24' }))
    assert.equal('gateway' in result, false)
  })

  test('l2: the IPv6 gateway comes from the IPv6 subnet holding the IPv6 address', () => {
    const net = network({
      ipv6: [
        { pool: '2001:db8::/32', gateway: '2001:db8::1' },
        { pool: '2001:db8:1::/64', gateway: '2001:db8:1::1' },
      ],
    })
    const result = joinResult(net, endpoint({ ipv6: '2001:db8:1::42/64' }))
    assert.equal(result.gateway, '192.168.10.1')
    assert.equal(result.gatewayIPv6, '2001:db8:1::1')
  })

  test('l2: an IPv6-only endpoint gets only the IPv6 gateway', () => {
    const net = network({ ipv4: [], ipv6: [{ pool: 'fd00::/64', gateway: 'fd00::1' }] })
    const result = joinResult(net, endpoint({ ipv4: undefined, ipv6: 'fd00::9/64' }))
    assert.equal('gateway' in result, false)
    assert.equal(result.gatewayIPv6, 'fd00::1')
  })

  for (const mode of ['l3', 'l3s'] as const) {
    test(`${mode}: a connected 0.0.0.0/0 route for an IPv4-only endpoint and no gateway`, () => {
      assert.deepEqual(joinResult(network({ mode }), endpoint()), {
        srcName: 'ivl0123456789ab',
        dstPrefix: 'eth',
        staticRoutes: [{ destination: '0.0.0.0/0', routeType: 1 }],
        disableGatewayService: true,
      })
    })

    test(`${mode}: connected 0.0.0.0/0 and ::/0 routes for a dual-stack endpoint`, () => {
      const net = network({ mode, ipv6: [{ pool: 'fd00::/64', gateway: 'fd00::1' }] })
      const result = joinResult(net, endpoint({ ipv6: 'fd00::9/64' }))
      assert.deepEqual(result.staticRoutes, [
        { destination: '0.0.0.0/0', routeType: 1 },
        { destination: '::/0', routeType: 1 },
      ])
      assert.equal('gateway' in result, false)
      assert.equal('gatewayIPv6' in result, false)
    })

    test(`${mode}: only ::/0 for an IPv6-only endpoint`, () => {
      const net = network({ mode, ipv4: [], ipv6: [{ pool: 'fd00::/64' }] })
      const result = joinResult(net, endpoint({ ipv4: undefined, ipv6: 'fd00::9/64' }))
      assert.deepEqual(result.staticRoutes, [{ destination: '::/0', routeType: 1 }])
    })

    test(`${mode}: no routes for an endpoint without addresses`, () => {
      const result = joinResult(network({ mode }), endpoint({ ipv4: undefined }))
      assert.deepEqual(result.staticRoutes, [])
    })
  }

  for (const mode of ['l2', 'l3', 'l3s'] as const) {
    test(`internal ${mode} network: no gateway and no routes, gateway service disabled`, () => {
      const net = network({
        mode,
        internal: true,
        ipv6: [{ pool: 'fd00::/64', gateway: 'fd00::1' }],
      })
      assert.deepEqual(joinResult(net, endpoint({ ipv6: 'fd00::9/64' })), {
        srcName: 'ivl0123456789ab',
        dstPrefix: 'eth',
        staticRoutes: [],
        disableGatewayService: true,
      })
    })
  }

  for (const mode of ['l3', 'l3s'] as const) {
    test(`internal ${mode} network with several subnets: on-link routes to the other subnets only`, () => {
      const net = network({
        mode,
        internal: true,
        ipv4: [{ pool: '172.28.220.0/24' }, { pool: '172.28.230.0/24' }, { pool: '10.1.0.0/16' }],
        ipv6: [{ pool: 'fd00:1::/64' }, { pool: 'fd00:2::/64' }],
      })
      const result = joinResult(net, endpoint({ ipv4: '172.28.230.10/24', ipv6: 'fd00:2::10/64' }))
      assert.deepEqual(result.staticRoutes, [
        { destination: '172.28.220.0/24', routeType: 1 },
        { destination: '10.1.0.0/16', routeType: 1 },
        { destination: 'fd00:1::/64', routeType: 1 },
      ])
      assert.equal(result.gateway, undefined)
      assert.ok(!result.staticRoutes.some((r) => r.destination.endsWith('/0')), 'no route out')
    })
  }

  test('internal l2 network with several subnets: no routes (L2 needs a router between subnets)', () => {
    const net = network({
      internal: true,
      ipv4: [{ pool: '172.28.220.0/24' }, { pool: '172.28.230.0/24' }],
    })
    assert.deepEqual(joinResult(net, endpoint({ ipv4: '172.28.230.10/24' })).staticRoutes, [])
  })
})
