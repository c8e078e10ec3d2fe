import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { basename, join, relative, resolve } from 'node:path'
import { after, before, test } from 'node:test'
import type { ParityOutcome, ParityResults } from '../../bench/lib/records.ts'
import { REPO, RESULTS_DIR, writeJsonAtomic } from '../../bench/lib/records.ts'
import { docker } from './docker.ts'
import {
  controlMode,
  fingerprint,
  readRecordedControl,
  staleControlMessage,
} from './parity-control.ts'
import { ensureInstalled, REGISTRY_PLUGIN } from './plugin.ts'
import { expectedFailureOn, remoteDriverLimitOn, SCENARIOS, ScenarioContext } from './scenarios.ts'
import type { Scenario } from './scenarios.ts'

/**
 * Lab tier: runs every scenario against the plugin installed from a registry the way users
 * install it, and compares with Docker's built-in ipvlan driver (the control), then prints both
 * columns.
 *
 * The control is PARITY_CONTROL:
 * - `recorded` (default; `make test` and CI): the built-in driver does not run. Its outcomes come
 *   from results/parity-docker-<engine>.json, which must be a full run on this engine with the
 *   same scenarios and the same code per scenario (fingerprints, test/lab/parity-control.ts); a
 *   missing or stale record fails every test and says to rerun scripts/lab/parity.sh. This saves
 *   the built-in's half of the suite in every CI run; the plugin's half always runs.
 * - `run` (scripts/lab/parity.sh): every scenario runs on the built-in driver first, as the record.
 *
 * The plugin must pass every scenario, whatever the built-in did, except the expected failures
 * declared in test/lab/scenarios.ts for this engine's major version. An expected failure that
 * passes is reported (a diagnostic), not failed. The raw results go to PARITY_RESULTS (default
 * results/parity-docker-<engine>.json in `run` mode, from which `node --import tsx
 * bench/render.ts` renders README's parity table; ...-plugin-run.json, gitignored, in `recorded`
 * mode, which never rewrites the record; ...-subset.json when LAB_SCENARIOS picks a subset).
 *
 * LAB_SCENARIOS=<regex> runs a subset (debugging). LAB_SCENARIO_SET=engine-specific runs the
 * scenarios whose outcome depends on the engine (origin 'newer', or an expected failure or
 * remote-driver limit declared per engine): `make test` runs every scenario on Docker 20.10 and
 * this set on Docker 28, whose full table scripts/lab/parity.sh records (PARITY_ENGINE=28).
 */
const pattern = process.env['LAB_SCENARIOS'] || undefined
const set = process.env['LAB_SCENARIO_SET'] || undefined
if (set !== undefined && set !== 'engine-specific') {
  throw new Error(`LAB_SCENARIO_SET=${set}: expected engine-specific (or unset: every scenario)`)
}
/** What changes with the engine: newer Docker's behaviour, and what is declared per engine. */
const engineSpecific = (s: Scenario): boolean =>
  s.origin === 'newer' || s.expectedFailure !== undefined || s.remoteDriverLimit !== undefined
/** The subset's description when not every scenario runs. */
const only =
  pattern !== undefined || set !== undefined
    ? [pattern, set && `set ${set}`].filter(Boolean).join(', ')
    : undefined
const SELECTED = SCENARIOS.filter(
  (s) =>
    (pattern === undefined || new RegExp(pattern).test(s.name)) &&
    (set === undefined || engineSpecific(s))
)

const builtin = new Map<string, ParityOutcome>()
const plugin = new Map<string, ParityOutcome>()
const started = Date.now()
let engine = ''
let engineMajor = NaN
/** In `recorded` mode: the record the built-in column comes from. */
let record: { file: string; date: string } | undefined

const recordPath = (): string => join(RESULTS_DIR, `parity-docker-${engine}.json`)

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

/** The built-in column from the committed record, or a failure saying why it cannot be used. */
function loadRecordedControl(): void {
  const file = recordPath()
  const shown = relative(REPO, file)
  const current = SCENARIOS.map((s) => ({ name: s.name, fingerprint: fingerprint(s) }))
  const loaded = readRecordedControl(file, engine, current)
  if (!loaded.ok) assert.fail(staleControlMessage(shown, loaded.problems))
  record = { file: basename(file), date: loaded.date }
  for (const scenario of SELECTED) {
    const outcome = loaded.builtin.get(scenario.name)
    if (outcome) builtin.set(scenario.name, outcome)
  }
  const passed = [...builtin.values()].filter((o) => o.ok).length
  console.log(
    `# built-in control recorded in ${shown} on ${loaded.date}: passed ${passed} of ${builtin.size}`
  )
}

