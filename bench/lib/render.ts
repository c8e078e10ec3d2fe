/**
 * Markdown from the raw results in results/: the benchmark tables (bench/README.md and README's
 * summary) and README's parity table. Every figure comes from the raw file; nothing is typed in.
 */
import type { BenchResults, ParityOutcome, ParityResults, ParityScenarioResult } from './records.ts'
import type { Row } from './result.ts'
import { x } from './result.ts'

export const RENDER_COMMAND = 'node --import tsx bench/render.ts'

const cell = (text: string | undefined): string =>
  (text ?? '').replace(/\|/g, '\\|').replace(/\s+/g, ' ').trim()
const met = (row: Row): string => (row.met === undefined ? '' : row.met ? 'yes' : '**NO**')
const when = (iso: string): string => `${iso.slice(0, 16).replace('T', ' ')} UTC`
const duration = (seconds: number): string =>
  Number.isFinite(seconds) ? `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s` : '?'
const ratioCell = (row: Row): string => (row.ratio ? x(row.ratio.median) : cell(row.value))
/** A summary row: every figure that is not marked "(info)". */
const headline = (row: Row): boolean => !/\(info\)\s*$/.test(row.title)

/** `link(path)` is the results file's address relative to the file being rendered. */
export type Link = (file: string) => string

function targetsLine(rows: Row[]): string {
  const targets = rows.filter((row) => row.met !== undefined)
  const failed = targets.filter((row) => row.met === false)
  return (
    `Targets met: ${targets.length - failed.length}/${targets.length}` +
    (failed.length ? ` (missed: ${failed.map((row) => row.id).join(', ')})` : '')
  )
}

function problems(results: BenchResults): string[] {
  return [
    ...results.missing.map((file) => `- MISSING part: ${file} (that part failed or did not run)`),
    ...results.parts.flatMap((part) => {
      const failures = part.raw['failures']
      return Array.isArray(failures)
        ? failures.map((f) => `- FAILED in ${part.part}: ${cell(String(f))}`)
        : []
    }),
  ]
}

function benchProvenance(results: BenchResults, link: Link): string[] {
  const file = results.file
  return [
    `Last run: ${when(results.date)}, \`${results.command}\` (${duration(results.durationS)}). ` +
      `Raw results: [results/${file}](${link(file)}); tables rendered from it by \`${RENDER_COMMAND}\`.`,
    ...(results.quick
      ? [
          '',
          '**BENCH_QUICK=1: a check of the plumbing with a few pairs; the numbers mean nothing.**',
        ]
      : []),
    ...(results.environment ? ['', `Machine: ${cell(results.environment)}.`] : []),
  ]
}

/** bench/README.md's "Last run": every row, the notes, the failures. */
export function benchFull(results: BenchResults, link: Link): string {
  const rows = results.rows
  return [
    ...benchProvenance(results, link),
    '',
    '| # | figure | ours (median) | baseline (median, same run) | ratio median | p10–p90 | min–max | n | target | met |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((row) => {
      const r = row.ratio
      return `| ${row.id} | ${cell(row.title)} | ${cell(row.subject)} | ${cell(row.baseline)} | ${ratioCell(
        row
      )} | ${r ? `${x(r.p10)}–${x(r.p90)}` : ''} | ${r ? `${x(r.min)}–${x(r.max)}` : ''} | ${
        r ? r.n : ''
      } | ${cell(row.target)} | ${met(row)} |`
    }),
    '',
    ...rows
      .filter((row) => row.note)
      .map(
        (row) =>
          `- ${row.id}: ${cell(row.note)}${row.ratio && row.value ? ` (${cell(row.value)})` : ''}`
      ),
    ...problems(results),
    '',
    targetsLine(rows),
  ].join('\n')
}

