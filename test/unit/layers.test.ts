/**
 * The layer boundaries in eslint.config.js, checked through ESLint itself: for every layer, each
 * forbidden import is reported by `no-restricted-imports` and each allowed import is not, from
 * virtual files at more than one depth; and the real src/ tree lints clean of both layer rules.
 */
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import path from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { ESLint, type Linter } from 'eslint'

const root = fileURLToPath(new URL('../../', import.meta.url))
const eslint = new ESLint({ cwd: root })

const LAYER_RULES = ['no-restricted-imports', 'no-restricted-syntax']

/** A module specifier, or a specifier with the statement that imports it. */
type Case = string | { spec: string; code: (spec: string) => string }

interface Layer {
  name: string
  /** Virtual files (relative to the repo) the cases are linted as. */
  fixtures: string[]
  forbidden: Case[]
  allowed: Case[]
}

const named =
  (...names: string[]) =>
  (spec: string): string =>
    `import { ${names.join(', ')} } from '${spec}'\nexport { ${names.join(', ')} }`
const typeOnly =
  (name: string) =>
  (spec: string): string =>
    `import type { ${name} } from '${spec}'\nexport type { ${name} }`
const reexport = (spec: string): string => `export * from '${spec}'`

// `@/x` is src/x, written as the relative path from the fixture's folder (`../../link/x.ts` from
// src/driver/ports, `./link/x.ts` from src).
const LAYERS: Layer[] = [
  {
    name: 'driver',
    fixtures: ['src/driver/__layer_fixture__.ts', 'src/driver/ports/__layer_fixture__.ts'],
    forbidden: [
      'hono',
      'hono/body-limit',
      'hono/utils/http-status',
      '@hono/node-server',
      'valibot',
      'execa',
      'fast-check',
      'node:fs',
      'node:fs/promises',
      'fs',
      'fs/promises',
      'node:child_process',
      'child_process',
      'node:http',
      'node:https',
      'node:dgram',
      'node:dns',
      'node:os',
      'node:process',
      'node:worker_threads',
      'node:module',
      'node:net',
      'http',
      'net',
      { spec: 'node:net', code: named('createServer') },
      { spec: 'hono', code: typeOnly('Context') },
      { spec: 'execa', code: named('execa') },
      { spec: '@/link/runner.ts', code: reexport },
      '@/http/app.ts',
      '@/http/schemas.ts',
      '@/link/iproute2.ts',
      '@/link/runner.ts',
      '@/store/json-file-store.ts',
      '@/store/records.ts',
      '@/server.ts',
      '@/main.ts',
      '@/config.ts',
    ],
    allowed: [
      '@/errors.ts',
      '@/log.ts',
      '@/ifname.ts',
      { spec: '@/log.ts', code: typeOnly('Logger') },
      '@/driver/model.ts',
      '@/driver/ports/link-layer.ts',
      '@/driver/ports/store.ts',
      { spec: '@/driver/model.ts', code: reexport },
      { spec: 'node:net', code: named('BlockList', 'isIP', 'isIPv4', 'isIPv6') },
      'node:util',
      'node:assert/strict',
      'node:buffer',
      'node:url',
    ],
  },
  {
    name: 'http',
    fixtures: ['src/http/__layer_fixture__.ts', 'src/http/sub/__layer_fixture__.ts'],
    forbidden: [
      '@/link/iproute2.ts',
      '@/link/runner.ts',
      '@/link/classify.ts',
      '@/store/json-file-store.ts',
      '@/store/records.ts',
      'execa',
      'node:child_process',
      'child_process',
      'node:fs',
      'node:fs/promises',
      'fs',
      '@/main.ts',
    ],
    allowed: [
      'hono',
      'hono/body-limit',
      'hono/utils/http-status',
      'valibot',
      '@/driver/driver.ts',
      '@/driver/model.ts',
      '@/driver/options.ts',
      '@/errors.ts',
      '@/log.ts',
      '@/http/schemas.ts',
    ],
  },
  {
    name: 'link',
    fixtures: ['src/link/__layer_fixture__.ts', 'src/link/sub/__layer_fixture__.ts'],
    forbidden: [
      'hono',
      'hono/body-limit',
      '@hono/node-server',
      'valibot',
      'node:fs',
      'node:fs/promises',
      'fs',
      '@/http/app.ts',
      '@/store/json-file-store.ts',
      '@/store/records.ts',
      '@/main.ts',
    ],
    allowed: [
      'execa',
      { spec: 'execa', code: named('execa') },
      '@/driver/ports/link-layer.ts',
      '@/driver/model.ts',
      '@/ifname.ts',
      '@/errors.ts',
      '@/link/runner.ts',
    ],
  },
  {
    name: 'store',
    fixtures: ['src/store/__layer_fixture__.ts', 'src/store/sub/__layer_fixture__.ts'],
    forbidden: [
      'execa',
      'node:child_process',
      'child_process',
      'hono',
      'hono/body-limit',
      '@hono/node-server',
      '@/http/app.ts',
      '@/link/iproute2.ts',
      '@/link/runner.ts',
      '@/main.ts',
    ],
    allowed: [
      'valibot',
      'node:fs',
      'node:fs/promises',
      'node:path',
      'node:crypto',
      '@/driver/ports/store.ts',
      '@/driver/model.ts',
      '@/log.ts',
      '@/errors.ts',
      '@/store/records.ts',
    ],
  },
  {
    name: 'shared leaves',
    fixtures: ['src/errors.ts', 'src/log.ts', 'src/ifname.ts'],
    forbidden: [
      '@/driver/model.ts',
      '@/driver/ports/store.ts',
      '@/http/app.ts',
      '@/link/runner.ts',
      '@/store/records.ts',
      '@/main.ts',
      '@/server.ts',
      '@/config.ts',
      'hono',
      'valibot',
      'execa',
      'node:fs',
      'node:child_process',
      'node:http',
    ],
    allowed: ['@/errors.ts', '@/ifname.ts', { spec: '@/log.ts', code: typeOnly('Logger') }],
  },
  {
    name: 'server',
    fixtures: ['src/server.ts'],
    forbidden: ['execa', 'node:child_process', 'child_process', '@/main.ts'],
    allowed: [
      'hono',
      '@hono/node-server',
      'node:fs/promises',
      'node:http',
      'node:path',
      '@/http/app.ts',
      '@/log.ts',
    ],
  },
  {
    name: 'composition root',
    fixtures: ['src/main.ts'],
    forbidden: [
      'execa',
      'node:child_process',
      'child_process',
      'node:fs',
      'node:fs/promises',
      'fs',
    ],
    allowed: [
      '@/driver/driver.ts',
      '@/http/app.ts',
      '@/link/iproute2.ts',
      '@/link/runner.ts',
      '@/store/json-file-store.ts',
      '@/server.ts',
      '@/config.ts',
      '@/log.ts',
      '@/errors.ts',
    ],
  },
  {
    name: 'rest of src',
    fixtures: ['src/config.ts', 'src/__layer_fixture__.ts'],
    forbidden: ['execa', 'node:child_process', 'node:fs', 'fs/promises', '@/main.ts'],
    allowed: ['valibot', 'node:util', '@/ifname.ts', '@/log.ts'],
  },
]

