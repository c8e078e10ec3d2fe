#!/usr/bin/env bash
# Compile the plugin into ES modules in dist/: our code and its three runtime dependencies
# (hono + @hono/node-server, valibot, execa), so the plugin loads a few files instead of the
# module trees of 28 packages.
#
# Why: Docker gives a starting plugin ~12 s to accept a connection on its socket and disables it
# otherwise (moby plugin/manager_linux.go, pluginPostStart). Under the lab's emulation node took
# 5-7 s to resolve and load the module tree, one bundled file 2.5-5 s. So the entry, dist/main.js
# (2 KB, plus a small shared chunk), listens first and only then imports src/start.ts, which
# --splitting puts in its own chunk with hono, execa and the driver: 1.4-2.0 s to listen (README,
# "The bundle and its privileges").
# Type checking is `npm run typecheck` (tsc); esbuild only strips types.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rm -rf dist
# Identifiers are kept (whitespace and syntax minified only) so stack traces stay readable.
# cross-spawn, bundled through execa, is CommonJS: its require() of node built-ins needs a real
# require in an ES module, hence the banner. Chunk names carry a content hash (esbuild's default).
exec node_modules/.bin/esbuild src/main.ts \
  --bundle --platform=node --target=node20 --format=esm \
  --minify-whitespace --minify-syntax --legal-comments=eof \
  --banner:js="import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" \
  --splitting --outdir=dist --chunk-names='[name]-[hash]' --log-level=warning
