import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { KeyedMutex, KeyedSharedLock } from '../../src/driver/lock.ts'

/** A promise with its resolve function, to hold a section open until the test lets it go. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void
  const promise = new Promise<void>((resolve) => {
    open = resolve
  })
  return { promise, open }
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

const keysOf = (mutex: KeyedMutex): number =>
  (Reflect.get(mutex, 'tails') as Map<string, unknown>).size

describe('KeyedMutex', () => {
  test('sections with the same key run one after another, in order', async () => {
    const mutex = new KeyedMutex()
    const events: string[] = []
    const first = gate()
    const a = mutex.run('net', async () => {
      events.push('a start')
      await first.promise
      events.push('a end')
      return 'a'
    })
    const b = mutex.run('net', async () => {
      events.push('b start')
      events.push('b end')
      return 'b'
    })
    const c = mutex.run('net', async () => {
      events.push('c start')
      return 'c'
    })
    await tick()
    assert.deepEqual(events, ['a start'])
    first.open()
    assert.deepEqual(await Promise.all([a, b, c]), ['a', 'b', 'c'])
    assert.deepEqual(events, ['a start', 'a end', 'b start', 'b end', 'c start'])
  })

  test('sections with different keys run in parallel', async () => {
    const mutex = new KeyedMutex()
    const held = gate()
    const events: string[] = []
    const a = mutex.run('one', async () => {
      events.push('one start')
      await held.promise
      events.push('one end')
    })
    const b = mutex.run('two', async () => {
      events.push('two ran')
    })
    await b
    assert.deepEqual(events, ['one start', 'two ran'])
    held.open()
    await a
    assert.deepEqual(events, ['one start', 'two ran', 'one end'])
  })

  test('a section that throws passes the error on and releases the key', async () => {
    const mutex = new KeyedMutex()
    const failing = mutex.run('net', async () => {
      throw new Error('boom')
    })
    const next = mutex.run('net', async () => 'next ran')
    await assert.rejects(failing, /boom/)
    assert.equal(await next, 'next ran')
    assert.equal(await mutex.run('net', async () => 'later ran'), 'later ran')
  })

  test('a section that throws synchronously also releases the key', async () => {
    const mutex = new KeyedMutex()
    await assert.rejects(
      mutex.run('net', () => {
        throw new Error('sync boom')
      }),
      /sync boom/
    )
    assert.equal(await mutex.run('net', async () => 1), 1)
    assert.equal(keysOf(mutex), 0)
  })

  test('idle keys are forgotten, so the map does not grow with every id seen', async () => {
    const mutex = new KeyedMutex()
    await Promise.all(
      Array.from({ length: 100 }, (_, i) => mutex.run(`key-${i % 10}`, async () => tick()))
    )
    assert.equal(keysOf(mutex), 0)
  })

  test('a key stays known while sections are queued behind it', async () => {
    const mutex = new KeyedMutex()
    const held = gate()
    const a = mutex.run('net', () => held.promise)
    const b = mutex.run('net', async () => {})
    await tick()
    assert.equal(keysOf(mutex), 1)
    held.open()
    await Promise.all([a, b])
    assert.equal(keysOf(mutex), 0)
  })
})

describe('KeyedSharedLock', () => {
  test('shared sections of one key run together; an exclusive one waits for them all', async () => {
    const lock = new KeyedSharedLock()
    const events: string[] = []
    const held = gate()
    const a = lock.shared('net', async () => {
      events.push('a start')
      await held.promise
      events.push('a end')
    })
    const b = lock.shared('net', async () => {
      events.push('b ran')
    })
    await b
    const x = lock.exclusive('net', async () => {
      events.push('x ran')
    })
    await tick()
    assert.deepEqual(events, ['a start', 'b ran'])
    held.open()
    await Promise.all([a, x])
    assert.deepEqual(events, ['a start', 'b ran', 'a end', 'x ran'])
  })

  test('a shared section arriving after a waiting exclusive one waits for it (no starvation)', async () => {
    const lock = new KeyedSharedLock()
    const events: string[] = []
    const held = gate()
    const a = lock.shared('net', async () => {
      await held.promise
      events.push('a end')
    })
    const x = lock.exclusive('net', async () => {
      events.push('x ran')
    })
    const b = lock.shared('net', async () => {
      events.push('b ran')
    })
    await tick()
    assert.deepEqual(events, [])
    held.open()
    await Promise.all([a, x, b])
    assert.deepEqual(events, ['a end', 'x ran', 'b ran'])
  })

  test('exclusive sections of one key run one at a time; other keys are independent', async () => {
    const lock = new KeyedSharedLock()
    const events: string[] = []
    const held = gate()
    const x = lock.exclusive('one', async () => {
      events.push('x start')
      await held.promise
      events.push('x end')
    })
    const y = lock.exclusive('one', async () => {
      events.push('y ran')
    })
    await lock.shared('two', async () => {
      events.push('other key ran')
    })
    assert.deepEqual(events, ['x start', 'other key ran'])
    held.open()
    await Promise.all([x, y])
    assert.deepEqual(events, ['x start', 'other key ran', 'x end', 'y ran'])
  })

  test('a failing section releases the lock, and idle keys are forgotten', async () => {
    const lock = new KeyedSharedLock()
    await assert.rejects(
      lock.exclusive('net', () => Promise.reject(new Error('boom'))),
      /boom/
    )
    await assert.rejects(
      lock.shared('net', () => Promise.reject(new Error('bang'))),
      /bang/
    )
    assert.equal(await lock.exclusive('net', () => Promise.resolve('after')), 'after')
    assert.equal((Reflect.get(lock, 'keys') as Map<string, unknown>).size, 0)
  })
})
