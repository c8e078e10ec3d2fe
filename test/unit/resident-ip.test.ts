import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, beforeEach, describe, test } from 'node:test'
import { LinkError } from '../../src/driver/ports/link-layer.ts'
import type { LinkLayer } from '../../src/driver/ports/link-layer.ts'
import { createIproute2 } from '../../src/link/iproute2.ts'
import { ResidentIp } from '../../src/link/resident-ip.ts'
import { execaRunner } from '../../src/link/runner.ts'
import { REPO } from '../helpers/repo-root.ts'

/**
 * The long-lived `ip -force -batch -` against a stand-in that answers as ip does (stderr only):
 * groups behave as one `ip -batch -` each, and a dead or hung process costs one line, not the rest.
 */
const BATCH_IP = join(REPO, 'test', 'fixtures', 'batch-ip')
const dir = mkdtempSync(join(tmpdir(), 'ipvlan-lan-resident-'))
const log = join(dir, 'lines.log')
process.env['FAKE_IP_LOG'] = log

/** Lines the stand-ins read, in order, without the end-of-line marks, as [pid, line]. */
function received(): [string, string][] {
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter((line) => line !== '' && !line.endsWith(' link show dev ipvlan-lan/end-of-line'))
    .map((line) => {
      const space = line.indexOf(' ')
      return [line.slice(0, space), line.slice(space + 1)]
    })
}

const open: ResidentIp[] = []
function resident(timeoutMs = 5000, ipBin = BATCH_IP): { ip: ResidentIp; spawns: () => number } {
  let spawns = 0
  const ip = new ResidentIp({ ipBin, timeoutMs, onSpawn: () => spawns++ })
  open.push(ip)
  return { ip, spawns: () => spawns }
}

function links(ip: ResidentIp, timeoutMs = 5000): LinkLayer {
  // Anything not batched would start the missing binary and fail loudly.
  const run = execaRunner({ ipBin: join(dir, 'no-per-call-ip'), timeoutMs })
  return createIproute2({ run, batch: ip.run, timeoutMs })
}

