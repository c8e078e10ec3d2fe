#!/usr/bin/env node
// Compiles src/, test/ and bench/ (the parity suite reads its records) to plain ES modules in
// .cache/js/ for the lab VM, where loading tsx costs 12-29 s per test file under emulation
// (measured: a one-line test file took 17.7 s with `node --import tsx --test`, `node -e 0`
// 3.4 s). CI runs about 25 files there.
//
// Each file is transformed alone with tsx's own esbuild and tsx's options (minified whitespace,
// kept names), so a function's toString() is what tsx gives: the parity suite fingerprints
// scenarios by it and checks them against the recorded built-in tables. Relative `.ts`
// specifiers become `.js`; nothing else changes. Files find the repository by walking up to
// package.json (test/helpers/repo-root.ts), so their paths are the same from .cache/js.
// The runtime dependencies (execa, valibot, hono) are each bundled into one file in vendor/ and
// imported from there: resolving execa's tree of modules took ~10 s per test file in the VM.
//
//   node scripts/compile-tests.mjs [OUT_DIR]     (default .cache/js)
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const repo = join(dirname(fileURLToPath(import.meta.url)), '..')
const out = join(repo, process.argv[2] ?? '.cache/js')
// The esbuild tsx itself resolves, so the output matches what `node --import tsx` runs.
const tsxRequire = createRequire(createRequire(import.meta.url).resolve('tsx/package.json'))
const esbuild = tsxRequire('esbuild')

function* filesEndingIn(dir, suffix) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) yield* filesEndingIn(path, suffix)
    else if (entry.name.endsWith(suffix)) yield path
  }
}

// `from"./x.js"` after the rewrite, `import("../y.js")`.
const relativeJs = /(?:from|import\()(["'])(\.{1,2}\/[^"'\n]*?\.js)\1/g
// `from"./x.ts"`, `import("../y.ts")`: relative specifiers only.
const relativeTs = /(["'])(\.{1,2}\/[^"'\n]*?)\.ts\1/g
const VENDORED = ['execa', 'valibot', 'hono', 'hono/body-limit', '@hono/node-server']
const vendorFile = (name) => join(out, 'vendor', `${name.replaceAll('/', '__')}.js`)
const bareImport = /\bfrom(["'])([^"'.\n][^"'\n]*)\1/g

rmSync(out, { recursive: true, force: true })
for (const name of VENDORED) {
  esbuild.buildSync({
    stdin: { contents: `export * from '${name}'`, resolveDir: repo, loader: 'js' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: `node${process.versions.node}`,
    minifyWhitespace: true,
    // cross-spawn (through execa) is CommonJS and require()s node built-ins.
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    outfile: vendorFile(name),
    logLevel: 'warning',
  })
}
let count = 0
for (const top of ['src', 'test', 'bench']) {
  for (const file of filesEndingIn(join(repo, top), '.ts')) {
    if (file.endsWith('.d.ts')) continue
    const result = esbuild.transformSync(readFileSync(file, 'utf8'), {
      loader: 'ts',
      format: 'esm',
      target: `node${process.versions.node}`,
      minifyWhitespace: true,
      keepNames: true,
      sourcefile: file,
    })
    const target = join(out, relative(repo, file)).replace(/\.ts$/, '.js')
    const code = result.code
      .replace(relativeTs, (_m, quote, path) => `${quote}${path}.js${quote}`)
      .replace(bareImport, (match, quote, name) => {
        if (!VENDORED.includes(name)) return match
        const path = relative(dirname(target), vendorFile(name))
        return `from${quote}${path.startsWith('.') ? path : `./${path}`}${quote}`
      })
    mkdirSync(dirname(target), { recursive: true })
    writeFileSync(target, code)
    count++
  }
}
if (count === 0) throw new Error('compile-tests: no .ts file found under src/, test/ or bench/')
// Every relative import must name a compiled file: one outside the compiled folders would
// otherwise only fail in the VM, when its test file loads.
const missing = []
for (const file of filesEndingIn(out, '.js')) {
  for (const [, , path] of readFileSync(file, 'utf8').matchAll(relativeJs)) {
    const target = join(dirname(file), path)
    if (!existsSync(target)) missing.push(`${relative(out, file)} imports ${path}`)
  }
}
if (missing.length > 0) throw new Error(`compile-tests: imports of files not compiled:\n${missing.join('\n')}`)
console.log(`compile-tests: ${count} files -> ${relative(repo, out)}`)
