import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { IpvlanDriver } from '../../src/driver/driver.ts'
import { MAX_BODY_BYTES, createApp } from '../../src/http/app.ts'
import { silentLogger } from '../../src/log.ts'
import { close, listenUnix } from '../../src/server.ts'
import type { Server } from 'node:http'
import { FakeLinkLayer } from '../fakes/fake-link-layer.ts'
import { sleep } from '../helpers/poll.ts'
import { MemoryStore } from '../fakes/memory-store.ts'

/** Sends raw HTTP/1.1 bytes, as dockerd's Go client does, and returns the raw reply. */
function raw(socket: string, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const conn = connect(socket)
    let reply = ''
    conn.on('data', (chunk) => (reply += chunk.toString()))
    conn.on('end', () => resolve(reply))
    conn.on('error', reject)
    conn.end(request)
  })
}

/**
 * One connection kept open, as dockerd's Go client keeps it: what came back on it, whether the
 * server closed it, and a wait (2 s at most) for the `count`th 200 answer, asserted.
 */
function keptConnection(socket: string) {
  const conn = connect(socket)
  const seen = { reply: '', closed: false }
  conn.on('data', (chunk) => (seen.reply += chunk.toString()))
  conn.on('close', () => (seen.closed = true))
  const answers = (): number => (seen.reply.match(/HTTP\/1\.1 200/g) ?? []).length
  const answered = async (count: number): Promise<void> => {
    for (let i = 0; i < 100 && answers() < count; i++) await sleep(20)
    assert.equal(answers(), count, seen.reply)
  }
  return { conn, seen, answered }
}

const newDriver = (): Promise<IpvlanDriver> =>
  IpvlanDriver.open({
    hostId: 'node-a',
    links: new FakeLinkLayer(),
    store: new MemoryStore(),
    log: silentLogger,
  })

describe('the unix-socket server', () => {
  let dir: string
  let socket: string
  let server: Server

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ipvlan-lan-server-'))
    socket = join(dir, 'sub', 'plugin.sock')
    server = await listenUnix(createApp({ driver: await newDriver(), log: silentLogger }), socket)
  })
  after(async () => {
    await close(server)
    rmSync(dir, { recursive: true, force: true })
  })

  test('an idle keep-alive connection stays open past the 5 s Node default and serves again', async () => {
    const { conn, seen, answered } = keptConnection(socket)
    const request =
      'POST /NetworkDriver.GetCapabilities HTTP/1.1\r\nHost: \r\nContent-Length: 0\r\n\r\n'
    try {
      conn.write(request)
      await answered(1)
      await sleep(6000)
      assert.equal(seen.closed, false, 'the server closed the idle connection')
      conn.write(request)
      await answered(2)
    } finally {
      conn.destroy()
    }
  })

  const hosts = {
    'an empty Host header (Docker 20.10)': 'Host: \r\n',
    'the socket path as Host (older engines)': 'Host: /run/docker/plugins/abc/ipvlan-lan.sock\r\n',
    'the Host of newer engines': 'Host: plugin.moby.localhost\r\n',
  }
  for (const [name, header] of Object.entries(hosts)) {
    test(`answers GetCapabilities with ${name}`, async () => {
      const reply = await raw(
        socket,
        `POST /NetworkDriver.GetCapabilities HTTP/1.1\r\n${header}Content-Length: 0\r\nConnection: close\r\n\r\n`
      )
      assert.match(reply, /^HTTP\/1\.1 200/)
      assert.match(reply, /"Scope":"local"/)
    })
  }

  /** A CreateNetwork body padded to exactly `bytes` bytes (the padding is an unknown field). */
  const paddedCreateNetwork = (bytes: number): string => {
    const body = (padding: string): string =>
      JSON.stringify({
        NetworkID: 'f'.repeat(64),
        Options: { 'com.docker.network.generic': { parent: 'eth0' } },
        IPv4Data: [{ AddressSpace: 'LocalDefault', Pool: '10.9.0.0/24', Gateway: '10.9.0.1/24' }],
        IPv6Data: [],
        Padding: padding,
      })
    return body('x'.repeat(bytes - body('').length))
  }

  test('a body over 1 MiB is refused with a 413 JSON Err, by its Content-Length or as it arrives', async () => {
    const driver = await newDriver()
    const app = createApp({ driver, log: silentLogger })
    const big = join(dir, 'big.sock')
    const own = await listenUnix(app, big)
    try {
      const body = paddedCreateNetwork(MAX_BODY_BYTES + 1)
      const declared = await raw(
        big,
        `POST /NetworkDriver.CreateNetwork HTTP/1.1\r\nHost: \r\nContent-Length: ${body.length}\r\n\r\n${body}`
      )
      assert.match(declared, /^HTTP\/1\.1 413/)
      assert.match(declared, /"Err":"request body larger than 1048576 bytes"/)
      const chunked = await raw(
        big,
        `POST /NetworkDriver.CreateNetwork HTTP/1.1\r\nHost: \r\nTransfer-Encoding: chunked\r\n\r\n` +
          `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`
      )
      assert.match(chunked, /^HTTP\/1\.1 413/)
      assert.match(chunked, /"Err":"request body larger than 1048576 bytes"/)
      assert.deepEqual(driver.networks(), [], 'a refused body created a network')
      const exact = paddedCreateNetwork(MAX_BODY_BYTES)
      const accepted = await raw(
        big,
        `POST /NetworkDriver.CreateNetwork HTTP/1.1\r\nHost: \r\nContent-Length: ${exact.length}\r\nConnection: close\r\n\r\n${exact}`
      )
      assert.match(accepted, /^HTTP\/1\.1 200/, accepted.slice(0, 300))
      assert.match(accepted, /\r\n\r\n\{\}$/)
      assert.equal(driver.networks().length, 1)
    } finally {
      await close(own)
    }
  })

  test('a body sent in pieces is read whole, and the connection serves again afterwards', async () => {
    const { conn, seen, answered } = keptConnection(socket)
    const body = JSON.stringify({ NetworkID: 'a'.repeat(64), EndpointID: 'b'.repeat(64) })
    const head = `POST /NetworkDriver.Leave HTTP/1.1\r\nHost: \r\nContent-Length: ${body.length}\r\n\r\n`
    try {
      conn.write(head + body.slice(0, 40))
      await sleep(100)
      assert.equal(seen.reply, '', 'answered before the body was whole')
      conn.write(body.slice(40))
      await answered(1)
      // Longer than node-server's 500 ms clean-up of unread bodies: the connection still serves.
      await sleep(800)
      conn.write(head + body)
      await answered(2)
      assert.doesNotMatch(seen.reply, /"Err"/)
    } finally {
      conn.destroy()
    }
  })

  test('the socket is 0600 and its directory is created', () => {
    assert.equal(statSync(socket).mode & 0o777, 0o600)
  })

  test('a stale socket file left by a killed process is replaced', async () => {
    const stale = join(dir, 'stale.sock')
    writeFileSync(stale, '')
    const again = await listenUnix(
      createApp({ driver: await newDriver(), log: silentLogger }),
      stale
    )
    assert.ok(statSync(stale).isSocket())
    await close(again)
  })
})
