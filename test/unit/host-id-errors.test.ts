import { describe, test } from 'node:test'
import { endpoint, EP, NET, network, rejectsWith, setup } from '../helpers/driver-fixtures.ts'

/**
 * Issue 9 point 4: in a fleet, an error about a parent this host lacks names the host (its
 * HOST_ID, the fixtures' node-a), at CreateNetwork and later, for the parent and for the master of
 * a name.VID parent.
 */

describe('a parent that does not exist: the error names the host (HOST_ID)', () => {
  test('a named parent missing at CreateNetwork', async () => {
    const { driver } = await setup()
    await rejectsWith(
      driver.createNetwork(network(NET, { parent: 'eth7' })),
      'invalid-parameter',
      /^option "parent": interface "eth7" does not exist on the host \(HOST_ID node-a\), and it is not a name\.VLAN sub-interface/
    )
  })

  test('the master of a name.VID parent missing at CreateNetwork', async () => {
    const { driver } = await setup()
    await rejectsWith(
      driver.createNetwork(network(NET, { parent: 'eth9.10' })),
      'not-found',
      /^option "parent": cannot create "eth9\.10": its master interface "eth9" does not exist on the host \(HOST_ID node-a\)$/
    )
  })

  test('an operator parent deleted under a network, at Join', async () => {
    const { driver, links } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth1' }))
    await driver.createEndpoint(endpoint(NET, EP))
    links.links.delete('eth1')
    await rejectsWith(
      driver.join(NET, EP),
      'not-found',
      /^parent interface "eth1" does not exist on the host \(HOST_ID node-a\)$/
    )
  })

  test('the master of a sub-interface we made, gone when Join re-creates it', async () => {
    const { driver, links } = await setup()
    await driver.createNetwork(network(NET, { parent: 'eth1.30' }))
    links.links.delete('eth1.30')
    links.links.delete('eth1')
    await driver.createEndpoint(endpoint(NET, EP))
    await rejectsWith(
      driver.join(NET, EP),
      'not-found',
      /its master interface "eth1" does not exist on the host \(HOST_ID node-a\)/
    )
  })
})
