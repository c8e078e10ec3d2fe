import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import {
  addDummy,
  addressOf,
  assertPing,
  docker,
  dockerdLogLines,
  DOCKERD_LOG,
  dockerOk,
  ip,
  linkExists,
  runContainer,
} from './docker.ts'
import {
  createFromBundle,
  enable,
  ensureInstalled,
  pluginEnabled,
  pluginStateDir,
  REGISTRY,
  REGISTRY_PLUGIN,
  REPO,
} from './plugin.ts'

/**
 * Lab tier: `docker plugin upgrade` from the previous release (scripts/lab/previous-release.sh
 * builds its bundle from the commit named there) to this tree's bundle, with a network and
 * running containers on it, the way an operator upgrades: the old release, running, is disabled
 * (-f: its network is in use), upgraded to the new release from the registry, and enabled again. The containers keep running throughout and
 * still reach each other; the old release's state files (format version 1, the format of every
 * release so far, without the fields added since) are read by the new one as they are, not
 * rewritten; a new container joins; and removing everything removes the 802.1Q parent the old
 * release created. Then a state file of a newer, unknown format stops the plugin at start with an
 * error naming it, and the file is left in place.
 */
const PREVIOUS_REF = 'ipvlan-lan-previous:0.1'
const MASTER = 'upm0'
const PARENT = `${MASTER}.40`
const NET = 'up-net'
const containers = ['up-a', 'up-b', 'up-c']

let previousBundle = ''
let stateDir = ''
/** The previous release's state files, as it wrote them: path -> content. */
const written = new Map<string, string>()

function stateFiles(): string[] {
  return ['networks', 'endpoints'].flatMap((folder) =>
    readdirSync(join(stateDir, folder)).map((file) => join(stateDir, folder, file))
  )
}

before(async () => {
  previousBundle =
    process.env['LAB_PREVIOUS_BUNDLE'] ??
    execFileSync(join(REPO, 'scripts/lab/previous-release.sh'), { encoding: 'utf8' }).trim()
  assert.ok(existsSync(join(previousBundle, 'config.json')), `no bundle at ${previousBundle}`)
  // The new release: pushed to the registry as REGISTRY_PLUGIN by the install every lab file uses.
  await ensureInstalled()
  await addDummy(MASTER)
})

after(async () => {
  await docker('rm', '-f', ...containers)
  await docker('network', 'rm', NET)
  await docker('plugin', 'rm', '-f', PREVIOUS_REF)
  await ip('link', 'del', 'dev', MASTER)
})

test('the previous release, created from its bundle, carries a network with containers', async () => {
  const tags = execFileSync('curl', ['-sf', `http://${REGISTRY}/v2/ipvlan-lan/tags/list`], {
    encoding: 'utf8',
  })
  assert.match(tags, /"latest"/, `the new release is not in the registry: ${tags}`)
  // Created from the bundle, not pushed and pulled: the registry round trip is the install test's
  // (lifecycle), and under emulation it costs minutes; the upgrade below pulls from the registry.
  await createFromBundle(PREVIOUS_REF, true, previousBundle)
  await dockerOk(
    'network',
    'create',
    '-d',
    PREVIOUS_REF,
    '-o',
    `parent=${PARENT}`,
    '--subnet',
    '172.29.40.0/24',
    NET
  )
  assert.equal(await linkExists(PARENT), true, `${PARENT} created by the previous release`)
  await runContainer('up-a', NET)
  await runContainer('up-b', NET)
  await assertPing('up-b', await addressOf('up-a', NET))
  stateDir = await pluginStateDir(PREVIOUS_REF)
  const files = stateFiles()
  assert.equal(files.length, 3, `a network and two endpoint records: ${files.join(', ')}`)
  for (const file of files) {
    const text = readFileSync(file, 'utf8')
    assert.equal((JSON.parse(text) as { version?: unknown }).version, 1, `format 1: ${file}`)
    written.set(file, text)
  }
})

