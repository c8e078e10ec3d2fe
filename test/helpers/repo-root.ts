import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The repository: the nearest directory above this module holding package.json. Walking up
 * (not a fixed `../..`) keeps paths right when the tests run compiled from .cache/js
 * (scripts/compile-tests.mjs, the lab VM).
 */
function findRepo(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir
    const parent = dirname(dir)
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`)
    dir = parent
  }
}

export const REPO = findRepo()
