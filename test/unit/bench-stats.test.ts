import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ratioRow } from '../../bench/lib/result.ts'
import { medianInterval, ratioFigure } from '../../bench/lib/stats.ts'

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
