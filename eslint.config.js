// Lint rules, including the layer boundaries: which folders may import which modules.
import tseslint from 'typescript-eslint'

// ---------------------------------------------------------------------------------------------
// Layers. In flat config a later block that sets `no-restricted-imports` REPLACES the setting of
// an earlier one, so every file under src/ must be matched by exactly one layer block, and that
// block must carry every ban that applies to it. LAYERS below is that table: the blocks are built
// from it, the catch-all `src/**` block ignores every other layer's files, and
// test/unit/layers.test.ts lints a forbidden and an allowed import for each row.
//
// Relative bans are gitignore-style patterns on the import string, so `**/link/**` matches
// `../link/iproute2.ts` from src/driver and `../../link/iproute2.ts` from src/driver/ports.
// ---------------------------------------------------------------------------------------------

// Node built-ins the driver core and the shared leaves may import: computation only, no I/O.
// node:net is allowed only for its pure helpers (see PURE_NET_NAMES).
const PURE_NODE_BUILTINS = ['assert', 'assert/strict', 'buffer', 'net', 'url', 'util']
const PURE_NET_NAMES = ['BlockList', 'SocketAddress', 'isIP', 'isIPv4', 'isIPv6']

/** Each ban is `{ patterns: [...], paths?: [...] }`; a layer's rule is the union of its bans. */
const BAN = {
  processes: {
    patterns: [
      {
        group: ['execa', 'node:child_process', 'child_process'],
        message: 'only src/link runs processes',
      },
    ],
  },
  files: {
    patterns: [
      {
        group: ['node:fs', 'node:fs/*', 'fs', 'fs/*'],
        message: 'only src/store and src/server.ts touch files',
      },
    ],
  },
  hono: {
    patterns: [
      {
        group: ['hono', 'hono/*', '@hono/*'],
        message: 'hono belongs to src/http and src/server.ts',
      },
    ],
  },
  valibot: {
    patterns: [
      {
        group: ['valibot', 'valibot/*'],
        message: 'valibot validates at the edges: src/http, src/store, src/config.ts',
      },
    ],
  },
  // Plain TypeScript: relative imports and pure node: built-ins only. Subsumes processes, files,
  // hono and valibot (and fast-check, @hono/*, bare `fs`, anything new in package.json).
  pure: {
    patterns: [
      {
        regex: '^(?!\\.{1,2}/|node:)',
        message:
          'the driver core and the shared leaves import no packages: relative paths and pure node: built-ins only',
      },
      {
        regex: `^node:(?!(?:${PURE_NODE_BUILTINS.join('|')})$)`,
        message: `the driver core and the shared leaves do no I/O: node: built-ins allowed: ${PURE_NODE_BUILTINS.join(', ')}`,
      },
    ],
    paths: [
      {
        name: 'node:net',
        allowImportNames: PURE_NET_NAMES,
        message: 'the driver core and the shared leaves do no I/O: no sockets',
      },
    ],
  },
  driverDir: {
    patterns: [
      {
        group: ['**/driver/**'],
        message: 'the shared leaves (errors, log, ifname) import no layer',
      },
    ],
  },
  httpDir: {
    patterns: [
      {
        group: ['**/http/**'],
        message: 'src/http is the outer edge: only src/main.ts imports it',
      },
    ],
  },
  linkDir: {
    patterns: [
      {
        group: ['**/link/**'],
        message:
          'src/link is an adapter: the core sees it through driver/ports; only src/main.ts imports it',
      },
    ],
  },
  storeDir: {
    patterns: [
      {
        group: ['**/store/**'],
        message:
          'src/store is an adapter: the core sees it through driver/ports; only src/main.ts imports it',
      },
    ],
  },
  main: {
    patterns: [
      { group: ['**/main.ts'], message: 'src/main.ts is the composition root: nothing imports it' },
    ],
  },
  server: {
    patterns: [{ group: ['**/server.ts'], message: 'src/server.ts is wired by src/main.ts only' }],
  },
  config: {
    patterns: [{ group: ['**/config.ts'], message: 'src/config.ts is read by src/main.ts only' }],
  },
}

// The layer table. `files` must not overlap (the catch-all `rest` ignores all the others).
const LAYERS = [
  {
    name: 'driver',
    files: ['src/driver/**'],
    bans: ['pure', 'httpDir', 'linkDir', 'storeDir', 'main', 'server', 'config'],
  },
  {
    name: 'http',
    files: ['src/http/**'],
    bans: ['processes', 'files', 'linkDir', 'storeDir', 'main'],
  },
  {
    name: 'link',
    files: ['src/link/**'],
    bans: ['files', 'hono', 'valibot', 'httpDir', 'storeDir', 'main'],
  },
  {
    name: 'store',
    files: ['src/store/**'],
    bans: ['processes', 'hono', 'httpDir', 'linkDir', 'main'],
  },
  {
    name: 'leaves',
    files: ['src/errors.ts', 'src/log.ts', 'src/ifname.ts'],
    bans: ['pure', 'driverDir', 'httpDir', 'linkDir', 'storeDir', 'main', 'server', 'config'],
  },
  { name: 'server', files: ['src/server.ts'], bans: ['processes', 'main'] },
  { name: 'main', files: ['src/main.ts'], bans: ['processes', 'files'] },
  { name: 'rest', files: ['src/**'], bans: ['processes', 'files', 'main'] },
]

const layerBlocks = LAYERS.map((layer) => {
  const bans = layer.bans.map((b) => {
    if (!BAN[b]) throw new Error(`eslint.config.js: layer ${layer.name} names unknown ban ${b}`)
    return BAN[b]
  })
  const others = LAYERS.filter((l) => l !== layer && l.name !== 'rest').flatMap((l) => l.files)
  return {
    name: `layers/${layer.name}`,
    files: layer.files,
    ...(layer.name === 'rest' ? { ignores: others } : {}),
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: bans.flatMap((b) => b.paths ?? []),
          patterns: bans.flatMap((b) => b.patterns),
        },
      ],
    },
  }
})

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'plugin/rootfs/**', '.cache/**'] },
  ...tseslint.configs.strict,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: false } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      eqeqeq: 'error',
      'no-console': 'off',
    },
  },
  ...layerBlocks,
  // no-restricted-imports sees static imports and re-exports only: keep src/ to those.
  {
    name: 'layers/static-imports-only',
    files: ['src/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: 'ImportExpression',
          message: 'use a static import, so the layer rules (no-restricted-imports) see it',
        },
        {
          selector: 'TSImportType',
          message: 'use `import type`, so the layer rules (no-restricted-imports) see it',
        },
      ],
    },
  }
)
