import assert from 'node:assert/strict'
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { IpvlanDriver } from '../../src/driver/driver.ts'
import type { LinkLayer } from '../../src/driver/ports/link-layer.ts'
import { LinkError } from '../../src/driver/ports/link-layer.ts'
import { createApp } from '../../src/http/app.ts'
import { createIproute2 } from '../../src/link/iproute2.ts'
import { execaRunner } from '../../src/link/runner.ts'
import { createLogger } from '../../src/log.ts'
import { id } from '../fakes/ids.ts'
import { MemoryStore } from '../fakes/memory-store.ts'

/**
 * The real process runner (execa) against stand-in `ip` programs: whatever way `ip` fails, the
 * error keeps execa's code, signal and message and ip's own words, up to what Docker shows and
 * what the log says.
 */
const dir = mkdtempSync(join(tmpdir(), 'ipvlan-lan-runner-'))

/** A stand-in `ip`: a /bin/sh script (the unit tier needs no iproute2 and no root). */
function fakeIp(name: string, body: string): string {
  const path = join(dir, name)
  writeFileSync(path, `#!/bin/sh\n${body}\n`)
  chmodSync(path, 0o755)
  return path
}

const linksWith = (ipBin: string, timeoutMs = 5000): LinkLayer =>
  createIproute2({ run: execaRunner({ ipBin, timeoutMs }), timeoutMs })

async function linkError(promise: Promise<unknown>): Promise<LinkError> {
  try {
    await promise
  } catch (error) {
    assert.ok(error instanceof LinkError, `expected a LinkError, got ${String(error)}`)
    return error
  }
  assert.fail('the call succeeded')
}

describe('execa runner: how ip failed is kept', () => {
  test('a missing ip binary names the binary and ENOENT, with the spawn error as cause', async () => {
    const missing = join(dir, 'no-such-ip')
    const error = await linkError(linksWith(missing).setUp('eth0'))
    assert.equal(error.code, 'ENOENT')
    assert.equal(error.exitCode, undefined)
    assert.match(error.message, /ENOENT/)
    assert.match(error.message, /no-such-ip/)
    assert.doesNotMatch(error.message, /exit code -1/)
    assert.ok(error.cause instanceof Error, 'the spawn error is the cause')
    assert.equal((error.cause as NodeJS.ErrnoException).code, 'ENOENT')
  })

  test('an ip killed by a signal says which signal', async () => {
    const ip = fakeIp('killed-ip', 'echo "about to die" >&2\nkill -KILL $$')
    const error = await linkError(linksWith(ip).setUp('eth0'))
    assert.equal(error.signal, 'SIGKILL')
    assert.equal(error.kind, 'failed')
    assert.match(error.message, /SIGKILL/)
    assert.match(error.message, /about to die/, 'what ip printed before it died is kept')
  })

  test('an ip that hangs is killed at the limit: a timeout naming the limit and the signal', async () => {
    const ip = fakeIp('hung-ip', 'exec sleep 30')
    const error = await linkError(linksWith(ip, 200).setUp('eth0'))
    assert.equal(error.kind, 'timeout')
    assert.equal(error.signal, 'SIGKILL')
    assert.match(error.message, /within 200 ms/)
    assert.match(error.message, /SIGKILL/)
  })

  test("an unsupported link type is 'unsupported' and keeps ip's own text", async () => {
    const ip = fakeIp(
      'no-ipvlan-ip',
      'cat >/dev/null\necho "Error: Unknown device type." >&2\nexit 2'
    )
    const error = await linkError(
      linksWith(ip).addIpvlan({
        name: 'ivl0123456789ab',
        parent: 'eth0',
        mode: 'l2',
        flag: 'bridge',
        alias: 'ipvlan-lan/feedf00d:ep:x',
      })
    )
    assert.equal(error.kind, 'unsupported')
    assert.equal(error.exitCode, 2)
    assert.equal(error.message, 'Error: Unknown device type.')
  })
})

describe('ip failures as Docker and the log see them', () => {
  async function createNetworkWith(ipBin: string): Promise<{ err: string; log: string }> {
    const lines: string[] = []
    const log = createLogger('debug', (_level, line) => lines.push(line))
    const links = linksWith(ipBin)
    const driver = await IpvlanDriver.open({
      hostId: 'node-a',
      links,
      store: new MemoryStore(),
      log,
    })
    const app = createApp({ driver, log })
    const response = await app.request('/NetworkDriver.CreateNetwork', {
      method: 'POST',
      body: JSON.stringify({
        NetworkID: id('runner network'),
        Options: { 'com.docker.network.generic': { parent: 'eth0' } },
        IPv4Data: [{ AddressSpace: 'x', Pool: '10.9.0.0/24', Gateway: '10.9.0.1/24' }],
        IPv6Data: [],
      }),
    })
    assert.equal(response.status, 500)
    const body = (await response.json()) as { Err?: unknown }
    assert.equal(typeof body.Err, 'string')
    return { err: String(body.Err), log: lines.join('') }
  }

  test('a missing binary: the Err names ENOENT, the log carries the code and the cause', async () => {
    const { err, log } = await createNetworkWith(join(dir, 'no-such-ip'))
    assert.match(err, /looking up link "eth0"/)
    assert.match(err, /ENOENT/)
    assert.match(log, /request failed/)
    assert.match(log, /"code":"ENOENT"/)
    assert.match(log, /"name":"LinkError"/)
  })

  test("an unsupported link type: the plain explanation first, then ip's text", async () => {
    // `ip link show eth0` answers; every -batch (the probe) fails as on a kernel without ipvlan.
    const ip = fakeIp(
      'show-ok-ip',
      [
        'case "$*" in',
        '  *-batch*) cat >/dev/null; echo "Error: Unknown device type." >&2; exit 2 ;;',
        '  *) echo \'[{"ifname":"eth0","flags":["UP"]}]\' ;;',
        'esac',
      ].join('\n')
    )
    const { err, log } = await createNetworkWith(ip)
    assert.match(err, /^the host kernel has no ipvlan support \(CONFIG_IPVLAN\)/)
    assert.match(err, /ip said: Error: Unknown device type\.\)$/)
    assert.match(log, /"exitCode":2/)
  })
})
