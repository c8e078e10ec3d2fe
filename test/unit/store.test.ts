import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { closeSync, constants, openSync, readdirSync } from 'node:fs'
import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  open,
  readFile,
  readdir,
  rm,
  writeFile,
} from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import type { TestContext } from 'node:test'
import type { EndpointRecord, NetworkRecord } from '../../src/driver/model.ts'
import type { StoreSnapshot } from '../../src/driver/ports/store.ts'
import { createLogger, silentLogger } from '../../src/log.ts'
import { JsonFileStore } from '../../src/store/json-file-store.ts'
import { CURRENT_STATE_VERSION } from '../../src/store/records.ts'
import { id } from '../fakes/ids.ts'
import { sleep } from '../helpers/poll.ts'
import { giveToUnprivileged, runUnprivileged } from '../helpers/unprivileged.ts'

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ipvlan-lan-store-'))
  t.after(async () => {
    // Tests take permissions away; give them back so a non-root run can clean up.
    for (const folder of ['networks', 'endpoints'])
      await chmod(join(dir, folder), 0o700).catch(() => {})
    await rm(dir, { recursive: true, force: true })
  })
  return dir
}

/** An endpoint record placed and made durable: what CreateEndpoint and then Join leave on disk. */
async function saveEndpoint(store: JsonFileStore, endpoint: EndpointRecord): Promise<void> {
  await (
    await store.placeEndpoint(endpoint)
  ).durable
}

/** A loaded store over a new temp dir whose log lines collect in `lines`; `log` for a second one. */
async function loggedStore(t: TestContext) {
  const dir = await tempDir(t)
  const lines: string[] = []
  const log = createLogger('debug', (_level, line) => lines.push(line))
  const store = new JsonFileStore(dir, log)
  await store.load()
  return { dir, lines, log, store }
}

const fullNetwork: NetworkRecord = {
  id: id('net vlan'),
  parent: 'eth0.10',
  parentOrigin: 'vlan',
  vlan: { master: 'eth0', id: 10 },
  mode: 'l3s',
  flag: 'private',
  mtu: 1400,
  internal: false,
  ipv4: [{ pool: '192.168.10.0/24', gateway: '192.168.10.1', auxAddresses: ['192.168.10.2'] }],
  ipv6: [{ pool: '2001:db8::/64', gateway: '2001:db8::1' }],
  sharedParent: true,
}

const plainNetwork: NetworkRecord = {
  id: id('net dummy'),
  parent: 'di-0123456789ab',
  parentOrigin: 'dummy',
  mode: 'l2',
  flag: 'bridge',
  internal: true,
  ipv4: [{ pool: '10.0.0.0/8' }],
  ipv6: [],
}

const endpointA: EndpointRecord = {
  id: id('ep a'),
  networkId: fullNetwork.id,
  ifname: 'ivl0123456789ab',
  ipv4: '192.168.10.5/24',
  ipv6: '2001:db8::5/64',
}

const endpointB: EndpointRecord = {
  id: id('ep b'),
  networkId: plainNetwork.id,
  ifname: 'ivlba9876543210',
}

/** Every file in `folder` with its content (null for a directory or an unreadable file). */
async function contents(folder: string): Promise<Record<string, string | null>> {
  const files: Record<string, string | null> = {}
  for (const name of (await readdir(folder)).sort())
    files[name] = await readFile(join(folder, name), 'utf8').catch(() => null)
  return files
}

/** The entry is still there under its own name, and nothing was moved aside next to it. */
async function assertNotMoved(folder: string, name: string): Promise<void> {
  const names = await readdir(folder)
  assert.ok(names.includes(name), `${name} is gone: ${names.join(' ')}`)
  assert.ok(!names.some((other) => other.includes('.corrupt-')), names.join(' '))
}

/**
 * Every entry under `dir` by relative path: its inode and mtime (a rename over it, a rewrite, or
 * an entry added or removed in a folder changes one of them) and a file's bytes.
 */
async function tree(dir: string): Promise<Record<string, unknown>> {
  const entries: Record<string, unknown> = {}
  const walk = async (relative: string): Promise<void> => {
    const path = join(dir, relative)
    const stat = await lstat(path)
    const { ino, mtimeMs } = stat
    if (!stat.isDirectory()) {
      entries[relative] = { ino, mtimeMs, bytes: await readFile(path) }
      return
    }
    entries[relative + '/'] = { ino, mtimeMs }
    for (const name of (await readdir(path)).sort()) await walk(join(relative, name))
  }
  await walk('.')
  return entries
}

