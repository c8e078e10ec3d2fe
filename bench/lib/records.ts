/**
 * The raw results kept in the repository (results/), from which bench/render.ts renders the
 * README tables: the benchmark run (`npm run bench`) and the parity run (test/lab/parity.test.ts).
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { REPO } from '../../test/helpers/repo-root.ts'
import type { Part, Row } from './result.ts'

export { REPO }
export const RESULTS_DIR = join(REPO, 'results')
export const BENCH_LATEST = 'bench-latest.json'

/** results/bench-<stamp>.json and results/bench-latest.json, written by bench/report.ts. */
export interface BenchResults {
  kind: 'bench'
  command: string
  /** When the report was written (ISO). */
  date: string
  /** The name of the dated file (bench-<stamp>.json). */
  file: string
  durationS: number
  /** CPUs, load and other lab VMs at the start and at the end. */
  environment: string
  /** BENCH_QUICK=1: a few pairs, the plumbing only; the numbers mean nothing. */
  quick: boolean
  rows: Row[]
  /** Part files that were not written (that part failed or did not run). */
  missing: string[]
  parts: Part[]
}

export interface ParityOutcome {
  ok: boolean
  ms: number
  /** First line of the error, when the scenario failed. */
  error?: string
}

export interface ParityScenarioResult {
  name: string
  origin: string
  builtin: ParityOutcome
  plugin: ParityOutcome
  /** Declared in test/lab/scenarios.ts as failing on this engine (for both drivers). */
  expectedFailure: boolean
  /** With an expected failure: it is expected on engines below this major version, and why. */
  expectedFailureBelow?: number
  expectedFailureReason?: string
  /**
   * Declared in test/lab/scenarios.ts as out of reach of any remote driver on this engine (Docker
   * decides it, not the driver): from this major version on, and why.
   */
  remoteDriverLimitFrom?: number
  remoteDriverLimitReason?: string
  /**
   * The scenario's code when it ran (test/lab/parity-control.ts): a recorded built-in column is
   * only reused while every scenario still has the same fingerprint. Absent in older records.
   */
  fingerprint?: string
}

/** results/parity-docker-<engine>.json, written by test/lab/parity.test.ts. */
export interface ParityResults {
  kind: 'parity'
  command: string
  /** When the run ended (ISO). */
  date: string
  engine: string
  engineMajor: number
  kernel: string
  node: string
  durationS: number
  /** LAB_SCENARIOS when a subset ran, else null (a full run). */
  subset: string | null
  /** How many scenarios test/lab/scenarios.ts declares. */
  declared: number
  scenarios: ParityScenarioResult[]
  /**
   * Set when the built-in driver did not run (PARITY_CONTROL=recorded): its column is copied from
   * this record (a file in results/) of that date. Absent when both columns ran.
   */
  builtinRecorded?: { file: string; date: string }
  /**
   * Set when the scenario fingerprints were added after the run by bench/parity-fingerprints.ts,
   * which checked that test/lab/scenarios.ts (at `scenariosCommit`) had not changed since.
   */
  fingerprintsAdded?: { date: string; command: string; scenariosCommit: string }
  /** Scenarios taken from subset runs of the same engine by bench/parity-merge.ts, in order. */
  merged?: {
    date: string
    command: string
    subsetDate: string
    subsetCommand: string
    subset: string | null
    scenarios: string[]
  }[]
}

/** Writes JSON to a temporary file in the same directory, then renames it over `file`. */
export function writeJsonAtomic(file: string, value: unknown): void {
  mkdirSync(dirname(file), { recursive: true })
  const temporary = `${file}.tmp-${process.pid}`
  writeFileSync(temporary, JSON.stringify(value, null, 2) + '\n')
  renameSync(temporary, file)
}
