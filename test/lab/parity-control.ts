import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { ParityOutcome } from '../../bench/lib/records.ts'
import type { Scenario } from './scenarios.ts'

/**
 * The parity suite's control column (Docker's built-in driver) is recorded by a full run
 * (scripts/lab/parity.sh, PARITY_CONTROL=run) and reused by every other run (PARITY_CONTROL=
 * recorded), which then only runs the plugin. Reuse is safe only while the record describes the
 * same engine and the same scenarios, so each scenario's code is fingerprinted and compared.
 *
 * No side effects on import: the unit tier tests this module without a lab.
 */
export type ControlMode = 'run' | 'recorded'

/** PARITY_CONTROL: unset or empty means `recorded` (what `make test` and CI use). */
export function controlMode(value: string | undefined): ControlMode {
  if (value === undefined || value === '' || value === 'recorded') return 'recorded'
  if (value === 'run') return 'run'
  throw new Error(`PARITY_CONTROL=${value}: expected run or recorded`)
}

/**
 * The first 16 hex digits of a sha256 over the scenario's name, its expected-failure declaration
 * and its `run` as compiled (tsx strips comments and whitespace, so a reformat keeps the
 * fingerprint). Helpers that `run` calls are not covered: changing one means rerunning
 * scripts/lab/parity.sh by hand.
 */
export function fingerprint(
  scenario: Pick<Scenario, 'name' | 'expectedFailure' | 'remoteDriverLimit' | 'run'>
): string {
  const expected = scenario.expectedFailure
  const declaration = expected ? [expected.engineBelow, expected.reason] : null
  const limit = scenario.remoteDriverLimit
  // Appended only when declared, so the fingerprints of scenarios without one stay as recorded.
  const limitDeclaration = limit ? [[limit.engineFrom, limit.reason]] : []
  return createHash('sha256')
    .update(
      JSON.stringify([scenario.name, declaration, scenario.run.toString(), ...limitDeclaration])
    )
    .digest('hex')
    .slice(0, 16)
}

export interface ScenarioIdentity {
  name: string
  fingerprint: string
}

export type RecordedControl =
  | { ok: true; date: string; builtin: Map<string, ParityOutcome> }
  | { ok: false; problems: string[] }

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

const isOutcome = (value: unknown): value is ParityOutcome =>
  isObject(value) &&
  typeof value['ok'] === 'boolean' &&
  typeof value['ms'] === 'number' &&
  (value['error'] === undefined || typeof value['error'] === 'string')

const list = (names: string[]): string => names.map((name) => `"${name}"`).join(', ')

/**
 * The built-in outcomes of `record` (a parsed results/parity-docker-<engine>.json), if it is a
 * usable control for `current` (every declared scenario, with its fingerprint) on `engine`; else
 * every reason it is not.
 */
export function checkRecordedControl(
  record: unknown,
  engine: string,
  current: ScenarioIdentity[]
): RecordedControl {
  if (!isObject(record) || record['kind'] !== 'parity' || !Array.isArray(record['scenarios'])) {
    return { ok: false, problems: ['not a parity results file'] }
  }
  const problems: string[] = []
  if (record['engine'] !== engine) {
    problems.push(`recorded on engine ${String(record['engine'])}, this engine is ${engine}`)
  }
  if (record['subset'] !== null) {
    problems.push(`a subset run (LAB_SCENARIOS=${String(record['subset'])}), not every scenario`)
  }
  const date = record['date']
  if (typeof date !== 'string' || Number.isNaN(Date.parse(date))) problems.push('no valid date')

  const recorded = new Map<string, { outcome: unknown; fingerprint: unknown }>()
  const duplicates = new Set<string>()
  for (const entry of record['scenarios'] as unknown[]) {
    if (!isObject(entry) || typeof entry['name'] !== 'string') {
      problems.push('a recorded scenario has no name')
      continue
    }
    if (recorded.has(entry['name'])) duplicates.add(entry['name'])
    recorded.set(entry['name'], { outcome: entry['builtin'], fingerprint: entry['fingerprint'] })
  }
  if (duplicates.size) problems.push(`recorded more than once: ${list([...duplicates])}`)
  const currentNames = new Set(current.map((s) => s.name))
  if (currentNames.size !== current.length) problems.push('the current scenario names repeat')

  const added = current.filter((s) => !recorded.has(s.name)).map((s) => s.name)
  const removed = [...recorded.keys()].filter((name) => !currentNames.has(name))
  if (added.length) problems.push(`not in the record: ${list(added)}`)
  if (removed.length) problems.push(`recorded but no longer declared: ${list(removed)}`)

  const unprinted: string[] = []
  const changed: string[] = []
  const noOutcome: string[] = []
  const builtin = new Map<string, ParityOutcome>()
  for (const scenario of current) {
    const entry = recorded.get(scenario.name)
    if (!entry) continue
    if (typeof entry.fingerprint !== 'string') unprinted.push(scenario.name)
    else if (entry.fingerprint !== scenario.fingerprint) changed.push(scenario.name)
    if (isOutcome(entry.outcome)) builtin.set(scenario.name, entry.outcome)
    else noOutcome.push(scenario.name)
  }
  if (unprinted.length && unprinted.length === current.length) {
    problems.push('no scenario fingerprints (recorded before they were kept)')
  } else if (unprinted.length) {
    problems.push(`no fingerprint: ${list(unprinted)}`)
  }
  if (changed.length) problems.push(`code changed since the record: ${list(changed)}`)
  if (noOutcome.length) problems.push(`no built-in outcome: ${list(noOutcome)}`)

  return problems.length || typeof date !== 'string'
    ? { ok: false, problems }
    : { ok: true, date, builtin }
}

/** checkRecordedControl on the file at `path`; a missing or unreadable file is a problem too. */
export function readRecordedControl(
  path: string,
  engine: string,
  current: ScenarioIdentity[]
): RecordedControl {
  let record: unknown
  try {
    record = JSON.parse(readFileSync(path, 'utf8'))
  } catch (error) {
    return { ok: false, problems: [`cannot read it: ${(error as Error).message}`] }
  }
  return checkRecordedControl(record, engine, current)
}

/** The failure a stale or missing record gives: what is wrong and the one way to fix it. */
export function staleControlMessage(path: string, problems: string[]): string {
  return [
    `the recorded built-in control ${path} cannot be used for these scenarios:`,
    ...problems.map((problem) => `  - ${problem}`),
    'Rerun scripts/lab/parity.sh (it runs the built-in driver and rewrites that file), then commit',
    'results/ with README.md. PARITY_CONTROL=run runs the built-in driver in this run instead.',
  ].join('\n')
}
