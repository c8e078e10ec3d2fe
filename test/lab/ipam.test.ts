import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { addressOf, assertPing, docker } from './docker.ts'
import { ensureInstalled, pluginStateDir, REGISTRY_PLUGIN } from './plugin.ts'
import { ScenarioContext } from './scenarios.ts'

/**
 * Lab tier, plugin only (issue 9, single host): the same plugin as IPAM driver
 * (`--ipam-driver`), with its embedded backend (the plugin's state directory, no etcd). Docker
 * asks it for the pool, the gateway and every address; the allocations are on disk, a taken
 * static address is refused naming its holder, and removed containers give theirs back.
 */
const ctx = new ScenarioContext(REGISTRY_PLUGIN, 'ip')
let net = ''
let subnetFile = ''

/** The addresses the IPAM state file of 172.31.20.0/24 holds (gateway included). */
function held(): string[] {
  const file = JSON.parse(readFileSync(subnetFile, 'utf8')) as { allocations?: unknown }
  assert.ok(Array.isArray(file.allocations), `${subnetFile} has an allocations list`)
  return (file.allocations as { address: string }[]).map((a) => a.address).sort()
}

before(
  async () => {
    await ensureInstalled()
  },
  { timeout: 10 * 60_000 }
)

after(async () => {
  await ctx.cleanup()
})

test('--ipam-driver: the plugin hands out the addresses of its --ip-range and keeps them on disk', async () => {
  const master = await ctx.master(1)
  net = await ctx.network('net', [
    '--ipam-driver',
    REGISTRY_PLUGIN,
    '-o',
    `parent=${master}`,
    '--subnet',
    '172.31.20.0/24',
    '--ip-range',
    '172.31.20.64/28',
    '--gateway',
    '172.31.20.1',
  ])
  const names = [await ctx.container('c1', net), await ctx.container('c2', net)]
  const addresses = await Promise.all(names.map((name) => addressOf(name, net)))
  assert.equal(new Set(addresses).size, 2, `distinct addresses: ${addresses.join(' ')}`)
  for (const address of addresses) {
    const last = Number(address.split('.')[3])
    assert.ok(
      address.startsWith('172.31.20.') && last >= 64 && last < 80,
      `${address} in --ip-range`
    )
  }
  await assertPing(names[0] ?? '', addresses[1] ?? '')

  const dir = join(await pluginStateDir(), 'ipam')
  const files = readdirSync(dir, { recursive: true }).map(String)
  const file = files.find((f) => f.includes('172.31.20.0'))
  assert.ok(file, `a state file for 172.31.20.0/24 under ${dir}: ${files.join(', ')}`)
  subnetFile = join(dir, file)
  assert.deepEqual(held(), [...addresses, '172.31.20.1'].sort(), 'gateway and both containers')
})

test('a static --ip already held is refused naming the holder; a free one is honoured', async () => {
  assert.ok(net, 'the network of the previous test exists')
  const first = await ctx.container('st1', net, ['--ip', '172.31.20.70'])
  assert.equal(await addressOf(first, net), '172.31.20.70')
  const name = ctx.name('st2')
  ctx.containers.push(name)
  const taken = await docker(
    'run',
    '-d',
    '--name',
    name,
    '--net',
    net,
    '--ip',
    '172.31.20.70',
    'busybox:lab',
    'sleep',
    '60'
  )
  const second = taken.code === 0 ? taken : await docker('start', name)
  assert.notEqual(second.code, 0, 'a second container cannot take 172.31.20.70')
  assert.match(second.output, /172\.31\.20\.70/, second.output)
  assert.match(second.output, /held|taken|in use/i, second.output)
})

test('removed containers give their addresses back; network rm leaves only what others hold', async () => {
  assert.ok(subnetFile, 'the state file was found by the first test')
  const before = held()
  assert.ok(before.includes('172.31.20.70'), `172.31.20.70 is held: ${before.join(' ')}`)
  await docker('rm', '-f', ...ctx.containers)
  ctx.containers.length = 0
  assert.deepEqual(held(), ['172.31.20.1'], 'only the gateway is left while the network exists')
  await docker('network', 'rm', net)
  assert.deepEqual(held(), [], 'nothing is held once the network is gone')
})