/** The error a load gives for a file a newer plugin wrote, built from the parts it must name. */
const newerMessage = (path: string, version: number): string =>
  `state file ${path} has version ${version}; this plugin reads state up to version ` +
  `${CURRENT_STATE_VERSION}: upgrade the plugin (docker plugin upgrade) rather than downgrade, ` +
  'nothing was changed'

/** Body for runUnprivileged: a store over `args.dir` whose log lines collect in `lines`. */
const OPEN_STORE = `
  const { JsonFileStore } = await import(repo + '/src/store/json-file-store.ts')
  const { createLogger } = await import(repo + '/src/log.ts')
  const lines = []
  const store = new JsonFileStore(args.dir, createLogger('debug', (_level, line) => lines.push(line)))
`
const LOAD = OPEN_STORE + 'return { snapshot: await store.load(), lines }'

const byId = <T extends { id: string }>(records: T[]): T[] =>
  [...records].sort((a, b) => a.id.localeCompare(b.id))

describe('JsonFileStore', () => {
  test('records saved by one store load in another over the same directory', async (t) => {
    const dir = await tempDir(t)
    const store = new JsonFileStore(dir, silentLogger)
    const empty = await store.load()
    assert.deepEqual([empty.networks, empty.endpoints], [[], []])
    await store.saveNetwork(fullNetwork)
    await store.saveNetwork(plainNetwork)
    await saveEndpoint(store, endpointA)
    await saveEndpoint(store, endpointB)

    const loaded = await new JsonFileStore(dir, silentLogger).load()
    assert.deepEqual(byId(loaded.networks), byId([fullNetwork, plainNetwork]))
    assert.deepEqual(byId(loaded.endpoints), byId([endpointA, endpointB]))
  })

  test('a swarm network (25 base-36 characters, e.g. --config-from) and its endpoint are stored and loaded', async (t) => {
    const dir = await tempDir(t)
    const store = new JsonFileStore(dir, silentLogger)
    const swarmId = 'riepehhrkplwbvmint19iq2qs'
    await store.load()
    await store.saveNetwork({ ...plainNetwork, id: swarmId })
    await saveEndpoint(store, { ...endpointB, networkId: swarmId })
    const loaded = await new JsonFileStore(dir, silentLogger).load()
    assert.deepEqual(
      loaded.networks.map((n) => n.id),
      [swarmId]
    )
    assert.deepEqual(
      loaded.endpoints.map((e) => e.networkId),
      [swarmId]
    )
    await store.deleteNetwork(swarmId)
    assert.deepEqual((await new JsonFileStore(dir, silentLogger).load()).networks, [])
  })

  test('saving a record again replaces it', async (t) => {
    const dir = await tempDir(t)
    const store = new JsonFileStore(dir, silentLogger)
    await store.load()
    await store.saveNetwork(plainNetwork)
    await store.saveNetwork({ ...plainNetwork, mode: 'l3' })
    const loaded = await new JsonFileStore(dir, silentLogger).load()
    assert.deepEqual(loaded.networks, [{ ...plainNetwork, mode: 'l3' }])
  })

  test('keeps one versioned JSON file per record and no temporary files', async (t) => {
    const dir = await tempDir(t)
    const store = new JsonFileStore(dir, silentLogger)
    await store.load()
    await store.saveNetwork(fullNetwork)
    await saveEndpoint(store, endpointA)
    await saveEndpoint(store, endpointB)
    assert.deepEqual(await readdir(join(dir, 'networks')), [`${fullNetwork.id}.json`])
    assert.deepEqual(
      (await readdir(join(dir, 'endpoints'))).sort(),
      [`${endpointA.id}.json`, `${endpointB.id}.json`].sort()
    )
    const text = await readFile(join(dir, 'networks', `${fullNetwork.id}.json`), 'utf8')
    assert.deepEqual(JSON.parse(text), { version: 1, ...fullNetwork })
    assert.equal(store.stats.writes, 4) // instance-id and three records
  })

  test('placeEndpoint resolves with the record in place and no temporary file; durable resolves; another store loads it', async (t) => {
    const dir = await tempDir(t)
    const store = new JsonFileStore(dir, silentLogger)
    await store.load()
    const placed = await store.placeEndpoint(endpointA)
    assert.deepEqual(await readdir(join(dir, 'endpoints')), [`${endpointA.id}.json`])
    const text = await readFile(join(dir, 'endpoints', `${endpointA.id}.json`), 'utf8')
    assert.deepEqual(JSON.parse(text), { version: CURRENT_STATE_VERSION, ...endpointA })
    await placed.durable
    assert.equal(store.stats.writes, 2) // instance-id and the record
    const loaded = await new JsonFileStore(dir, silentLogger).load()
    assert.deepEqual(loaded.endpoints, [endpointA])
  })

  test("placeEndpoint does not wait for node's thread pool (busy with earlier records' fsyncs in a burst); durable does", async (t) => {
    const dir = await tempDir(t)
    const store = new JsonFileStore(dir, silentLogger)
    await store.load()
    // Four opens of FIFOs no one writes to hold all four of the pool's threads until released.
    const fifos = [0, 1, 2, 3].map((i) => join(dir, `fifo${i}`))
    for (const fifo of fifos) execFileSync('mkfifo', [fifo])
    const held = fifos.map((fifo) => open(fifo, 'r'))
    let released = false
    const release = (): void => {
      if (released) return
      released = true
      for (const fifo of fifos) closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK))
    }
    try {
      await sleep(100)
      let timer: NodeJS.Timeout | undefined
      const placed = await Promise.race([
        store.placeEndpoint(endpointA),
        new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), 5000))),
      ])
      clearTimeout(timer)
      assert.ok(placed, 'placed while every pool thread was held')
      assert.deepEqual(readdirSync(join(dir, 'endpoints')), [`${endpointA.id}.json`])
      let durable = false
      void placed.durable.then(() => (durable = true))
      await sleep(200)
      assert.equal(durable, false, 'its fsync waits for a thread')
      release()
      await placed.durable
    } finally {
      // Before the hooks: the temporary directory's removal needs a thread too.
      release()
      for (const handle of await Promise.all(held)) await handle.close()
    }
    const loaded = await new JsonFileStore(dir, silentLogger).load()
    assert.deepEqual(loaded.endpoints, [endpointA])
  })

  test('an empty endpoint record (placed, then cut by a power loss before its fsync) is removed at load with a warning; an empty network record is moved aside', async (t) => {
    const { dir, lines, log, store } = await loggedStore(t)
    await saveEndpoint(store, endpointB)
    await writeFile(join(dir, 'endpoints', `${endpointA.id}.json`), '')
    await writeFile(join(dir, 'networks', `${plainNetwork.id}.json`), '')
    const loaded = await new JsonFileStore(dir, log).load()
    assert.deepEqual(loaded.endpoints, [endpointB])
    assert.deepEqual(await readdir(join(dir, 'endpoints')), [`${endpointB.id}.json`])
    const warned = lines.filter((line) => /level=warn .*power loss left empty/.test(line))
    assert.equal(warned.length, 1, lines.join(''))
    assert.ok(warned[0]?.includes(`${endpointA.id}.json`))
    const networks = await readdir(join(dir, 'networks'))
    assert.equal(networks.length, 1, networks.join(' '))
    assert.ok(networks[0]?.startsWith(`${plainNetwork.id}.json.corrupt-`), networks.join(' '))
  })

  test('the instance id is 8 hex characters and stays the same across loads', async (t) => {
    const dir = await tempDir(t)
    const first = (await new JsonFileStore(dir, silentLogger).load()).instanceId
    const second = (await new JsonFileStore(dir, silentLogger).load()).instanceId
    assert.match(first, /^[0-9a-f]{8}$/)
    assert.equal(second, first)
    assert.equal((await readFile(join(dir, 'instance-id'), 'utf8')).trim(), first)
  })

  test('separate state directories get different instance ids', async (t) => {
    const a = (await new JsonFileStore(await tempDir(t), silentLogger).load()).instanceId
    const b = (await new JsonFileStore(await tempDir(t), silentLogger).load()).instanceId
    assert.notEqual(a, b)
  })

  test('an invalid instance-id file is replaced with a fresh id', async (t) => {
    const dir = await tempDir(t)
    await writeFile(join(dir, 'instance-id'), 'not an id\n')
    const { instanceId } = await new JsonFileStore(dir, silentLogger).load()
    assert.match(instanceId, /^[0-9a-f]{8}$/)
    assert.equal((await readFile(join(dir, 'instance-id'), 'utf8')).trim(), instanceId)
  })

  test('deleting records is idempotent, and deleting unknown ids succeeds', async (t) => {
    const dir = await tempDir(t)
    const store = new JsonFileStore(dir, silentLogger)
    await store.load()
    await store.saveNetwork(plainNetwork)
    await saveEndpoint(store, endpointB)
    await store.deleteNetwork(plainNetwork.id)
    await store.deleteNetwork(plainNetwork.id)
    await store.deleteEndpoint(endpointB.id)
    await store.deleteEndpoint(endpointB.id)
    await store.deleteEndpoint(id('never saved'))
    const loaded = await new JsonFileStore(dir, silentLogger).load()
    assert.deepEqual([loaded.networks, loaded.endpoints], [[], []])
    assert.equal(store.stats.deletes, 2)
  })

  test('leftover temporary files of an interrupted write are removed at load', async (t) => {
    const dir = await tempDir(t)
    const store = new JsonFileStore(dir, silentLogger)
    await store.load()
    await store.saveNetwork(plainNetwork)
    const leftover = `.${fullNetwork.id}.json.4242.0.tmp`
    await writeFile(join(dir, 'networks', leftover), '{"half": ')
    await writeFile(join(dir, 'endpoints', `.${endpointA.id}.json.4242.1.tmp`), '')
    const loaded = await new JsonFileStore(dir, silentLogger).load()
    assert.deepEqual(loaded.networks, [plainNetwork])
    assert.deepEqual(await readdir(join(dir, 'networks')), [`${plainNetwork.id}.json`])
    assert.deepEqual(await readdir(join(dir, 'endpoints')), [])
  })

  test('a corrupt file is moved aside with an error log, and the other records still load', async (t) => {
    const { dir, lines, log, store } = await loggedStore(t)
    await store.saveNetwork(plainNetwork)
    await saveEndpoint(store, endpointB)
    const broken = `${fullNetwork.id}.json`
    await writeFile(join(dir, 'networks', broken), '{"version": 1, "id": ')
    const badEndpoint = `${endpointA.id}.json`
    await writeFile(join(dir, 'endpoints', badEndpoint), JSON.stringify({ version: 1 }))

    const loaded = await new JsonFileStore(dir, log).load()
    assert.deepEqual(loaded.networks, [plainNetwork])
    assert.deepEqual(loaded.endpoints, [endpointB])
    const networks = await readdir(join(dir, 'networks'))
    assert.ok(networks.includes(`${plainNetwork.id}.json`))
    assert.ok(!networks.includes(broken))
    assert.ok(
      networks.some((name) => name.startsWith(`${broken}.corrupt-`)),
      networks.join(' ')
    )
    const endpoints = await readdir(join(dir, 'endpoints'))
    assert.ok(endpoints.some((name) => name.startsWith(`${badEndpoint}.corrupt-`)))
    const moved = lines.filter((line) => /level=error .*invalid state file moved aside/.test(line))
    assert.equal(moved.length, 2, lines.join(''))
    assert.ok(moved.some((line) => line.includes(broken) && line.includes('invalid JSON')))
    assert.ok(moved.some((line) => line.includes(badEndpoint) && line.includes('schema mismatch')))

    // The moved file is not read again on the next load.
    const again = await new JsonFileStore(dir, silentLogger).load()
    assert.deepEqual(again.networks, [plainNetwork])
  })

  test('a record whose file name does not match its id is moved aside', async (t) => {
    const dir = await tempDir(t)
    const lines: string[] = []
    const store = new JsonFileStore(
      dir,
      createLogger('debug', (_level, line) => lines.push(line))
    )
    await store.load()
    await store.saveNetwork(fullNetwork)
    const wrongName = `${id('other')}.json`
    await writeFile(
      join(dir, 'networks', wrongName),
      JSON.stringify({ version: 1, ...plainNetwork })
    )
    const loaded = await store.load()
    assert.deepEqual(loaded.networks, [fullNetwork])
    const names = await readdir(join(dir, 'networks'))
    assert.ok(!names.includes(wrongName))
    assert.ok(names.some((name) => name.startsWith(`${wrongName}.corrupt-`)))
    assert.ok(lines.some((line) => line.includes(wrongName) && line.includes('does not match')))
  })

  test('a record with an unknown mode is moved aside rather than loaded', async (t) => {
    const dir = await tempDir(t)
    const store = new JsonFileStore(dir, silentLogger)
    await store.load()
    await saveEndpoint(store, endpointB)
    const name = `${plainNetwork.id}.json`
    await writeFile(
      join(dir, 'networks', name),
      JSON.stringify({ version: 1, ...plainNetwork, mode: 'l4' })
    )
    const loaded = await new JsonFileStore(dir, silentLogger).load()
    assert.deepEqual([loaded.networks, loaded.endpoints], [[], [endpointB]])
    const names = await readdir(join(dir, 'networks'))
    assert.ok(!names.includes(name))
    assert.ok(names.some((other) => other.startsWith(`${name}.corrupt-`)))
  })

  test('a state file that cannot be read (a directory) fails the load and is not moved', async (t) => {
    const dir = await tempDir(t)
    const store = new JsonFileStore(dir, silentLogger)
    await store.load()
    await store.saveNetwork(plainNetwork)
    const name = `${fullNetwork.id}.json`
    const path = join(dir, 'networks', name)
    await mkdir(path)
    await assert.rejects(store.load(), (error: Error) => {
      assert.ok(error.message.includes(`cannot read ${path}: EISDIR`), error.message)
      assert.equal((error.cause as NodeJS.ErrnoException).code, 'EISDIR')
      return true
    })
    await assertNotMoved(join(dir, 'networks'), name)
    await assertNotMoved(join(dir, 'networks'), `${plainNetwork.id}.json`)
  })

  test('a state directory below a regular file fails the load with ENOTDIR, naming the path', async (t) => {
    const dir = await tempDir(t)
    const file = join(dir, 'file')
    await writeFile(file, 'x')
    const before = await tree(dir)
    await assert.rejects(
      new JsonFileStore(join(file, 'state'), silentLogger).load(),
      (error: NodeJS.ErrnoException) => {
        assert.equal(error.code, 'ENOTDIR')
        assert.ok(error.message.includes(`cannot list ${join(file, 'state')}`), error.message)
        return true
      }
    )
    assert.deepEqual(await tree(dir), before)
  })

  test('a state file the plugin may not read (EACCES) fails the load and is not moved', async (t) => {
    const dir = await tempDir(t)
    const store = new JsonFileStore(dir, silentLogger)
    await store.load()
    await store.saveNetwork(plainNetwork)
    await saveEndpoint(store, endpointB)
    await giveToUnprivileged(dir)
    const name = `${endpointB.id}.json`
    const path = join(dir, 'endpoints', name)
    await chmod(path, 0o000)
    const before = await contents(join(dir, 'endpoints'))

    const outcome = await runUnprivileged(LOAD, { dir })
    assert.ok(!outcome.ok, 'the load succeeded')
    assert.ok(outcome.message.includes(`cannot read ${path}: EACCES`), outcome.message)
    assert.equal(outcome.causeCode, 'EACCES')
    await assertNotMoved(join(dir, 'endpoints'), name)
    await chmod(path, 0o600)
    assert.deepEqual(await contents(join(dir, 'endpoints')), {
      ...before,
      [name]: JSON.stringify({ version: 1, ...endpointB }) + '\n',
    })
  })

  test('a records folder that cannot be listed fails the load and nothing is moved', async (t) => {
    const dir = await tempDir(t)
    const store = new JsonFileStore(dir, silentLogger)
    await store.load()
    await store.saveNetwork(plainNetwork)
    await giveToUnprivileged(dir)
    await chmod(join(dir, 'networks'), 0o300)

    const outcome = await runUnprivileged(LOAD, { dir })
    assert.ok(!outcome.ok, 'the load succeeded')
    assert.ok(
      outcome.message.includes(`cannot list ${join(dir, 'networks')}: EACCES`),
      outcome.message
    )
    await chmod(join(dir, 'networks'), 0o700)
    await assertNotMoved(join(dir, 'networks'), `${plainNetwork.id}.json`)
  })

  test('an instance-id that cannot be read fails the load and is kept as it is', async (t) => {
    const dir = await tempDir(t)
    await new JsonFileStore(dir, silentLogger).load()
    const file = join(dir, 'instance-id')
    const before = await readFile(file, 'utf8')
    await giveToUnprivileged(dir)
    await chmod(file, 0o000)

    const outcome = await runUnprivileged(LOAD, { dir })
    assert.ok(!outcome.ok, 'the load succeeded')
    assert.ok(outcome.message.includes(`cannot read ${file}: EACCES`), outcome.message)
    assert.equal(outcome.causeCode, 'EACCES')
    await chmod(file, 0o600)
    assert.equal(await readFile(file, 'utf8'), before)
    assert.deepEqual((await readdir(dir)).sort(), ['endpoints', 'instance-id', 'networks'])
  })

  test('an instance-id that is a directory fails the load and is not replaced', async (t) => {
    const dir = await tempDir(t)
    const file = join(dir, 'instance-id')
    await mkdir(file)
    await assert.rejects(new JsonFileStore(dir, silentLogger).load(), (error: Error) => {
      assert.ok(error.message.includes(`cannot read ${file}: EISDIR`), error.message)
      return true
    })
    assert.deepEqual(await readdir(file), [])
    assert.deepEqual((await readdir(dir)).sort(), ['endpoints', 'instance-id', 'networks'])
  })

  test('a leftover temporary file that cannot be removed is logged and the load goes on', async (t) => {
    const dir = await tempDir(t)
    const store = new JsonFileStore(dir, silentLogger)
    await store.load()
    await store.saveNetwork(plainNetwork)
    const leftover = `.${fullNetwork.id}.json.4242.0.tmp`
    await writeFile(join(dir, 'networks', leftover), '{"half": ')
    await giveToUnprivileged(dir)
    await chmod(join(dir, 'networks'), 0o500)

    const outcome = await runUnprivileged(LOAD, { dir })
    assert.ok(outcome.ok, !outcome.ok ? outcome.message : '')
    const { snapshot, lines } = outcome.value as { snapshot: StoreSnapshot; lines: string[] }
    assert.deepEqual(snapshot.networks, [plainNetwork])
    assert.ok(
      lines.some(
        (line) => /level=warn .*temporary file.*EACCES/.test(line) && line.includes(leftover)
      ),
      lines.join('')
    )
    assert.deepEqual(
      (await readdir(join(dir, 'networks'))).sort(),
      [`${plainNetwork.id}.json`, leftover].sort()
    )
  })

  test("a network record without `flag` (an older file) loads with 'bridge'", async (t) => {
    const dir = await tempDir(t)
    await new JsonFileStore(dir, silentLogger).load()
    const { flag: _flag, ...old } = plainNetwork
    await writeFile(
      join(dir, 'networks', `${plainNetwork.id}.json`),
      JSON.stringify({ version: 1, ...old })
    )
    const loaded = await new JsonFileStore(dir, silentLogger).load()
    assert.deepEqual(loaded.networks, [{ ...plainNetwork, flag: 'bridge' }])
  })

  test('a record a newer plugin wrote stops the load with an error, and the state directory is untouched', async (t) => {
    const dir = await tempDir(t)
    const store = new JsonFileStore(dir, silentLogger)
    await store.load()
    await store.saveNetwork(plainNetwork)
    await saveEndpoint(store, endpointB)
    const newer = CURRENT_STATE_VERSION + 1
    const path = join(dir, 'networks', `${fullNetwork.id}.json`)
    // A newer format may change anything; the unknown field shows it is not judged by this schema.
    await writeFile(path, JSON.stringify({ version: newer, ...fullNetwork, futureField: [1] }))
    const before = await tree(dir)
    assert.ok(`networks/${fullNetwork.id}.json` in before, Object.keys(before).join(' '))
    assert.equal(Object.keys(before).length, 7, Object.keys(before).join(' '))

    await assert.rejects(new JsonFileStore(dir, silentLogger).load(), (error: Error) => {
      assert.equal(error.message, newerMessage(path, newer))
      return true
    })
    assert.deepEqual(await tree(dir), before)
  })

  test('a newer record in a new directory creates nothing: no folder, no instance-id', async (t) => {
    const dir = await tempDir(t)
    await mkdir(join(dir, 'endpoints'))
    const path = join(dir, 'endpoints', `${endpointA.id}.json`)
    await writeFile(path, JSON.stringify({ version: 7, ...endpointA }))
    const before = await tree(dir)
    assert.deepEqual(Object.keys(before), ['./', 'endpoints/', `endpoints/${endpointA.id}.json`])

    await assert.rejects(new JsonFileStore(dir, silentLogger).load(), (error: Error) => {
      assert.equal(error.message, newerMessage(path, 7))
      assert.match(
        error.message,
        /has version 7; this plugin reads state up to version \d+: upgrade the plugin/
      )
      return true
    })
    assert.deepEqual(await tree(dir), before)
  })

  test('a mixed directory (good v1 records, a corrupt one, a leftover, one newer) fails and nothing is moved', async (t) => {
    const { dir, lines, log, store } = await loggedStore(t)
    await store.saveNetwork(fullNetwork)
    await saveEndpoint(store, endpointB)
    const newer = CURRENT_STATE_VERSION + 1
    const newerPath = join(dir, 'endpoints', `${endpointA.id}.json`)
    await writeFile(newerPath, JSON.stringify({ version: newer, ...endpointA }))
    // Both would be changed by a load that goes on: the corrupt file moved aside, the leftover
    // removed. The networks folder is read first, so they come before the newer file.
    const corrupt = `${plainNetwork.id}.json`
    await writeFile(join(dir, 'networks', corrupt), '{"version": 1, "id": ')
    const leftover = `.${plainNetwork.id}.json.4242.0.tmp`
    await writeFile(join(dir, 'networks', leftover), '{"half": ')
    const before = await tree(dir)
    assert.equal(Object.keys(before).length, 9, Object.keys(before).join(' '))
    lines.length = 0

    await assert.rejects(new JsonFileStore(dir, log).load(), (error: Error) => {
      assert.equal(error.message, newerMessage(newerPath, newer))
      return true
    })
    assert.deepEqual(await tree(dir), before)
    await assertNotMoved(join(dir, 'networks'), corrupt)
    assert.deepEqual(lines, [])

    // Once the newer file is gone (the operator upgraded, or moved it away), the load goes on
    // as before: the corrupt file moved aside, the leftover removed, the good records loaded.
    await rm(newerPath)
    const loaded = await new JsonFileStore(dir, log).load()
    assert.deepEqual([loaded.networks, loaded.endpoints], [[fullNetwork], [endpointB]])
    const names = await readdir(join(dir, 'networks'))
    assert.ok(
      names.some((name) => name.startsWith(`${corrupt}.corrupt-`)),
      names.join(' ')
    )
    assert.ok(!names.includes(leftover), names.join(' '))
  })

  test(`records of version ${CURRENT_STATE_VERSION} and records without a version load`, async (t) => {
    const dir = await tempDir(t)
    await new JsonFileStore(dir, silentLogger).load()
    const files = {
      [`networks/${fullNetwork.id}.json`]: { version: 1, ...fullNetwork },
      [`networks/${plainNetwork.id}.json`]: plainNetwork,
      [`endpoints/${endpointA.id}.json`]: { version: CURRENT_STATE_VERSION, ...endpointA },
      [`endpoints/${endpointB.id}.json`]: endpointB,
    }
    for (const [file, record] of Object.entries(files))
      await writeFile(join(dir, file), JSON.stringify(record))
    assert.ok(!('version' in plainNetwork) && !('version' in endpointB))
    const before = await tree(dir)

    const loaded = await new JsonFileStore(dir, silentLogger).load()
    assert.deepEqual(byId(loaded.networks), byId([fullNetwork, plainNetwork]))
    assert.deepEqual(byId(loaded.endpoints), byId([endpointA, endpointB]))
    // Loading migrates in memory only; the files stay as they were until the next save.
    assert.deepEqual(await tree(dir), before)
  })

  test('a network record without `version` or `flag` loads with the defaults', async (t) => {
    const dir = await tempDir(t)
    await new JsonFileStore(dir, silentLogger).load()
    const { flag: _flag, ...old } = plainNetwork
    await writeFile(join(dir, 'networks', `${plainNetwork.id}.json`), JSON.stringify(old))
    const loaded = await new JsonFileStore(dir, silentLogger).load()
    assert.deepEqual(loaded.networks, [{ ...plainNetwork, flag: 'bridge' }])
  })

  // Versions no plugin writes are invalid content, moved aside like any other; only an integer
  // above CURRENT_STATE_VERSION is read as "written by a newer plugin".
  const badVersions: unknown[] = [String(CURRENT_STATE_VERSION + 1), null, 0, -1, 1.5, [2], {}]
  for (const bad of badVersions) {
    test(`a record with version ${JSON.stringify(bad)} is invalid content and moved aside`, async (t) => {
      const { dir, lines, log, store } = await loggedStore(t)
      await saveEndpoint(store, endpointB)
      const name = `${plainNetwork.id}.json`
      await writeFile(
        join(dir, 'networks', name),
        JSON.stringify({ ...plainNetwork, version: bad })
      )

      const loaded = await new JsonFileStore(dir, log).load()
      assert.deepEqual([loaded.networks, loaded.endpoints], [[], [endpointB]])
      const names = await readdir(join(dir, 'networks'))
      assert.ok(!names.includes(name), names.join(' '))
      assert.ok(
        names.some((other) => other.startsWith(`${name}.corrupt-`)),
        names.join(' ')
      )
      const moved = lines.filter((line) => line.includes('invalid state file moved aside'))
      assert.equal(moved.length, 1, lines.join(''))
      assert.ok(moved[0]?.includes('schema mismatch') && moved[0].includes('version'), moved[0])
    })
  }

  const badIds = [
    '../../etc/passwd',
    'abc',
    id('x').toUpperCase(),
    id('x') + '0',
    id('x').slice(0, 63) + 'g',
    '',
  ]
  for (const bad of badIds) {
    test(`refuses to write or delete a record with id ${JSON.stringify(bad.slice(0, 24))}`, async (t) => {
      const dir = await tempDir(t)
      const store = new JsonFileStore(dir, silentLogger)
      await store.load()
      await assert.rejects(store.saveNetwork({ ...plainNetwork, id: bad }), /refusing to store/)
      await assert.rejects(saveEndpoint(store, { ...endpointB, id: bad }), /refusing to store/)
      await assert.rejects(store.deleteNetwork(bad), /refusing to store/)
      await assert.rejects(store.deleteEndpoint(bad), /refusing to store/)
      assert.deepEqual(await readdir(join(dir, 'networks')), [])
      assert.deepEqual(await readdir(join(dir, 'endpoints')), [])
    })
  }

  test('a write fails with an error when the records folder cannot hold files (also as root)', async (t) => {
    const dir = await tempDir(t)
    const store = new JsonFileStore(dir, silentLogger)
    await store.load()
    await rm(join(dir, 'endpoints'), { recursive: true })
    await writeFile(join(dir, 'endpoints'), 'not a directory')
    await assert.rejects(saveEndpoint(store, endpointB), { code: 'ENOTDIR' })
    await assert.rejects(new JsonFileStore(dir, silentLogger).load())
  })

  test('a write to a read-only state directory fails with EACCES and leaves the state unchanged', async (t) => {
    const dir = await tempDir(t)
    const store = new JsonFileStore(dir, silentLogger)
    await store.load()
    await store.saveNetwork(plainNetwork)
    // As root the mode bits stop nothing (CAP_DAC_OVERRIDE): the write runs as nobody instead.
    await giveToUnprivileged(dir)
    await chmod(join(dir, 'networks'), 0o500)
    const before = await contents(join(dir, 'networks'))

    const outcome = await runUnprivileged(
      OPEN_STORE + 'await store.load(); await store.saveNetwork(args.network)',
      { dir, network: fullNetwork }
    )
    assert.ok(!outcome.ok, 'the write succeeded')
    assert.equal(outcome.code, 'EACCES', outcome.message)
    assert.match(outcome.message, /EACCES/)
    assert.deepEqual(await contents(join(dir, 'networks')), before)
    assert.deepEqual(Object.keys(before), [`${plainNetwork.id}.json`])
  })
})
