/**
 * Renders the README tables from the raw results kept in results/ (one command, rerun at will):
 *
 *   node --import tsx bench/render.ts [--only bench|parity] [--results DIR]
 *     [--readme README.md] [--bench-readme bench/README.md] [--include-subsets]
 *
 * bench:  results/bench-latest.json -> bench/README.md between <!-- bench-run:begin/end --> (every
 *         row) and README.md between <!-- bench-table:begin/end --> (the figures not marked (info)).
 * parity: every results/parity-docker-<engine>.json of a full run (subsets are skipped unless
 *         --include-subsets; runs whose built-in column was recorded, not run, always are), oldest
 *         engine first -> README.md between <!-- parity-table:begin/end -->.
 * With no raw file, the section says that no run is recorded yet.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import type { BenchResults, ParityResults } from './lib/records.ts'
import { BENCH_LATEST, REPO, RESULTS_DIR } from './lib/records.ts'
import type { Link } from './lib/render.ts'
import {
  benchFull,
  benchNone,
  benchSummary,
  compareVersions,
  parityNone,
  parityRuns,
  replaceSection,
} from './lib/render.ts'
import { flag } from './lib/result.ts'

const results = resolve(flag('results', RESULTS_DIR))
const readme = resolve(flag('readme', join(REPO, 'README.md')))
const benchReadme = resolve(flag('bench-readme', join(REPO, 'bench', 'README.md')))
const only = flag('only', 'bench,parity').split(',')
const includeSubsets = process.argv.includes('--include-subsets')

const linkFrom =
  (page: string): Link =>
  (file) =>
    relative(dirname(page), join(results, file))

function rewrite(page: string, section: string, content: string): void {
  const before = readFileSync(page, 'utf8')
  const after = replaceSection(before, section, content)
  if (after !== before) writeFileSync(page, after)
  console.log(`${after === before ? 'unchanged' : 'rendered'}: ${page} (${section})`)
}

function renderBench(): void {
  const latest = join(results, BENCH_LATEST)
  if (!existsSync(latest)) {
    console.log(`no ${latest}: no benchmark run recorded`)
    rewrite(benchReadme, 'bench-run', benchNone())
    rewrite(readme, 'bench-table', benchNone())
    return
  }
  const raw = JSON.parse(readFileSync(latest, 'utf8')) as BenchResults
  if (raw.kind !== 'bench') throw new Error(`${latest}: not a benchmark results file`)
  rewrite(benchReadme, 'bench-run', benchFull(raw, linkFrom(benchReadme)))
  rewrite(readme, 'bench-table', benchSummary(raw, linkFrom(readme)))
}

function renderParity(): void {
  const files = existsSync(results)
    ? readdirSync(results).filter((name) => /^parity-docker-.*\.json$/.test(name))
    : []
  const runs: { file: string; raw: ParityResults }[] = []
  for (const file of files) {
    const raw = JSON.parse(readFileSync(join(results, file), 'utf8')) as ParityResults
    if (raw.kind !== 'parity') throw new Error(`${file}: not a parity results file`)
    if (raw.subset !== null && !includeSubsets) {
      console.log(`skipped ${file}: a subset (LAB_SCENARIOS=${raw.subset})`)
      continue
    }
    // A CI run's plugin column beside a copied built-in one: the table shows the record itself.
    if (raw.builtinRecorded) {
      console.log(`skipped ${file}: the built-in column is copied from ${raw.builtinRecorded.file}`)
      continue
    }
    runs.push({ file, raw })
  }
  runs.sort((a, b) => compareVersions(a.raw.engine, b.raw.engine))
  const content = runs.length
    ? parityRuns(
        runs.map(({ file, raw }) => ({ file, results: raw })),
        linkFrom(readme)
      )
    : parityNone()
  rewrite(readme, 'parity-table', content)
}

if (only.includes('bench')) renderBench()
if (only.includes('parity')) renderParity()