test('docker plugin upgrade to the new release: the running containers never lose each other', async () => {
  const id = await dockerOk('plugin', 'inspect', '-f', '{{.Id}}', PREVIOUS_REF)
  await dockerOk('plugin', 'disable', '-f', PREVIOUS_REF)
  // Disabled: the kernel's links carry the traffic on their own.
  await assertPing('up-b', await addressOf('up-a', NET))
  // The CLI asks "Remote image differs from the current plugin image, are you sure you want to
  // proceed?" whenever the new reference is not the old one (another tag); an operator answers y.
  await dockerOk(
    'plugin',
    'upgrade',
    '--grant-all-permissions',
    '--skip-remote-check',
    PREVIOUS_REF,
    REGISTRY_PLUGIN
  )
  await enable(PREVIOUS_REF)
  assert.match(
    await dockerOk('plugin', 'inspect', '-f', '{{.PluginReference}}', PREVIOUS_REF),
    /ipvlan-lan:latest/,
    'now running the new release'
  )
  assert.equal(
    await dockerOk('plugin', 'inspect', '-f', '{{.Id}}', PREVIOUS_REF),
    id,
    'same plugin'
  )
  const types = await dockerOk('plugin', 'inspect', '-f', '{{json .Config.Interface.Types}}', id)
  assert.match(types, /docker\.ipamdriver\/1\.0/, 'the new release config is in force')
  assert.equal(await pluginStateDir(PREVIOUS_REF), stateDir, 'the same state directory')
  await assertPing('up-b', await addressOf('up-a', NET))
  await assertPing('up-a', await addressOf('up-b', NET))
})

test('after the upgrade the old state serves: a new container joins, its record is versioned', async () => {
  await runContainer('up-c', NET)
  await assertPing('up-c', await addressOf('up-a', NET))
  await assertPing('up-a', await addressOf('up-c', NET))
  const files = stateFiles()
  assert.equal(files.length, 4, `a network and three endpoint records: ${files.join(', ')}`)
  for (const [file, text] of written) {
    assert.equal(readFileSync(file, 'utf8'), text, `the previous release's ${file}, unchanged`)
  }
  const added = files.filter((file) => !written.has(file))
  assert.equal(added.length, 1, 'one new record')
  const record = JSON.parse(readFileSync(added[0] ?? '', 'utf8')) as { version?: unknown }
  assert.equal(record.version, 1, 'written in format 1')
})

test('removing the containers and the network removes the parent the old release created', async () => {
  await dockerOk('rm', '-f', ...containers)
  await dockerOk('network', 'rm', NET)
  assert.equal(await linkExists(PARENT), false, `${PARENT} left behind`)
  assert.deepEqual(readdirSync(join(stateDir, 'networks')), [], 'no network record left')
  assert.deepEqual(readdirSync(join(stateDir, 'endpoints')), [], 'no endpoint record left')
})

test('a state file of a newer format stops the plugin at start, naming it; nothing is deleted', async () => {
  const file = join(stateDir, 'networks', 'from-a-newer-release.json')
  await dockerOk('plugin', 'disable', '-f', PREVIOUS_REF)
  writeFileSync(file, JSON.stringify({ version: 99, id: 'from-a-newer-release' }) + '\n')
  const offset = existsSync(DOCKERD_LOG) ? statSync(DOCKERD_LOG).size : 0
  try {
    const enabled = await docker('plugin', 'enable', PREVIOUS_REF)
    assert.notEqual(enabled.code, 0, 'enable must fail while a newer state file is there')
    assert.equal(await pluginEnabled(PREVIOUS_REF), false)
    const said = dockerdLogLines({ from: offset, filter: /has version 99/ })
    assert.match(said, /from-a-newer-release\.json has version 99; this plugin reads state up to/)
    assert.equal(existsSync(file), true, 'the newer file is left in place')
  } finally {
    unlinkSync(file)
  }
  await enable(PREVIOUS_REF)
  assert.equal(await pluginEnabled(PREVIOUS_REF), true, 'starts once the file is gone')
})
