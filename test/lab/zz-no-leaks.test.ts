import assert from 'node:assert/strict'
import { test } from 'node:test'
import { docker, hostLinks } from './docker.ts'

/** Runs last: once every network and container of the lab tier is gone, no link of ours is left. */
test('after everything is removed, no link the plugin created is left on the host', async () => {
  const networks = await docker('network', 'ls', '--filter', 'driver=ipvlan', '-q')
  assert.equal(networks.stdout, '', 'built-in ipvlan networks left behind by the tests')
  const links = await hostLinks()
  const ours = links.filter(
    (link) => link.alias?.startsWith('ipvlan-lan/') || /^(ivl|ivp|di-)/.test(link.name)
  )
  assert.deepEqual(ours, [], `links left: ${JSON.stringify(ours)}`)
})
