import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import type { ParityOutcome, ParityResults } from '../../bench/lib/records.ts'
import { RESULTS_DIR, writeJsonAtomic } from '../../bench/lib/records.ts'
import { docker } from './docker.ts'
import { ensureInstalled, REGISTRY_PLUGIN } from './plugin.ts'
import { expectedFailureOn, SCENARIOS, ScenarioContext } from './scenarios.ts'
import type { Scenario } from './scenarios.ts'

/**
 * Lab tier: runs every scenario against the built-in ipvlan driver (the control) and against the
 * plugin installed from a registry the way users install it, then prints both columns.
 *
 * The plugin must pass every scenario, whatever the built-in did, except the expected failures
 * declared in test/lab/scenarios.ts for this engine's major version. An expected failure that
 * passes is reported (a diagnostic), not failed. The raw results go to PARITY_RESULTS (default
 * results/parity-docker-<engine>.json, or ...-subset.json when LAB_SCENARIOS picks a subset),
 * from which `node --import tsx bench/render.ts` renders README's parity table.
 *
 * LAB_SCENARIOS=<regex> runs a subset (debugging only: `make test` always runs them all).
 */
const only = process.env['LAB_SCENARIOS'] || undefined
const SELECTED = only ? SCENARIOS.filter((s) => new RegExp(only).test(s.name)) : SCENARIOS

const builtin = new Map<string, ParityOutcome>()
const plugin = new Map<string, ParityOutcome>()
const started = Date.now()
let engine = ''
let engineMajor = NaN

async function attempt(scenario: Scenario, ctx: ScenarioContext): Promise<ParityOutcome> {
  const t0 = Date.now()
  try {
    await scenario.run(ctx)
    return { ok: true, ms: Date.now() - t0 }
  } catch (error) {
    // The outcome keeps the first line; the whole message (e.g. dockerd's log) goes to the output.
    const lines = (error as Error).message.split('\n')
    if (lines.length > 1) console.log(lines.map((line) => `# ${scenario.name}: ${line}`).join('\n'))
    return {
      ok: false,
      ms: Date.now() - t0,
      error: lines[0] ?? '',
    }
  } finally {
    await ctx.cleanup()
  }
}

before(
  async () => {
    const version = await docker('version', '--format', '{{.Server.Version}}')
    assert.equal(version.code, 0, `docker version: ${version.output}`)
    engine = version.stdout
    engineMajor = Number(engine.split('.')[0])
    assert.ok(Number.isInteger(engineMajor), `cannot read the engine's major version: ${engine}`)
    console.log(`# engine ${engine}`)
    await ensureInstalled()
    for (const scenario of SELECTED) {
      const outcome = await attempt(scenario, new ScenarioContext('ipvlan', 'b'))
      builtin.set(scenario.name, outcome)
      console.log(
        `# built-in ${outcome.ok ? 'PASS' : 'FAIL'}: ${scenario.name}${outcome.error ? ` (${outcome.error})` : ''}`
      )
    }
  },
  { timeout: 60 * 60_000 }
)

for (const scenario of SELECTED) {
  test(`plugin: ${scenario.name}`, { timeout: 10 * 60_000 }, async (t) => {
    // Each scenario starts from an installed, enabled plugin: one that failed (e.g. Docker
    // disabled the plugin) must not fail every scenario after it.
    await ensureInstalled()
    const outcome = await attempt(scenario, new ScenarioContext(REGISTRY_PLUGIN, 'p'))
    plugin.set(scenario.name, outcome)
    const control = builtin.get(scenario.name)
    if (control && !control.ok) t.diagnostic(`the built-in driver fails it: ${control.error ?? ''}`)
    const expected = expectedFailureOn(scenario, engineMajor)
    if (expected) {
      t.diagnostic(
        outcome.ok
          ? `expected to fail on Docker ${engine} (< ${expected.engineBelow}) but PASSED: update the expected failures in test/lab/scenarios.ts`
          : `expected failure on Docker ${engine} (< ${expected.engineBelow}): ${expected.reason}; error: ${outcome.error ?? ''}`
      )
      return
    }
    assert.ok(outcome.ok, outcome.error)
  })
}

// Last (tests run in order): a run that silently skipped scenarios must not look green.
test('every scenario ran on both drivers', () => {
  assert.ok(SELECTED.length > 0, `LAB_SCENARIOS=${only ?? ''} matches no scenario`)
  if (!only) assert.equal(SELECTED.length, SCENARIOS.length)
  const missing = SELECTED.filter((s) => !builtin.has(s.name) || !plugin.has(s.name))
  assert.deepEqual(
    missing.map((s) => s.name),
    [],
    'scenarios without an outcome on both drivers'
  )
  assert.equal(plugin.size, SELECTED.length)
  assert.equal(builtin.size, SELECTED.length)
})

function resultsPath(): string {
  const given = process.env['PARITY_RESULTS']
  if (given) return given
  return join(RESULTS_DIR, `parity-docker-${engine}${only ? '-subset' : ''}.json`)
}

after(() => {
  const mark = (o: ParityOutcome | undefined): string =>
    o === undefined ? 'not run' : o.ok ? 'pass' : 'FAIL'
  console.log(
    [
      '',
      '| scenario | origin | built-in ipvlan | ipvlan-lan plugin |',
      '| --- | --- | --- | --- |',
      ...SELECTED.map(
        (s) =>
          `| ${s.name} | ${s.origin} | ${mark(builtin.get(s.name))} | ${mark(plugin.get(s.name))} |`
      ),
      '',
    ].join('\n')
  )
  const complete = SELECTED.every((s) => builtin.has(s.name) && plugin.has(s.name))
  if (!engine || !complete) {
    console.log('# parity results NOT written: the run is incomplete')
    return
  }
  const results: ParityResults = {
    kind: 'parity',
    command:
      process.env['PARITY_COMMAND'] ??
      'node --import tsx --test --test-concurrency=1 test/lab/parity.test.ts',
    date: new Date().toISOString(),
    engine,
    engineMajor,
    kernel: execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim(),
    node: process.version,
    durationS: Math.round((Date.now() - started) / 1000),
    subset: only ?? null,
    declared: SCENARIOS.length,
    scenarios: SELECTED.map((s) => {
      const expected = expectedFailureOn(s, engineMajor)
      return {
        name: s.name,
        origin: s.origin,
        builtin: builtin.get(s.name) ?? { ok: false, ms: 0, error: 'not run' },
        plugin: plugin.get(s.name) ?? { ok: false, ms: 0, error: 'not run' },
        expectedFailure: expected !== undefined,
        ...(expected
          ? { expectedFailureBelow: expected.engineBelow, expectedFailureReason: expected.reason }
          : {}),
      }
    }),
  }
  const file = resultsPath()
  writeJsonAtomic(file, results)
  console.log(`# parity results written to ${file}`)
})
