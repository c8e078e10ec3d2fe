import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ratioRow } from '../../bench/lib/result.ts'
import { interleave, medianInterval, ratioFigure, withSubject } from '../../bench/lib/stats.ts'

test("the median's bootstrap interval holds the median, stays inside the samples and is repeatable", () => {
  const samples = Array.from({ length: 20 }, (_, i) => 0.9 + i * 0.01)
  const [lo, hi] = medianInterval(samples)
  assert.ok(lo < 0.995 && 0.995 < hi, `${lo}-${hi}`)
  assert.ok(lo >= 0.9 && hi <= 1.09, `${lo}-${hi}`)
  assert.deepEqual(medianInterval(samples), [lo, hi])
  assert.deepEqual(medianInterval([1.5, 1.5, 1.5]), [1.5, 1.5])
  assert.deepEqual(medianInterval([]).map(Number.isNaN), [true, true])
})

test('a target row says whether its target is met, missed or inside the noise of the median', () => {
  const row = (ratios: number[]) =>
    ratioRow(
      '1',
      'run + rm',
      ratioFigure(
        { samples: { a: ratios, b: ratios.map(() => 1) }, ratios: { b: ratios } },
        'a',
        'b',
        'ms'
      ),
      (v) => `${v}`,
      1.03
    )
  assert.match(row(Array(20).fill(1.0)).note ?? '', /1\.00–1\.00×, the target is met beyond/)
  assert.match(row(Array(20).fill(1.2)).note ?? '', /missed beyond the noise/)
  const noisy = Array.from({ length: 20 }, (_, i) => 0.8 + i * 0.02)
  const verdict = row(noisy)
  assert.equal(verdict.met, true)
  assert.match(verdict.note ?? '', /over the 20 pairs .*this run cannot tell/)
})

test('interleave runs every variant once a round, rotating the order; withSubject rebases the ratios', async () => {
  const calls: string[] = []
  const variant = (name: string, value: number) => () => {
    calls.push(name)
    return Promise.resolve(value)
  }
  const comparison = await interleave(
    { plugin: variant('plugin', 12), builtin: variant('builtin', 10), floor: variant('floor', 11) },
    { rounds: 3, warmup: 0, subject: 'plugin' }
  )
  assert.deepEqual(calls, [
    ...['plugin', 'builtin', 'floor'],
    ...['builtin', 'floor', 'plugin'],
    ...['floor', 'plugin', 'builtin'],
  ])
  assert.deepEqual(comparison.ratios, {
    builtin: [1.2, 1.2, 1.2],
    floor: [12 / 11, 12 / 11, 12 / 11],
  })
  const floor = withSubject(comparison, 'floor')
  assert.deepEqual(floor.ratios, { plugin: [11 / 12, 11 / 12, 11 / 12], builtin: [1.1, 1.1, 1.1] })
  assert.equal(floor.samples, comparison.samples)
  assert.throws(() => withSubject(comparison, 'other'), /no subject other/)
})