/** `@/x` → the relative specifier of src/x from the fixture's folder. */
function resolveSpec(spec: string, fixture: string): string {
  if (!spec.startsWith('@/')) return spec
  const rel = path.posix.relative(path.posix.dirname(fixture), 'src/' + spec.slice(2))
  return rel.startsWith('.') ? rel : './' + rel
}

function render(c: Case, fixture: string): { spec: string; code: string } {
  const spec = resolveSpec(typeof c === 'string' ? c : c.spec, fixture)
  const code = typeof c === 'string' ? `import * as _m from '${spec}'\nexport { _m }` : c.code(spec)
  return { spec, code }
}

/** Lints `code` as `filePath`; fails unless ESLint really linted it (not ignored, parsed). */
async function lint(code: string, filePath: string): Promise<Linter.LintMessage[]> {
  const results = await eslint.lintText(code + '\n', { filePath, warnIgnored: true })
  assert.equal(results.length, 1, `one result for ${filePath}`)
  const [result] = results
  assert.ok(result)
  assert.equal(result.filePath, path.join(root, filePath))
  for (const m of result.messages) {
    assert.ok(!m.fatal, `${filePath}: fatal: ${m.message}`)
    assert.doesNotMatch(m.message, /ignored/i, `${filePath} must not be ignored`)
  }
  return result.messages
}

