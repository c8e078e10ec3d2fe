import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import type { RatioFigure, Spread } from './stats.ts'

/** One line of the final table. */
export interface Row {
  /** Benchmark number from the issue (1-6) plus a letter for sub-figures. */
  id: string
  title: string
  /** Our figure, formatted (a median, or an absolute value). */
  subject: string
  /** The baseline's figure measured in the same run, formatted. */
  baseline: string
  /** subject/baseline per pair, when the figure is a ratio. */
  ratio?: Spread | undefined
  /** A figure that is not a ratio, formatted (counts, sizes). */
  value?: string | undefined
  target?: string | undefined
  /** undefined: no target for this line. */
  met?: boolean | undefined
  note?: string | undefined
}

/** What one bench program hands to the report: its rows and the raw measurements. */
export interface Part {
  part: string
  where: string
  startedAt: string
  durationMs: number
  rows: Row[]
  raw: Record<string, unknown>
}

export function writePart(file: string, part: Part): void {
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, JSON.stringify(part, null, 2) + '\n')
}

export function readPart(file: string): Part {
  return JSON.parse(readFileSync(file, 'utf8')) as Part
}

/** `--out FILE` and other `--key value` flags of the bench programs. */
export function flag(name: string, fallback?: string): string {
  const args = process.argv.slice(2)
  const at = args.indexOf(`--${name}`)
  const value = at >= 0 ? args[at + 1] : undefined
  if (value !== undefined) return value
  if (fallback !== undefined) return fallback
  throw new Error(`missing --${name}`)
}

export function intFlag(name: string, fallback: number): number {
  const text = flag(name, String(fallback))
  const value = Number(text)
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name}: expected an integer`)
  return value
}

export const ms = (value: number): string =>
  value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(value >= 100 ? 0 : 1)} ms`

export const bytes = (value: number): string => {
  if (value >= 1024 * 1024) return `${(value / 1024 / 1024).toFixed(1)} MiB`
  if (value >= 1024) return `${(value / 1024).toFixed(1)} KiB`
  return `${Math.round(value)} B`
}

export const x = (value: number): string => `${value.toFixed(2)}×`

/** A row for a ratio figure; `limit` is the target on the median ratio (≤). */
export function ratioRow(
  id: string,
  title: string,
  figure: RatioFigure,
  format: (value: number) => string,
  limit?: number,
  note?: string
): Row {
  return {
    id,
    title,
    subject: `${format(figure.subjectSpread.median)} (${figure.subject})`,
    baseline: `${format(figure.baselineSpread.median)} (${figure.baseline})`,
    ratio: figure.ratio,
    target: limit === undefined ? undefined : `≤ ${limit.toFixed(2)}×`,
    met: limit === undefined ? undefined : figure.ratio.median <= limit,
    note:
      limit === undefined ? note : [intervalNote(figure, limit), note].filter(Boolean).join('; '),
  }
}

/** Where a target sits against the noise of its median (stats.ts medianInterval). */
function intervalNote(figure: RatioFigure, limit: number): string {
  const [lo, hi] = figure.ratioMedianInterval
  const verdict =
    hi <= limit
      ? 'the target is met beyond the noise'
      : lo > limit
        ? 'the target is missed beyond the noise'
        : 'the target lies inside it: this run cannot tell'
  return `median ratio's 95% bootstrap interval over the ${figure.ratio.n} pairs ${lo.toFixed(2)}–${hi.toFixed(2)}×, ${verdict}`
}

export function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`)
}
