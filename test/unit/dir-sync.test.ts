import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { DirSync, syncDir } from '../../src/store/dir-sync.ts'

/** An fsync that ends when the test says, recording when each one started. */
function manualFsync() {
  const started: { release: () => void; fail: (error: Error) => void }[] = []
  const fsync = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      started.push({ release: resolve, fail: reject })
    })
  return { started, fsync }
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

describe('DirSync (directory fsyncs shared by concurrent writers)', () => {
  test('callers arriving while an fsync runs share the next one, which starts after it', async () => {
    const { started, fsync } = manualFsync()
    const dir = new DirSync('/state/endpoints', fsync)
    const done: string[] = []
    const first = dir.sync().then(() => done.push('first'))
    await tick()
    assert.equal(started.length, 1)
    // Their renames may have come after the running fsync began: it does not cover them.
    const second = dir.sync().then(() => done.push('second'))
    const third = dir.sync().then(() => done.push('third'))
    await tick()
    assert.equal(started.length, 1, 'no second fsync while the first runs')
    started[0]?.release()
    await first
    await tick()
    assert.deepEqual(done, ['first'], 'the later callers wait for an fsync started after them')
    assert.equal(started.length, 2, 'one fsync for both later callers')
    started[1]?.release()
    await Promise.all([second, third])
    assert.deepEqual(done, ['first', 'second', 'third'])
    // Idle again: the next caller starts its own at once.
    const fourth = dir.sync()
    await tick()
    assert.equal(started.length, 3)
    started[2]?.release()
    await fourth
  })

  test('a failed fsync fails exactly the callers it covered; the next ones get a fresh one', async () => {
    const { started, fsync } = manualFsync()
    const dir = new DirSync('/state/endpoints', fsync)
    const first = dir.sync()
    await tick()
    const second = dir.sync()
    started[0]?.fail(new Error('EIO'))
    await assert.rejects(first, /EIO/)
    await tick()
    assert.equal(started.length, 2, 'the queued caller still gets its own fsync')
    started[1]?.release()
    await second
  })

  test('syncDir fsyncs a real directory, and names a missing one in its error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipvlan-lan-dirsync-'))
    try {
      await syncDir(dir)
      await assert.rejects(syncDir(join(dir, 'missing')), /ENOENT/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
