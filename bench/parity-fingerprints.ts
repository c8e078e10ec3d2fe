/**
 * Adds the scenario fingerprints to a parity record made before they were kept, without rerunning
 * the lab (which is what scripts/lab/parity.sh does, and what to do whenever in doubt):
 *
 *   node --import tsx bench/parity-fingerprints.ts results/parity-docker-<engine>.json
 *
 * The fingerprints are those of today's scenarios, so this is only honest if the scenarios are
 * the ones that ran. It refuses unless: the record is a full run with no fingerprint yet;
 * test/lab/scenarios.ts has no uncommitted change and no commit after the record's date; and the
 * record's scenario names and expected-failure declarations are today's. The record then says the
 * fingerprints were added later (`fingerprintsAdded`).
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { relative, resolve } from 'node:path'
import { expectedFailureOn, SCENARIOS } from '../test/lab/scenarios.ts'
import { fingerprint } from '../test/lab/parity-control.ts'
import type { ParityResults } from './lib/records.ts'
import { REPO, writeJsonAtomic } from './lib/records.ts'

const SCENARIOS_FILE = 'test/lab/scenarios.ts'
/** Helpers the scenarios call: not fingerprinted, so their later commits are shown for review. */
const HELPERS = ['test/lab/docker.ts', 'test/lab/plugin.ts']

const git = (...args: string[]): string =>
  execFileSync('git', ['-C', REPO, ...args], { encoding: 'utf8' }).trim()

function refuse(reason: string): never {
  console.error(`refused: ${reason}\nRerun scripts/lab/parity.sh instead.`)
  process.exit(1)
}

const given = process.argv[2]
if (!given) refuse('usage: node --import tsx bench/parity-fingerprints.ts RECORD.json')
const file = resolve(given)
const record = JSON.parse(readFileSync(file, 'utf8')) as ParityResults
if (record.kind !== 'parity') refuse(`${given} is not a parity results file`)
if (record.subset !== null) refuse(`${given} is a subset run`)
if (record.scenarios.some((s) => s.fingerprint !== undefined)) {
  refuse(`${given} already has fingerprints`)
}

if (git('status', '--porcelain', '--', SCENARIOS_FILE)) {
  refuse(`${SCENARIOS_FILE} has uncommitted changes`)
}
// `date` is when the run ended: the scenarios must not have changed since it started.
const runStarted = new Date(Date.parse(record.date) - record.durationS * 1000).toISOString()
const changedAt = git('log', '-1', '--format=%cI', '--', SCENARIOS_FILE)
if (!changedAt || !(Date.parse(changedAt) < Date.parse(runStarted))) {
  refuse(`${SCENARIOS_FILE} was last committed at ${changedAt}, not before the run (${runStarted})`)
}

const problems = SCENARIOS.flatMap((s) => {
  const recorded = record.scenarios.filter((r) => r.name === s.name)
  const [r] = recorded
  if (!r || recorded.length > 1) return [`"${s.name}" is recorded ${recorded.length} times`]
  const expected = expectedFailureOn(s, record.engineMajor)
  const same =
    r.expectedFailure === (expected !== undefined) &&
    r.expectedFailureBelow === expected?.engineBelow &&
    r.expectedFailureReason === expected?.reason
  return same ? [] : [`"${s.name}": its expected-failure declaration differs`]
})
if (record.scenarios.length !== SCENARIOS.length) {
  problems.push(`${record.scenarios.length} scenarios recorded, ${SCENARIOS.length} declared`)
}
if (problems.length) refuse(problems.join('; '))

const byName = new Map(SCENARIOS.map((s) => [s.name, fingerprint(s)]))
const updated: ParityResults = {
  ...record,
  scenarios: record.scenarios.map((s) => ({ ...s, fingerprint: byName.get(s.name) ?? '' })),
  fingerprintsAdded: {
    date: new Date().toISOString(),
    command: `node --import tsx bench/parity-fingerprints.ts ${relative(REPO, file)}`,
    scenariosCommit: git('log', '-1', '--format=%H', '--', SCENARIOS_FILE),
  },
}
writeJsonAtomic(file, updated)
console.log(
  `fingerprints added to ${relative(REPO, file)}: ${SCENARIOS_FILE} unchanged since ${changedAt}, ` +
    `before the run started (${runStarted})`
)
const helperCommits = git('log', '--oneline', `--since=${runStarted}`, '--', ...HELPERS)
if (helperCommits) {
  console.log(`commits to the helpers since the run (not fingerprinted; review):\n${helperCommits}`)
}
