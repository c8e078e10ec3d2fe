import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import type { ParityResults } from '../../bench/lib/records.ts'
import type { RecordedControl, ScenarioIdentity } from '../lab/parity-control.ts'
import {
  checkRecordedControl,
  controlMode,
  fingerprint,
  readRecordedControl,
  staleControlMessage,
} from '../lab/parity-control.ts'

/**
 * The parity suite reuses a recorded built-in column only while it describes this engine and
 * exactly these scenarios' code; anything else must be a failure naming the problem, never a
 * silent skip. Plain data here: no lab, no Docker.
 */
const ENGINE = '20.10.24+dfsg1'

const A: ScenarioIdentity = { name: 'a', fingerprint: '00000000000000aa' }
const B: ScenarioIdentity = { name: 'b', fingerprint: '00000000000000bb' }
const current = [A, B]

function recordOf(scenarios: ScenarioIdentity[], engine = ENGINE): ParityResults {
  return {
    kind: 'parity',
    command: 'scripts/lab/parity.sh',
    date: '2026-11-29T20:10:39.817Z',
    engine,
    engineMajor: 20,
    kernel: '6.1.0-57-amd64',
    node: 'v20.20.2',
    durationS: 1796,
    subset: null,
    declared: scenarios.length,
    scenarios: scenarios.map((s, i) => ({
      name: s.name,
      origin: 'moby',
      builtin: i === 0 ? { ok: true, ms: 10 } : { ok: false, ms: 20, error: 'no gateway' },
      plugin: { ok: true, ms: 30 },
      expectedFailure: false,
      fingerprint: s.fingerprint,
    })),
  }
}

function problemsOf(result: RecordedControl): string[] {
  assert.equal(result.ok, false, 'the record must be refused')
  return result.ok ? [] : result.problems
}