/** README's summary: the figures not marked "(info)", with their ratios and targets. */
export function benchSummary(results: BenchResults, link: Link): string {
  const rows = results.rows.filter(headline)
  const byId = (id: string): Row | undefined => results.rows.find((row) => row.id === id)
  const single = byId('4b')
  return [
    ...benchProvenance(results, link),
    '',
    'Full table (p10–p90, min–max, n, notes): [bench/README.md](bench/README.md).',
    '',
    '| # | figure | ours (median) | baseline (median, same run) | ratio (median) | target | met |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (row) =>
        `| ${row.id} | ${cell(row.title)} | ${cell(row.subject)} | ${cell(row.baseline)} | ${ratioCell(
          row
        )}${!row.ratio || !row.value ? '' : `, ${cell(row.value)}`} | ${cell(row.target)} | ${met(row)} |`
    ),
    ...(problems(results).length ? ['', ...problems(results)] : []),
    '',
    targetsLine(results.rows) + '.',
    ...(single
      ? [
          '',
          'Concurrent clients on one network against one client in a loop, ' +
            `in the same run: ${cell(single.subject)} against ${cell(single.baseline)}, ` +
            `${ratioCell(single)} (4b).`,
        ]
      : []),
  ].join('\n')
}

export function benchNone(): string {
  return (
    'No run recorded yet: `npm run bench` measures every figure, keeps the raw results in ' +
    '`results/bench-<date>.json` (and `results/bench-latest.json`) and renders this table from them.'
  )
}

const outcome = (o: ParityOutcome, expected: string | undefined): string =>
  o.ok
    ? expected
      ? 'pass (expected to fail)'
      : 'pass'
    : expected
      ? `FAIL (expected ${expected})`
      : 'FAIL'

const shortError = (text: string | undefined): string => {
  const one = cell(text)
  return one.length > 240 ? `${one.slice(0, 240)}…` : one
}

/** What one engine's run says about itself, and its failures (first line of each error). */
function parityRunParts(
  results: ParityResults,
  file: string,
  link: Link
): { intro: string; failures: string[]; cellOf: (s: ParityScenarioResult) => [string, string] } {
  const all = results.scenarios
  const total = all.length
  const passed = (side: 'builtin' | 'plugin'): number => all.filter((s) => s[side].ok).length
  const expected = all.filter((s) => s.expectedFailure)
  const limited = all.filter((s) => s.remoteDriverLimitFrom !== undefined)
  const on = `on Docker ${results.engine}`
  const expectedOn = (s: ParityScenarioResult): string | undefined =>
    s.expectedFailure
      ? s.expectedFailureBelow === undefined
        ? on
        : `on Docker < ${s.expectedFailureBelow}`
      : undefined
  const pluginCell = (s: ParityScenarioResult): string =>
    s.remoteDriverLimitFrom !== undefined && !s.plugin.ok
      ? "FAIL (Docker's remote-driver limit)"
      : outcome(s.plugin, expectedOn(s))
  const failures = all.flatMap((s) => [
    ...(s.builtin.ok
      ? []
      : [`- ${results.engine}, built-in, ${s.name}: ${shortError(s.builtin.error)}`]),
    ...(s.plugin.ok
      ? []
      : [
          `- ${results.engine}, plugin, ${s.name}: ${shortError(s.plugin.error)}` +
            (s.expectedFailure
              ? ` (expected ${expectedOn(s) ?? ''}: ${cell(s.expectedFailureReason)})`
              : s.remoteDriverLimitFrom !== undefined
                ? ` (Docker's remote-driver limit: ${cell(s.remoteDriverLimitReason)})`
                : ''),
        ]),
  ])
  const merged = (results.merged ?? []).map(
    (m) =>
      ` ${m.scenarios.length} scenarios (${m.scenarios.join('; ')}) come from a run of just those on ${when(m.subsetDate)}, merged by \`${m.command}\`.`
  )
  const intro = [
    `**Docker ${results.engine}** in the lab VM (kernel ${results.kernel}), ${when(results.date)}, ` +
      `\`${results.command}\` (${duration(results.durationS)}). ` +
      `Raw results: [results/${file}](${link(file)}).` +
      merged.join(''),
    ...(results.subset !== null
      ? [
          '',
          `**A subset (LAB_SCENARIOS=\`${results.subset}\`): ${total} of the ${results.declared} scenarios.**`,
        ]
      : []),
    '',
    `The plugin passed ${passed('plugin')} of ${total} scenarios, the built-in driver ${passed('builtin')}; ` +
      `expected failures ${on}, declared in \`test/lab/scenarios.ts\`: ${expected.length}` +
      (expected.length ? ` (${expected.map((s) => s.name).join('; ')})` : '') +
      '.' +
      (limited.length
        ? ` Out of any plugin's reach ${on}, because Docker's remote-driver proxy decides it: ${limited.map((s) => s.name).join('; ')}.`
        : ''),
  ].join('\n')
  return {
    intro,
    failures,
    cellOf: (s) => [outcome(s.builtin, expectedOn(s)), pluginCell(s)],
  }
}

