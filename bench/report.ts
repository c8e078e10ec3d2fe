/**
 * Merges the parts the bench programs wrote into bench/results/<date>.json and prints the markdown
 * table on stdout.
 *
 *   node --import tsx bench/report.ts --out bench/results/DATE.json --command 'npm run bench'
 *     --duration-s N PART.json...
 */
import { existsSync, writeFileSync } from 'node:fs'
import type { Part, Row } from './lib/result.ts'
import { flag, readPart, x } from './lib/result.ts'

const out = flag('out')
const command = flag('command', 'npm run bench')
const durationS = Number(flag('duration-s', 'NaN'))
const environment = flag('env', '')
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

const cell = (text: string | undefined): string => (text ?? '').replace(/\|/g, '\\|')
const met = (row: Row): string => (row.met === undefined ? '' : row.met ? 'yes' : '**NO**')

const lines = [
  `Benchmarks, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC: \`${command}\`` +
    (Number.isFinite(durationS)
      ? ` (${Math.floor(durationS / 60)} min ${Math.round(durationS % 60)} s)`
      : ''),
  ...(environment ? ['', `Machine: ${environment}.`] : []),
  '',
  '| # | figure | ours (median) | baseline (median, same run) | ratio median | p10–p90 | min–max | n | target | met |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...rows.map((row) => {
    const r = row.ratio
    return `| ${row.id} | ${cell(row.title)} | ${cell(row.subject)} | ${cell(row.baseline)} | ${
      r ? x(r.median) : cell(row.value)
    } | ${r ? `${x(r.p10)}–${x(r.p90)}` : ''} | ${r ? `${x(r.min)}–${x(r.max)}` : ''} | ${
      r ? r.n : ''
    } | ${cell(row.target)} | ${met(row)} |`
  }),
  '',
  ...rows
    .filter((row) => row.note)
    .map(
      (row) => `- ${row.id}: ${row.note ?? ''}${row.ratio && row.value ? ` (${row.value})` : ''}`
    ),
  ...missing.map((file) => `- MISSING part: ${file} (that part failed or did not run)`),
  ...parts.flatMap((part) => {
    const failures = part.raw['failures']
    return Array.isArray(failures)
      ? failures.map((f) => `- FAILED in ${part.part}: ${String(f)}`)
      : []
  }),
]
const targets = rows.filter((row) => row.met !== undefined)
const failed = targets.filter((row) => row.met === false)
lines.push(
  '',
  `Targets met: ${targets.length - failed.length}/${targets.length}` +
    (failed.length ? ` (missed: ${failed.map((row) => row.id).join(', ')})` : '')
)
const markdown = lines.join('\n')

writeFileSync(
  out,
  JSON.stringify(
    {
      command,
      date: new Date().toISOString(),
      durationS,
      environment,
      rows,
      missing,
      parts,
      markdown,
    },
    null,
    2
  ) + '\n'
)
process.stdout.write(markdown + '\n')
process.exit(missing.length > 0 ? 1 : 0)
