import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { REPO } from './repo-root.ts'

/**
 * The node options the bundle runs the plugin with: the entrypoint's words between the node
 * binary and the program (plugin/config.json, the one place they are written). Tests and benchmarks
 * that start `dist/main.js` themselves pass them too, so they measure the program as users run it.
 */
export function bundleNodeFlags(configFile = join(REPO, 'plugin', 'config.json')): string[] {
  const config = JSON.parse(readFileSync(configFile, 'utf8')) as { entrypoint?: unknown }
  const entrypoint = config.entrypoint
  if (!Array.isArray(entrypoint) || !entrypoint.every((word) => typeof word === 'string'))
    throw new Error(`${configFile}: entrypoint is not a list of strings`)
  const program = entrypoint.findIndex((word) => word.endsWith('/dist/main.js'))
  if (entrypoint[0] !== '/usr/bin/node' || program < 1)
    throw new Error(
      `${configFile}: entrypoint is not [/usr/bin/node, ...flags, .../dist/main.js, ...]`
    )
  return entrypoint.slice(1, program)
}