const describeMessages = (messages: Linter.LintMessage[]): string =>
  messages.map((m) => `${m.line}:${m.column} ${m.ruleId} ${m.message}`).join('\n') || '(none)'

test('the layer table is not empty', () => {
  assert.ok(LAYERS.length >= 8)
  for (const layer of LAYERS) {
    assert.ok(layer.fixtures.length > 0, `${layer.name} has fixtures`)
    assert.ok(layer.forbidden.length > 0, `${layer.name} has forbidden imports`)
    assert.ok(layer.allowed.length > 0, `${layer.name} has allowed imports`)
  }
})

for (const layer of LAYERS) {
  describe(`layer: ${layer.name}`, () => {
    for (const fixture of layer.fixtures) {
      for (const c of layer.forbidden) {
        const { spec, code } = render(c, fixture)
        test(`${fixture} may not: ${code.split('\n')[0]}`, async () => {
          const messages = await lint(code, fixture)
          const hits = messages.filter(
            (m) =>
              m.ruleId === 'no-restricted-imports' &&
              m.severity === 2 &&
              m.line === 1 &&
              m.message.includes(`'${spec}'`)
          )
          assert.ok(
            hits.length > 0,
            `expected a no-restricted-imports error, got:\n${describeMessages(messages)}`
          )
        })
      }
      for (const c of layer.allowed) {
        const { code } = render(c, fixture)
        test(`${fixture} may: ${code.split('\n')[0]}`, async () => {
          const messages = await lint(code, fixture)
          const hits = messages.filter((m) => LAYER_RULES.includes(m.ruleId ?? ''))
          assert.deepEqual(hits, [], describeMessages(hits))
        })
      }
      test(`${fixture} may not use import() or import types, which the import rule cannot see`, async () => {
        const dynamic = await lint(`export const m = await import('node:os')`, fixture)
        assert.ok(
          dynamic.some((m) => m.ruleId === 'no-restricted-syntax' && m.severity === 2),
          describeMessages(dynamic)
        )
        const importType = await lint(`export type T = import('node:os').CpuInfo`, fixture)
        assert.ok(
          importType.some((m) => m.ruleId === 'no-restricted-syntax' && m.severity === 2),
          describeMessages(importType)
        )
      })
    }
  })
}

describe('the real tree', () => {
  const srcFiles = (readdirSync(path.join(root, 'src'), { recursive: true }) as string[])
    .filter((f) => /\.[cm]?tsx?$/.test(f))
    .map((f) => path.join(root, 'src', f))
    .sort()

  test('every file under src/ gets the layer rules', async () => {
    assert.ok(srcFiles.length >= 10, `found ${srcFiles.length} files under src/`)
    for (const file of srcFiles) {
      const config = (await eslint.calculateConfigForFile(file)) as
        { rules?: Record<string, [unknown, { patterns?: unknown[] }?]> } | undefined
      const rule = config?.rules?.['no-restricted-imports']
      assert.ok(rule, `${file}: no-restricted-imports is set`)
      assert.ok([2, 'error'].includes(rule[0] as number | string), `${file}: at error level`)
      assert.ok((rule[1]?.patterns?.length ?? 0) > 0, `${file}: has patterns`)
    }
  })

  test('src/ lints clean of no-restricted-imports and no-restricted-syntax', async () => {
    const results = await eslint.lintFiles(srcFiles)
    assert.deepEqual(results.map((r) => r.filePath).sort(), srcFiles, 'every file was linted once')
    const violations = results.flatMap((r) =>
      r.messages
        .filter((m) => m.fatal || LAYER_RULES.includes(m.ruleId ?? ''))
        .map((m) => `${path.relative(root, r.filePath)}:${m.line}:${m.column} ${m.message}`)
    )
    assert.deepEqual(violations, [])
  })
})