before(
  async () => {
    const control = controlMode(process.env['PARITY_CONTROL'])
    console.log(
      control === 'run'
        ? '# control: PARITY_CONTROL=run: every scenario runs on the built-in driver, then on the plugin'
        : '# control: PARITY_CONTROL=recorded: the built-in driver does not run; its outcomes come from the record'
    )
    const version = await docker('version', '--format', '{{.Server.Version}}')
    assert.equal(version.code, 0, `docker version: ${version.output}`)
    engine = version.stdout
    engineMajor = Number(engine.split('.')[0])
    assert.ok(Number.isInteger(engineMajor), `cannot read the engine's major version: ${engine}`)
    console.log(`# engine ${engine}`)
    // A missing or stale record fails here, before the plugin is installed.
    if (control === 'recorded') loadRecordedControl()
    await ensureInstalled()
    if (control === 'recorded') return
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
    const builtinOutcome = builtin.get(scenario.name)
    if (builtinOutcome && !builtinOutcome.ok) {
      const when = record ? ` (recorded ${record.date})` : ''
      t.diagnostic(`the built-in driver fails it${when}: ${builtinOutcome.error ?? ''}`)
    }
    const expected = expectedFailureOn(scenario, engineMajor)
    if (expected) {
      t.diagnostic(
        outcome.ok
          ? `expected to fail on Docker ${engine} (< ${expected.engineBelow}) but PASSED: update the expected failures in test/lab/scenarios.ts`
          : `expected failure on Docker ${engine} (< ${expected.engineBelow}): ${expected.reason}; error: ${outcome.error ?? ''}`
      )
      return
    }
    const limit = remoteDriverLimitOn(scenario, engineMajor)
    if (limit) {
      t.diagnostic(
        outcome.ok
          ? `declared a remote-driver limit on Docker ${engine} (>= ${limit.engineFrom}) but PASSED: update test/lab/scenarios.ts and the README`
          : `remote-driver limit on Docker ${engine}: ${limit.reason}; error: ${outcome.error ?? ''}`
      )
      return
    }
    assert.ok(outcome.ok, outcome.error)
  })
}

// Last (tests run in order): a run that silently skipped scenarios must not look green.
test('every scenario ran on both drivers', () => {
  assert.ok(SELECTED.length > 0, `the subset (${only ?? ''}) matches no scenario`)
  if (!only) assert.equal(SELECTED.length, SCENARIOS.length)
  // In `recorded` mode the built-in's outcome is the record's: it must have one for each.
  const missing = SELECTED.filter((s) => !builtin.has(s.name) || !plugin.has(s.name))
  assert.deepEqual(
    missing.map((s) => s.name),
    [],
    `scenarios without an outcome on both drivers${record ? ` (built-in: recorded in ${record.file})` : ''}`
  )
  assert.equal(plugin.size, SELECTED.length)
  assert.equal(builtin.size, SELECTED.length)
})

function resultsPath(): string {
  const given = process.env['PARITY_RESULTS']
  if (given) return given
  const kind = `${record ? '-plugin-run' : ''}${only ? '-subset' : ''}`
  return join(RESULTS_DIR, `parity-docker-${engine}${kind}.json`)
}

after(() => {
  const mark = (o: ParityOutcome | undefined): string =>
    o === undefined ? 'not run' : o.ok ? 'pass' : 'FAIL'
  console.log(
    [
      '',
      `| scenario | origin | built-in ipvlan${record ? ` (recorded ${record.date})` : ''} | ipvlan-lan plugin |`,
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
      const limit = remoteDriverLimitOn(s, engineMajor)
      return {
        name: s.name,
        origin: s.origin,
        builtin: builtin.get(s.name) ?? { ok: false, ms: 0, error: 'not run' },
        plugin: plugin.get(s.name) ?? { ok: false, ms: 0, error: 'not run' },
        expectedFailure: expected !== undefined,
        ...(expected
          ? { expectedFailureBelow: expected.engineBelow, expectedFailureReason: expected.reason }
          : {}),
        ...(limit
          ? { remoteDriverLimitFrom: limit.engineFrom, remoteDriverLimitReason: limit.reason }
          : {}),
        fingerprint: fingerprint(s),
      }
    }),
    ...(record ? { builtinRecorded: record } : {}),
  }
  const file = resultsPath()
  if (record && resolve(file) === recordPath()) {
    console.log(`# parity results NOT written: ${file} is the record the built-in column came from`)
    return
  }
  writeJsonAtomic(file, results)
  console.log(`# parity results written to ${file}`)
})
