#!/usr/bin/env bash
# Compile the plugin into one ES module, dist/main.js: our code and its three runtime dependencies
# (hono + @hono/node-server, valibot, execa), so the plugin loads one file instead of the module
# trees of 28 packages.
#
# Why one file: Docker gives a starting plugin ~12 s to listen on its socket and disables it
# otherwise (moby plugin/manager_linux.go, pluginPostStart). Under the lab's emulation node took
# 5-7 s to resolve and load the module tree; the bundle listens in 2.5-5.1 s (README, "The bundle
# and its privileges").
# Type checking is `npm run typecheck` (tsc); esbuild only strips types.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rm -rf dist
# Identifiers are kept (whitespace and syntax minified only) so stack traces stay readable.
# cross-spawn, bundled through execa, is CommonJS: its require() of node built-ins needs a real
# require in an ES module, hence the banner.
exec node_modules/.bin/esbuild src/main.ts \
  --bundle --platform=node --target=node20 --format=esm \
  --minify-whitespace --minify-syntax --legal-comments=eof \
  --banner:js="import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" \
  --outfile=dist/main.js --log-level=warning
