import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { id } from '../fakes/ids.ts'
import { createNetns, ipSync, rootSkipReason } from '../helpers/netns.ts'
import { pluginEntry, REPO, startPlugin } from '../helpers/plugin-process.ts'
import type { PluginProcess } from '../helpers/plugin-process.ts'
import { call } from '../helpers/socket-client.ts'

/**
 * The real plugin program under faults it cannot fix: an `ip` that never returns, and a state
 * directory that cannot be written. It must answer with errors that say so, and stay up.
 */
const skip = rootSkipReason('host netns')
const HANGING_IP = join(REPO, 'test', 'fixtures', 'hanging-ip')

/** Children of `pid` still running the hanging fixture (they must have been killed). */
function hangingChildren(pid: number): string[] {
  let out = ''
  try {
    out = execFileSync('ps', ['--ppid', String(pid), '-o', 'pid=,args='], { encoding: 'utf8' })
  } catch {
    return [] // ps exits 1 when there is no child at all
  }
  return out
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.includes('hanging-ip'))
}

const networkRecord = (networkId: string, parent: string) =>
  JSON.stringify({
    version: 1,
    id: networkId,
    parent,
    parentOrigin: 'existing',
    mode: 'l2',
    flag: 'bridge',
    internal: false,
    ipv4: [{ pool: '10.78.0.0/24', gateway: '10.78.0.1' }],
    ipv6: [],
  })

describe('the plugin process with an ip that hangs', { skip }, () => {
  let plugin: PluginProcess

  before(async () => {
    plugin = await startPlugin({ args: ['--ip-bin', HANGING_IP, '--ip-timeout-ms', '500'] })
  })
  after(async () => {
    await plugin.stop('SIGKILL')
  })

  test('CreateNetwork answers within seconds with an Err saying ip did not finish within 500 ms', async () => {
    const started = Date.now()
    const reply = await call(plugin.socket, 'NetworkDriver.CreateNetwork', {
      NetworkID: id('hang-net'),
      Options: { 'com.docker.network.generic': { parent: 'eth0' } },
      IPv4Data: [{ AddressSpace: 'LocalDefault', Pool: '10.77.0.0/24', Gateway: '10.77.0.1/24' }],
      IPv6Data: null,
    })
    const elapsed = Date.now() - started
    assert.equal(reply.status, 500, JSON.stringify(reply.body))
    assert.deepEqual(Object.keys(reply.body), ['Err'])
    assert.match(
      String(reply.body['Err']),
      /looking up link "eth0": "ip -j -d link show dev eth0" did not finish within 500 ms and was killed/
    )
    // At most one sweep (500 ms) ahead of it, then its own 500 ms.
    assert.ok(elapsed < 5000, `answered after ${elapsed} ms`)
    assert.equal(plugin.child.exitCode, null, 'still running')
    assert.deepEqual(readdirSync(join(plugin.stateDir, 'networks')), [], 'nothing recorded')
  })

  test('the process stays up, still answers GetCapabilities, and leaves no hung ip behind', async () => {
    const caps = await call(plugin.socket, 'NetworkDriver.GetCapabilities')
    assert.deepEqual(caps, {
      status: 200,
      body: { Scope: 'local', ConnectivityScope: 'global', GwAllocChecker: true },
    })
    const pid = plugin.child.pid ?? 0
    let left = hangingChildren(pid)
    for (let i = 0; i < 20 && left.length > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      left = hangingChildren(pid)
    }
    assert.deepEqual(left, [], 'timed-out ip processes are killed')
    assert.match(plugin.output(), /start-up reconciliation failed.*did not finish within 500 ms/)
    assert.equal(plugin.child.exitCode, null)
  })
})

