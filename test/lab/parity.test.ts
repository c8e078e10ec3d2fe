import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { docker } from './docker.ts'
import { ensureInstalled, REGISTRY_PLUGIN } from './plugin.ts'
import { SCENARIOS, ScenarioContext } from './scenarios.ts'
import type { Scenario } from './scenarios.ts'

// LAB_SCENARIOS=<regex> runs a subset (debugging only: `make test` always runs them all).
const only = process.env['LAB_SCENARIOS']
const SELECTED = only ? SCENARIOS.filter((s) => new RegExp(only).test(s.name)) : SCENARIOS

/**
 * Lab tier: runs every scenario against the built-in ipvlan driver (control) and against the
 * plugin installed from a registry the way users install it, then prints both columns.
 * The plugin must pass every scenario the built-in passes, and every scenario the issue asks for.
 */
interface Outcome {
  ok: boolean
  ms: number
  error?: string
}

const builtin = new Map<string, Outcome>()
const plugin = new Map<string, Outcome>()

async function attempt(scenario: Scenario, ctx: ScenarioContext): Promise<Outcome> {
  const started = Date.now()
  try {
    await scenario.run(ctx)
    return { ok: true, ms: Date.now() - started }
  } catch (error) {
    return {
      ok: false,
      ms: Date.now() - started,
      error: (error as Error).message.split('\n')[0] ?? '',
    }
  } finally {
    await ctx.cleanup()
  }
}

before(
  async () => {
    const version = await docker('version', '--format', '{{.Server.Version}}')
    console.log(`# engine ${version.stdout}`)
    await ensureInstalled()
    for (const scenario of SELECTED) {
      const outcome = await attempt(scenario, new ScenarioContext('ipvlan', 'b'))
      builtin.set(scenario.name, outcome)
      console.log(
        `# built-in ${outcome.ok ? 'PASS' : 'FAIL'}: ${scenario.name}${outcome.error ? ` (${outcome.error})` : ''}`
      )
    }
  },
  { timeout: 60 * 60_000 }
)

for (const scenario of SELECTED) {
  test(`plugin: ${scenario.name}`, { timeout: 10 * 60_000 }, async (t) => {
    const outcome = await attempt(scenario, new ScenarioContext(REGISTRY_PLUGIN, 'p'))
    plugin.set(scenario.name, outcome)
    const control = builtin.get(scenario.name)
    const required = control?.ok === true || scenario.origin !== 'moby'
    if (!outcome.ok && !required) {
      t.diagnostic(`fails on this engine with the built-in driver too: ${control?.error ?? ''}`)
      return
    }
    assert.ok(outcome.ok, outcome.error)
  })
}

after(() => {
  const mark = (o: Outcome | undefined): string =>
    o === undefined ? 'not run' : o.ok ? 'pass' : 'FAIL'
  const lines = [
    '',
    '| scenario | origin | built-in ipvlan | ipvlan-lan plugin |',
    '| --- | --- | --- | --- |',
    ...SELECTED.map(
      (s) =>
        `| ${s.name} | ${s.origin} | ${mark(builtin.get(s.name))} | ${mark(plugin.get(s.name))} |`
    ),
    '',
  ]
  console.log(lines.join('\n'))
})
