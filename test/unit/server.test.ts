import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { IpvlanDriver } from '../../src/driver/driver.ts'
import { createApp } from '../../src/http/app.ts'
import { silentLogger } from '../../src/log.ts'
import { close, listenUnix } from '../../src/server.ts'
import type { Server } from 'node:http'
import { FakeLinkLayer } from '../fakes/fake-link-layer.ts'
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
    const conn = connect(socket)
    let reply = ''
    let closed = false
    conn.on('data', (chunk) => (reply += chunk.toString()))
    conn.on('close', () => (closed = true))
    const request =
      'POST /NetworkDriver.GetCapabilities HTTP/1.1\r\nHost: \r\nContent-Length: 0\r\n\r\n'
    const answered = async (count: number): Promise<void> => {
      for (let i = 0; i < 100 && (reply.match(/HTTP\/1\.1 200/g) ?? []).length < count; i++)
        await new Promise((resolve) => setTimeout(resolve, 20))
      assert.equal((reply.match(/HTTP\/1\.1 200/g) ?? []).length, count, reply)
    }
    try {
      conn.write(request)
      await answered(1)
      await new Promise((resolve) => setTimeout(resolve, 6000))
      assert.equal(closed, false, 'the server closed the idle connection')
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
