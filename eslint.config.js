// Lint rules, including the layer boundaries: which folders may import which packages.
import tseslint from 'typescript-eslint'

const restrict = (patterns) => ({ 'no-restricted-imports': ['error', { patterns }] })

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
  // The driver core: plain TypeScript, no third-party packages, no I/O.
  {
    files: ['src/driver/**/*.ts'],
    rules: restrict([
      {
        group: ['hono', 'hono/*', '@hono/*', 'execa', 'valibot'],
        message: 'the driver core imports no third-party packages',
      },
      {
        group: ['node:fs', 'node:fs/*', 'node:child_process', 'node:http', 'fs', 'child_process'],
        message: 'the driver core does no I/O',
      },
      {
        group: [
          '../http/*',
          '../store/json-file-store.ts',
          '../link/iproute2.ts',
          '../link/runner.ts',
        ],
        message: 'the driver depends on interfaces only',
      },
    ]),
  },
  // Only the link layer runs processes.
  {
    files: ['src/**/*.ts'],
    ignores: ['src/link/**'],
    rules: restrict([
      {
        group: ['execa', 'node:child_process', 'child_process'],
        message: 'only src/link runs processes',
      },
      {
        group: ['node:fs', 'node:fs/*', 'fs'],
        message: 'only src/store and src/server.ts touch files',
      },
    ]),
  },
  {
    files: ['src/store/**/*.ts'],
    rules: restrict([
      {
        group: ['execa', 'node:child_process', 'child_process'],
        message: 'only src/link runs processes',
      },
      { group: ['hono', '@hono/*'], message: 'hono belongs to src/http and src/server.ts' },
    ]),
  },
  {
    files: ['src/server.ts'],
    rules: restrict([
      {
        group: ['execa', 'node:child_process', 'child_process'],
        message: 'only src/link runs processes',
      },
    ]),
  },
  {
    files: ['src/link/**/*.ts'],
    rules: restrict([
      {
        group: ['node:fs', 'node:fs/*', 'fs'],
        message: 'only src/store and src/server.ts touch files',
      },
      { group: ['hono', '@hono/*', 'valibot'], message: 'the link layer only runs ip' },
    ]),
  }
)
