/**
 * Merges the parts the bench programs wrote into the raw results file, writes it atomically (the
 * dated file, and with --latest the same as bench-latest.json when no part is missing) and prints
 * the markdown table on stdout. The README tables are rendered from bench-latest.json by
 * bench/render.ts.
 *
 *   node --import tsx bench/report.ts --out results/bench-DATE.json [--latest results/bench-latest.json]
 *     --command 'npm run bench' --duration-s N [--env TEXT] [--quick 1] PART.json...
 */
import { existsSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import type { BenchResults } from './lib/records.ts'
import { writeJsonAtomic } from './lib/records.ts'
import { benchFull } from './lib/render.ts'
import type { Part, Row } from './lib/result.ts'
import { flag, readPart } from './lib/result.ts'

const out = flag('out')
// Only a complete run becomes the latest (the one the README tables are rendered from).
const latest = flag('latest', '')
const command = flag('command', 'npm run bench')
const durationS = Number(flag('duration-s', 'NaN'))
const environment = flag('env', '')
const quick = flag('quick', '0') === '1'
const files = process.argv.slice(2).filter((arg, i, all) => {
  const previous = all[i - 1]
  return !arg.startsWith('--') && !(previous?.startsWith('--') ?? false)
})

const parts: Part[] = []
const missing: string[] = []
for (const file of files) {
  if (existsSync(file)) parts.push(readPart(file))
  else missing.push(file)
}
const rows: Row[] = parts
  .flatMap((part) => part.rows)
  .sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }))

const results: BenchResults = {
  kind: 'bench',
  command,
  date: new Date().toISOString(),
  file: basename(out),
  durationS,
  environment,
  quick,
  rows,
  missing,
  parts,
}
writeJsonAtomic(out, results)
if (latest && missing.length === 0) writeJsonAtomic(latest, results)
process.stdout.write(benchFull(results, (file) => join(dirname(out), file)) + '\n')
process.exit(missing.length > 0 ? 1 : 0)