const spec = (name: string) =>
  ({ name, parent: 'eth0', mode: 'l2', flag: 'bridge', alias: `ipvlan-lan/ab:ep:${name}` }) as const

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('resident ip: one process, each group answered as one ip -batch', () => {
  beforeEach(() => writeFileSync(log, ''))
  after(() => {
    for (const ip of open) ip.close()
  })

  test('groups that succeed run in one process, warnings kept', async () => {
    const { ip, spawns } = resident()
    assert.deepEqual(await ip.run(['link set dev a up', 'link set dev b up']), {
      stdout: '',
      stderr: '',
      exitCode: 0,
      timedOut: false,
    })
    const warned = await ip.run(['link set dev warn0 up'])
    assert.equal(warned.exitCode, 0)
    assert.equal(warned.stderr, 'Warning: be careful\n')
    assert.equal(spawns(), 1)
    const lines = received()
    assert.deepEqual(
      lines.map(([, line]) => line),
      ['link set dev a up', 'link set dev b up', 'link set dev warn0 up']
    )
    assert.equal(new Set(lines.map(([pid]) => pid)).size, 1, 'one process read them all')
    // The mark's name must be too long for if_nametoindex's ioctl, which makes the kernel try
    // `modprobe netdev-NAME` for an unknown short name (300 ms a line in the lab VM).
    const marks = [...readFileSync(log, 'utf8').matchAll(/ link show dev (\S+)\n/g)]
    assert.equal(marks.length, 3, 'one mark per line')
    for (const [, name] of marks) assert.ok((name ?? '').length > 15, name)
  })

  test('a failing line ends its group, numbered within the group; the process lives on', async () => {
    const { ip, spawns } = resident()
    const result = await ip.run(['link set dev a up', 'link add name fail1', 'link set dev c up'])
    assert.equal(result.exitCode, 1)
    assert.equal(result.stderr, 'RTNETLINK answers: File exists\nCommand failed -:2\n')
    assert.deepEqual(
      received().map(([, line]) => line),
      ['link set dev a up', 'link add name fail1'],
      'the line after the failure was never sent'
    )
    assert.equal((await ip.run(['link set dev d up'])).exitCode, 0)
    assert.equal(spawns(), 1)
  })

  test('ENODEV after earlier lines: the line runs again in a new process, the group goes on there', async () => {
    const { ip, spawns } = resident()
    assert.equal((await ip.run(['link set dev a up'])).exitCode, 0)
    const result = await ip.run([
      'link set dev b up',
      'link add link stale0 name c',
      'link set dev c up',
    ])
    assert.deepEqual(result, { stdout: '', stderr: '', exitCode: 0, timedOut: false })
    assert.equal(spawns(), 2, 'one new process, for the stale name')
    const lines = received()
    assert.deepEqual(
      lines.map(([, line]) => line),
      [
        'link set dev a up',
        'link set dev b up',
        'link add link stale0 name c',
        'link add link stale0 name c',
        'link set dev c up',
      ]
    )
    const [first, , , again, last] = lines.map(([pid]) => pid)
    assert.equal(lines[2]?.[0], first, 'the stale answer came from the first process')
    assert.notEqual(again, first, 'the line ran again in another process')
    assert.equal(last, again, 'the rest of the group went on in the new one')
  })

  test('ENODEV in a new process is the answer: no second try, numbered in its group', async () => {
    const { ip, spawns } = resident()
    const fresh = await ip.run(['link add link nodev0 name c'])
    assert.equal(fresh.stderr, 'RTNETLINK answers: No such device\nCommand failed -:1\n')
    assert.equal(spawns(), 1, 'a process that had run nothing has nothing cached')
    const later = await ip.run([
      'link set dev a up',
      'link add link nodev1 name c',
      'link set dev c up',
    ])
    assert.equal(later.exitCode, 1)
    assert.equal(later.stderr, 'RTNETLINK answers: No such device\nCommand failed -:2\n')
    assert.equal(spawns(), 2, 'one more try in a new process, not more')
    assert.deepEqual(
      received().map(([, line]) => line),
      [
        'link add link nodev0 name c',
        'link set dev a up',
        'link add link nodev1 name c',
        'link add link nodev1 name c',
      ],
      'the line after the failure was never sent'
    )
  })

  test('through the link layer: addIpvlans reports how far it got and the failing spec', async () => {
    const { ip } = resident()
    const outcome = await links(ip).addIpvlans([spec('iv1'), spec('ivfail2'), spec('iv3')])
    assert.equal(outcome.made, 1)
    assert.equal(outcome.whole, undefined)
    assert.equal(outcome.error?.kind, 'exists')
    assert.match(outcome.error?.command ?? '', /ivfail2/)
    assert.doesNotMatch(
      outcome.error?.message ?? '',
      /end-of-line/,
      'the end-of-line mark is not shown'
    )
    assert.ok(!received().some(([, line]) => line.includes('iv3')), 'iv3 was not tried')
  })

  test('a process that dies fails its line as a dead ip would; the next group starts a new one', async () => {
    const { ip, spawns } = resident()
    const result = await ip.run(['link set dev a up', 'link set dev die0 up', 'link set dev e up'])
    assert.equal(result.exitCode, 2)
    assert.match(result.stderr, /dying/)
    assert.doesNotMatch(result.stderr, /Command failed/, 'a dead ip names no failed line')
    await assert.rejects(
      links(ip).addIpvlan(spec('ivdie')),
      (error: unknown) =>
        error instanceof LinkError && error.exitCode === 2 && /dying/.test(error.message)
    )
    assert.equal((await ip.run(['link set dev f up'])).exitCode, 0)
    assert.equal(spawns(), 3, 'a process per death, then one more')
    assert.ok(!received().some(([, line]) => line === 'link set dev e up'), 'e was never sent')
  })

  test('a line that hangs is killed at the limit: a timeout, the process gone, the next group served', async () => {
    const { ip, spawns } = resident(300)
    const started = Date.now()
    await assert.rejects(links(ip, 300).addIpvlan(spec('ivhang')), (error: unknown) => {
      assert.ok(error instanceof LinkError)
      assert.equal(error.kind, 'timeout')
      assert.match(error.message, /within 300 ms/)
      assert.match(error.message, /SIGKILL/)
      return true
    })
    assert.ok(Date.now() - started < 3000, 'bounded by the limit')
    const [hung] = received()
    assert.ok(hung, 'the stand-in read the line')
    await new Promise((resolve) => setTimeout(resolve, 100))
    assert.equal(alive(Number(hung[0])), false, 'the hung ip was killed')
    assert.equal((await ip.run(['link set dev g up'])).exitCode, 0)
    assert.equal(spawns(), 2)
  })

  test('a missing binary is ENOENT, named, for every group', async () => {
    const { ip } = resident(5000, join(dir, 'no-such-ip'))
    for (let i = 0; i < 2; i++) {
      const error = await links(ip)
        .addIpvlan(spec('iv1'))
        .then(
          () => assert.fail('succeeded'),
          (e: unknown) => e
        )
      assert.ok(error instanceof LinkError)
      assert.equal(error.code, 'ENOENT')
      assert.match(error.message, /no-such-ip/)
    }
  })

  test('concurrent groups run one after the other, in the order they came, each whole', async () => {
    const { ip, spawns } = resident()
    const groups = Array.from({ length: 20 }, (_, i) => [
      `link set dev a${i} up`,
      `link set dev b${i} up`,
    ])
    const results = await Promise.all(groups.map((group) => ip.run(group)))
    assert.ok(results.every((result) => result.exitCode === 0))
    assert.deepEqual(
      received().map(([, line]) => line),
      groups.flat()
    )
    assert.equal(spawns(), 1)
  })

  test('a line holding a newline is refused before anything runs', async () => {
    const { ip, spawns } = resident()
    const result = await ip.run(['link set dev a up\nlink del dev eth0'])
    assert.equal(result.exitCode, undefined)
    assert.match(result.shortMessage ?? '', /newline/)
    assert.equal(spawns(), 0)
  })
})
