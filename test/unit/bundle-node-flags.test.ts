import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { bundleNodeFlags } from '../helpers/bundle-node-flags.ts'

describe("the bundle's node options (plugin/config.json), which tests and benchmarks reuse", () => {
  const dir = mkdtempSync(join(tmpdir(), 'ipvlan-lan-flags-'))
  after(() => rmSync(dir, { recursive: true, force: true }))
  const config = (entrypoint: unknown): string => {
    const file = join(dir, `${Math.random()}.json`)
    writeFileSync(file, JSON.stringify({ entrypoint }))
    return file
  }

  test('the real config: node runs with no options (--no-sparkplug was tried and reverted)', () => {
    assert.deepEqual(bundleNodeFlags(), [])
  })

  test('an entrypoint without options gives none', () => {
    const file = config(['/usr/bin/node', '/opt/ipvlan-lan/dist/main.js', '--socket', '/s'])
    assert.deepEqual(bundleNodeFlags(file), [])
  })

  test('an entrypoint of another shape is an error naming the file', () => {
    for (const entrypoint of [
      undefined,
      ['/usr/bin/node', '--no-opt'],
      ['/bin/sh', '/opt/ipvlan-lan/dist/main.js'],
      ['/usr/bin/node', 7, '/opt/ipvlan-lan/dist/main.js'],
    ]) {
      const file = config(entrypoint)
      assert.throws(() => bundleNodeFlags(file), { message: new RegExp(`^${file}: entrypoint`) })
    }
  })
})
