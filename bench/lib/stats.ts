/** Order statistics and interleaved A/B sampling for the benchmarks. */

export interface Spread {
  median: number
  p10: number
  p90: number
  min: number
  max: number
  n: number
}

/** Linear-interpolated quantile of unsorted samples (q in [0, 1]). */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return NaN
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (sorted.length - 1) * q
  const lo = Math.floor(at)
  const hi = Math.ceil(at)
  const a = sorted[lo] ?? NaN
  const b = sorted[hi] ?? NaN
  return a + (b - a) * (at - lo)
}

export function spread(samples: readonly number[]): Spread {
  return {
    median: quantile(samples, 0.5),
    p10: quantile(samples, 0.1),
    p90: quantile(samples, 0.9),
    min: Math.min(...samples),
    max: Math.max(...samples),
    n: samples.length,
  }
}

/**
 * The 95% interval of the median by bootstrap (5000 resamples with replacement, percentile
 * method), with a fixed-seed generator so that a result file always renders the same interval.
 * With 20 pairs of container starts the median ratio moves by several percent from run to run:
 * this says how far, next to a target of a few percent.
 */
export function medianInterval(samples: readonly number[], resamples = 5000): [number, number] {
  if (samples.length === 0) return [NaN, NaN]
  let state = 0x9e3779b9
  // mulberry32: small, seeded, good enough to pick indices.
  const random = (): number => {
    state = (state + 0x6d2b79f5) | 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const medians: number[] = []
  const draw = new Array<number>(samples.length)
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < samples.length; i++) {
      draw[i] = samples[Math.floor(random() * samples.length)] ?? NaN
    }
    medians.push(quantile(draw, 0.5))
  }
  return [quantile(medians, 0.025), quantile(medians, 0.975)]
}

/** Milliseconds since an arbitrary origin, sub-millisecond resolution. */
export const now = (): number => performance.now()

export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = now()
  await fn()
  return now() - started
}

/** One interleaved comparison: the subject against each baseline, pair by pair. */
export interface Comparison {
  /** Per-variant samples, same length, index i of each taken in the same round. */
  samples: Record<string, number[]>
  /** subject/baseline per round, for each baseline. */
  ratios: Record<string, number[]>
}

/**
 * Runs the variants round-robin (A B A B ..., or A B C ...), `warmup` discarded rounds first. The
 * order inside a round rotates (A B, B A, ...) so that neither side always runs first, which
 * cancels order effects such as a cache the first run warms for the second. Each variant returns
 * the figure of one sample (for example milliseconds).
 */
export async function interleave(
  variants: Record<string, () => Promise<number>>,
  options: { rounds: number; warmup: number; subject: string; onRound?: (round: number) => void }
): Promise<Comparison> {
  const names = Object.keys(variants)
  const samples: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]))
  for (let round = -options.warmup; round < options.rounds; round++) {
    const shift = ((round % names.length) + names.length) % names.length
    const order = [...names.slice(shift), ...names.slice(0, shift)]
    const taken: Record<string, number> = {}
    for (const name of order) {
      const variant = variants[name]
      if (!variant) throw new Error(`no variant ${name}`)
      taken[name] = await variant()
    }
    if (round < 0) continue
    for (const name of names) samples[name]?.push(taken[name] ?? NaN)
    options.onRound?.(round)
  }
  return withSubject({ samples, ratios: {} }, options.subject)
}

/** The same rounds with `subject` as the subject: its ratio to every other variant, round by round. */
export function withSubject(comparison: Comparison, subject: string): Comparison {
  const { samples } = comparison
  const values = samples[subject]
  if (!values) throw new Error(`no subject ${subject}`)
  const ratios: Record<string, number[]> = {}
  for (const name of Object.keys(samples)) {
    if (name === subject) continue
    const base = samples[name] ?? []
    ratios[name] = values.map((value, i) => value / (base[i] ?? NaN))
  }
  return { samples, ratios }
}

/** The JSON shape of one ratio figure. */
export interface RatioFigure {
  subject: string
  baseline: string
  unit: string
  subjectSpread: Spread
  baselineSpread: Spread
  ratio: Spread
  /** The median ratio's 95% bootstrap interval (medianInterval). */
  ratioMedianInterval: [number, number]
}

export function ratioFigure(
  comparison: Comparison,
  subject: string,
  baseline: string,
  unit: string
): RatioFigure {
  return {
    subject,
    baseline,
    unit,
    subjectSpread: spread(comparison.samples[subject] ?? []),
    baselineSpread: spread(comparison.samples[baseline] ?? []),
    ratio: spread(comparison.ratios[baseline] ?? []),
    ratioMedianInterval: medianInterval(comparison.ratios[baseline] ?? []),
  }
}