describe('the plugin process with an unwritable state directory', { skip }, () => {
  test('a state directory below a regular file: the process exits 1 with a fatal message naming the path, serving nothing', async () => {
    const base = mkdtempSync(join(tmpdir(), 'ipvlan-lan-faults-'))
    try {
      const file = join(base, 'file')
      writeFileSync(file, 'not a directory\n')
      const stateDir = join(file, 'state')
      const socket = join(base, 'plugin.sock')
      const child = spawn(
        process.execPath,
        [...pluginEntry(), '--socket', socket, '--state-dir', stateDir],
        { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] }
      )
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
      const code = await new Promise<number | null>((resolve, reject) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL')
          reject(new Error(`still running after 60 s: ${stdout}${stderr}`))
        }, 60_000)
        child.once('exit', (exitCode) => {
          clearTimeout(timer)
          resolve(exitCode)
        })
      })
      assert.equal(code, 1, stdout + stderr)
      // The store lists every record folder before it changes anything (a newer plugin's state
      // is left as it was), so the first call to fail is that listing.
      assert.match(
        stderr,
        /^level=error msg="fatal: cannot list \S+\/state\/networks: ENOTDIR: not a directory, scandir '/m
      )
      assert.ok(stderr.includes(stateDir), `names the state directory: ${stderr}`)
      assert.doesNotMatch(stderr, /\n\s+at /, 'a message, not a stack trace')
      assert.equal(existsSync(socket), false, 'never listened')
    } finally {
      rmSync(base, { recursive: true, force: true })
    }
  })

  describe('a state directory that breaks while running', () => {
    let ns: { name: string; remove: () => void }
    let plugin: PluginProcess
    let stateDir: string
    const net = id('unwritable-net')
    const ep = id('unwritable-ep')

    before(async () => {
      ns = createNetns()
      ipSync('-n', ns.name, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'peer0')
      ipSync('-n', ns.name, 'link', 'set', 'eth0', 'up')
      // The record a successful CreateNetwork writes (this kernel may lack ipvlan).
      stateDir = join(mkdtempSync(join(tmpdir(), 'ipvlan-lan-faults-')), 'state')
      mkdirSync(join(stateDir, 'networks'), { recursive: true })
      writeFileSync(join(stateDir, 'networks', `${net}.json`), networkRecord(net, 'eth0'))
      plugin = await startPlugin({ netns: ns.name, stateDir })
    })
    after(async () => {
      await plugin.stop('SIGKILL')
      ns.remove()
      rmSync(join(stateDir, '..'), { recursive: true, force: true })
    })

    test('CreateEndpoint answers an Err naming the state directory, the process stays up, and after repair it succeeds', async () => {
      const endpoints = join(stateDir, 'endpoints')
      assert.deepEqual(readdirSync(endpoints), [])
      rmSync(endpoints, { recursive: true })
      writeFileSync(endpoints, 'not a directory\n')
      const body = {
        NetworkID: net,
        EndpointID: ep,
        Interface: { Address: '10.78.0.5/24', AddressIPv6: '', MacAddress: '' },
        Options: {},
      }
      const failed = await call(plugin.socket, 'NetworkDriver.CreateEndpoint', body)
      assert.equal(failed.status, 500, JSON.stringify(failed.body))
      assert.match(
        String(failed.body['Err']),
        /saving endpoint: the state directory could not be written: ENOTDIR/
      )
      assert.ok(String(failed.body['Err']).includes(endpoints), String(failed.body['Err']))
      assert.equal(plugin.child.exitCode, null, 'still running')
      assert.equal((await call(plugin.socket, 'NetworkDriver.GetCapabilities')).status, 200)
      const status = await call(plugin.socket, 'IpvlanLan.Status')
      assert.equal(status.body['Endpoints'], 0, 'nothing half-recorded')

      rmSync(endpoints)
      mkdirSync(endpoints, { mode: 0o700 })
      assert.deepEqual(await call(plugin.socket, 'NetworkDriver.CreateEndpoint', body), {
        status: 200,
        body: {},
      })
      assert.deepEqual(readdirSync(endpoints), [`${ep}.json`])
      assert.deepEqual(
        await call(plugin.socket, 'NetworkDriver.DeleteEndpoint', {
          NetworkID: net,
          EndpointID: ep,
        }),
        { status: 200, body: {} }
      )
      assert.deepEqual(readdirSync(endpoints), [])
    })
  })
})