describe('recorded built-in control', () => {
  test('a record of this engine and these scenarios gives every built-in outcome', () => {
    const result = checkRecordedControl(recordOf(current), ENGINE, current)
    assert.ok(result.ok)
    assert.equal(result.date, '2026-11-29T20:10:39.817Z')
    assert.deepEqual(result.builtin.get('a'), { ok: true, ms: 10 })
    assert.deepEqual(result.builtin.get('b'), { ok: false, ms: 20, error: 'no gateway' })
    assert.equal(result.builtin.size, 2)
  })

  test('the order of the scenarios does not matter', () => {
    const result = checkRecordedControl(recordOf([...current].reverse()), ENGINE, current)
    assert.ok(result.ok)
  })

  test('another engine is refused', () => {
    const problems = problemsOf(checkRecordedControl(recordOf(current, '28.0.1'), ENGINE, current))
    assert.deepEqual(problems, [`recorded on engine 28.0.1, this engine is ${ENGINE}`])
  })

  test('a scenario added since the record is refused, by name', () => {
    const now = [...current, { name: 'c', fingerprint: '00000000000000cc' }]
    const problems = problemsOf(checkRecordedControl(recordOf(current), ENGINE, now))
    assert.deepEqual(problems, ['not in the record: "c"'])
  })

  test('a scenario removed or renamed since the record is refused, by name', () => {
    const now = [A, { name: 'b renamed', fingerprint: '00000000000000bb' }]
    const problems = problemsOf(checkRecordedControl(recordOf(current), ENGINE, now))
    assert.deepEqual(problems, [
      'not in the record: "b renamed"',
      'recorded but no longer declared: "b"',
    ])
  })

  test('a scenario whose code changed is refused, by name', () => {
    const now = [A, { ...B, fingerprint: '0000000000000bb2' }]
    const problems = problemsOf(checkRecordedControl(recordOf(current), ENGINE, now))
    assert.deepEqual(problems, ['code changed since the record: "b"'])
  })

  test('a record without fingerprints is stale', () => {
    const old = recordOf(current)
    for (const s of old.scenarios) delete s.fingerprint
    const problems = problemsOf(checkRecordedControl(old, ENGINE, current))
    assert.deepEqual(problems, ['no scenario fingerprints (recorded before they were kept)'])
  })

  test('one scenario without a fingerprint is stale', () => {
    const old = recordOf(current)
    for (const s of old.scenarios) if (s.name === 'b') delete s.fingerprint
    const problems = problemsOf(checkRecordedControl(old, ENGINE, current))
    assert.deepEqual(problems, ['no fingerprint: "b"'])
  })

  test('a subset run is not a control', () => {
    const subset = { ...recordOf(current), subset: 'l2' }
    const problems = problemsOf(checkRecordedControl(subset, ENGINE, current))
    assert.deepEqual(problems, ['a subset run (LAB_SCENARIOS=l2), not every scenario'])
  })

  test('a scenario without a built-in outcome is refused', () => {
    const record = recordOf(current)
    const broken = {
      ...record,
      scenarios: record.scenarios.map(({ builtin, ...rest }) =>
        rest.name === 'a' ? rest : { ...rest, builtin }
      ),
    }
    const problems = problemsOf(checkRecordedControl(broken, ENGINE, current))
    assert.deepEqual(problems, ['no built-in outcome: "a"'])
  })

  test('a scenario recorded twice is refused', () => {
    const twice = recordOf([A, B, A])
    const problems = problemsOf(checkRecordedControl(twice, ENGINE, current))
    assert.deepEqual(problems, ['recorded more than once: "a"'])
  })

  test('anything but a parity results file is refused', () => {
    for (const value of [null, [], 'x', { kind: 'bench', scenarios: [] }, { kind: 'parity' }]) {
      assert.deepEqual(problemsOf(checkRecordedControl(value, ENGINE, current)), [
        'not a parity results file',
      ])
    }
  })

  test('a missing or unreadable file is refused, with the reason', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipvlan-lan-parity-control-'))
    const missing = problemsOf(readRecordedControl(join(dir, 'none.json'), ENGINE, current))
    assert.match(missing[0] ?? '', /^cannot read it: .*ENOENT/)
    const garbled = join(dir, 'garbled.json')
    writeFileSync(garbled, '{"kind": "parity",')
    const unreadable = problemsOf(readRecordedControl(garbled, ENGINE, current))
    assert.match(unreadable[0] ?? '', /^cannot read it: /)
    const good = join(dir, 'good.json')
    writeFileSync(good, JSON.stringify(recordOf(current)))
    assert.ok(readRecordedControl(good, ENGINE, current).ok)
  })

  test('the failure lists every problem and says how to fix it', () => {
    const message = staleControlMessage('results/parity-docker-x.json', ['p1', 'p2'])
    assert.match(message, /results\/parity-docker-x\.json/)
    assert.match(message, /- p1\n {2}- p2/)
    assert.match(message, /rerun scripts\/lab\/parity\.sh/i)
  })
})

describe('scenario fingerprint', () => {
  const base = {
    name: 'l2: containers reach each other',
    async run(): Promise<void> {
      await Promise.resolve('ping')
    },
  }

  test('16 hex digits, the same for the same scenario', () => {
    assert.match(fingerprint(base), /^[0-9a-f]{16}$/)
    assert.equal(fingerprint(base), fingerprint({ ...base }))
  })

  test('changes with the code, the name and the expected-failure declaration', () => {
    const seen = new Set([
      fingerprint(base),
      fingerprint({
        ...base,
        async run(): Promise<void> {
          await Promise.resolve('pong')
        },
      }),
      fingerprint({ ...base, name: 'l3: containers reach each other' }),
      fingerprint({ ...base, expectedFailure: { engineBelow: 28, reason: 'gateway in a /31' } }),
      fingerprint({ ...base, expectedFailure: { engineBelow: 27, reason: 'gateway in a /31' } }),
      fingerprint({ ...base, expectedFailure: { engineBelow: 28, reason: 'another reason' } }),
    ])
    assert.equal(seen.size, 6)
  })
})

describe('PARITY_CONTROL', () => {
  test('recorded by default, run on request, anything else is an error', () => {
    assert.equal(controlMode(undefined), 'recorded')
    assert.equal(controlMode(''), 'recorded')
    assert.equal(controlMode('recorded'), 'recorded')
    assert.equal(controlMode('run'), 'run')
    assert.throws(() => controlMode('rerun'), /PARITY_CONTROL=rerun: expected run or recorded/)
  })
})
