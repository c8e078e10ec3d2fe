/**
 * Adds scenarios to a full parity record from a subset run of the same engine, without rerunning
 * every scenario (which scripts/lab/parity.sh does, and what to do whenever in doubt):
 *
 *   node --import tsx bench/parity-merge.ts results/parity-docker-<engine>.json \
 *     results/parity-docker-<engine>-subset.json
 *
 * A subset run (LAB_SCENARIOS=<regex> PARITY_CONTROL=run) runs the built-in driver and the plugin
 * for real, so its outcomes are as good as a full run's for those scenarios. The merge refuses
 * unless: both files are parity runs of the same engine, the record is a full run and the subset
 * a subset; every scenario of the result is declared today and has today's fingerprint (the record's
 * from the record, the added ones from the subset run); and together they hold every declared
 * scenario exactly once. The subset's scenarios replace the record's of the same name. The record
 * then lists what was merged, when and by which command (`merged`).
 */
import { readFileSync } from 'node:fs'
import { relative, resolve } from 'node:path'
import { SCENARIOS } from '../test/lab/scenarios.ts'
import { fingerprint } from '../test/lab/parity-control.ts'
import type { ParityResults } from './lib/records.ts'
import { REPO, writeJsonAtomic } from './lib/records.ts'

function refuse(reason: string): never {
  console.error(`refused: ${reason}\nRerun scripts/lab/parity.sh instead.`)
  process.exit(1)
}

const [recordArg, subsetArg] = process.argv.slice(2)
if (!recordArg || !subsetArg) {
  refuse('usage: node --import tsx bench/parity-merge.ts RECORD.json SUBSET.json')
}
const read = (file: string): ParityResults => {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as ParityResults
  if (raw.kind !== 'parity') refuse(`${file} is not a parity results file`)
  return raw
}
const recordFile = resolve(recordArg)
const subsetFile = resolve(subsetArg)
const record = read(recordFile)
const subset = read(subsetFile)
if (record.subset !== null) refuse(`${recordArg} is a subset run, not a full record`)
if (subset.subset === null) refuse(`${subsetArg} is a full run: use it as the record instead`)
if (record.engine !== subset.engine) {
  refuse(`engines differ: ${record.engine} (record), ${subset.engine} (subset)`)
}
if (subset.builtinRecorded)
  refuse(`${subsetArg} did not run the built-in driver (PARITY_CONTROL=run)`)

const added = new Map(subset.scenarios.map((s) => [s.name, s]))
const kept = record.scenarios.filter((s) => !added.has(s.name))
const merged = [...kept, ...subset.scenarios]
const current = new Map(SCENARIOS.map((s) => [s.name, fingerprint(s)]))
const problems: string[] = []
for (const s of merged) {
  const expected = current.get(s.name)
  if (expected === undefined) problems.push(`"${s.name}" is no longer declared`)
  else if (s.fingerprint !== expected) problems.push(`"${s.name}": code changed since it ran`)
}
const names = merged.map((s) => s.name)
for (const name of current.keys()) {
  if (!names.includes(name)) problems.push(`"${name}" is in neither file`)
}
if (new Set(names).size !== names.length) problems.push('a scenario is recorded twice')
if (problems.length) refuse(problems.join('; '))

// Declared order, so the rendered table reads like test/lab/scenarios.ts.
const order = [...current.keys()]
merged.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name))
const updated: ParityResults = {
  ...record,
  declared: SCENARIOS.length,
  scenarios: merged,
  merged: [
    ...(record.merged ?? []),
    {
      date: new Date().toISOString(),
      command: `node --import tsx bench/parity-merge.ts ${relative(REPO, recordFile)} ${relative(REPO, subsetFile)}`,
      subsetDate: subset.date,
      subsetCommand: subset.command,
      subset: subset.subset,
      scenarios: subset.scenarios.map((s) => s.name),
    },
  ],
}
writeJsonAtomic(recordFile, updated)
console.log(
  `merged ${subset.scenarios.length} scenarios of ${relative(REPO, subsetFile)} into ${relative(REPO, recordFile)} (${merged.length} in all)`
)