/**
 * README's parity table: one column pair (built-in, plugin) per engine, oldest engine first, each
 * engine's run described above the table and its failures listed below it.
 */
export function parityRuns(runs: { results: ParityResults; file: string }[], link: Link): string {
  const parts = runs.map((r) => ({ ...r, ...parityRunParts(r.results, r.file, link) }))
  const names: { name: string; origin: string }[] = []
  for (const { results } of runs) {
    for (const s of results.scenarios) {
      if (!names.some((n) => n.name === s.name)) names.push({ name: s.name, origin: s.origin })
    }
  }
  const header = parts.flatMap((p) => [
    `${p.results.engine} built-in`,
    `${p.results.engine} plugin`,
  ])
  return [
    ...parts.flatMap((p) => [p.intro, '']),
    `Table rendered from these files by \`${RENDER_COMMAND}\`.`,
    '',
    `| scenario | origin | ${header.join(' | ')} |`,
    `| --- | --- | ${header.map(() => '---').join(' | ')} |`,
    ...names.map(({ name, origin }) => {
      const cells = parts.flatMap((p) => {
        const s = p.results.scenarios.find((x) => x.name === name)
        return s ? p.cellOf(s) : ['not run', 'not run']
      })
      return `| ${cell(name)} | ${origin} | ${cells.join(' | ')} |`
    }),
    ...(parts.some((p) => p.failures.length)
      ? ['', 'Failures (first line of each error):', '', ...parts.flatMap((p) => p.failures)]
      : []),
  ].join('\n')
}

export function parityNone(): string {
  return (
    'No parity run recorded yet: `scripts/lab/parity.sh` runs the suite in the lab VM, keeps the ' +
    'raw results in `results/parity-docker-<engine>.json` and renders this table from them.'
  )
}

/** Replaces what lies between `<!-- NAME:begin -->` and `<!-- NAME:end -->` in `text`. */
export function replaceSection(text: string, name: string, content: string): string {
  const begin = `<!-- ${name}:begin -->`
  const end = `<!-- ${name}:end -->`
  const from = text.indexOf(begin)
  const to = text.indexOf(end)
  if (from < 0 || to < from || text.indexOf(begin, from + 1) >= 0) {
    throw new Error(`expected exactly one ${begin} … ${end} section`)
  }
  const note = `<!-- generated by \`${RENDER_COMMAND}\` from results/: do not edit by hand -->`
  return `${text.slice(0, from)}${begin}\n${note}\n\n${content}\n\n${text.slice(to)}`
}

/** "20.10.24" < "28.0.1", numerically per segment. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((part) => Number(part))
  const pb = b.split(/[.-]/).map((part) => Number(part))
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0)
    if (Number.isFinite(d) && d !== 0) return d
  }
  return a.localeCompare(b)
}
