import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { join, relative } from 'node:path'
import { after, test } from 'node:test'
import { fingerprint } from '../lab/parity-control.ts'
import { SCENARIOS } from '../lab/scenarios.ts'
import { REPO } from '../helpers/repo-root.ts'

// The lab runs the tests compiled by scripts/compile-tests.mjs; the parity suite checks the
// scenarios' fingerprints (over their compiled text) against the recorded built-in tables, so
// the compiled text must be what tsx gives. The output goes under the repository (it resolves
// node_modules and package.json from there).
mkdirSync(join(REPO, '.cache'), { recursive: true })
const out = mkdtempSync(join(REPO, '.cache', 'compile-test-'))
after(() => rmSync(out, { recursive: true, force: true }))

test('compiled scenarios have the fingerprints they have under tsx', async () => {
  const printed = execFileSync('node', ['scripts/compile-tests.mjs', relative(REPO, out)], {
    cwd: REPO,
    encoding: 'utf8',
  })
  assert.match(printed, /compile-tests: \d+ files/)
  const compiled = (await import(join(out, 'test', 'lab', 'scenarios.js'))) as {
    SCENARIOS: typeof SCENARIOS
  }
  const control = (await import(join(out, 'test', 'lab', 'parity-control.js'))) as {
    fingerprint: typeof fingerprint
  }
  assert.ok(SCENARIOS.length >= 20, `only ${SCENARIOS.length} scenarios under tsx`)
  assert.deepEqual(
    compiled.SCENARIOS.map((s) => [s.name, control.fingerprint(s)]),
    SCENARIOS.map((s) => [s.name, fingerprint(s)])
  )
})

test('compiled files import our modules as .js and the runtime dependencies from vendor/', () => {
  const docker = readFileSync(join(out, 'test', 'lab', 'docker.js'), 'utf8')
  assert.match(docker, /from"\.\.\/\.\.\/vendor\/execa\.js"/)
  assert.match(docker, /from"\.\.\/helpers\/repo-root\.js"/)
  assert.doesNotMatch(docker, /from"[^"]*\.ts"/)
})

test('compiled modules find the repository, not .cache/js', async () => {
  for (const module of [
    'bench/lib/records.js',
    'test/lab/plugin.js',
    'test/helpers/plugin-process.js',
  ]) {
    const loaded = (await import(join(out, module))) as { REPO: string }
    assert.equal(loaded.REPO, REPO, module)
  }
})
