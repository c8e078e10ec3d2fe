// Per-request server-side times from a dockerd log with the plugin at LOG_LEVEL=debug (its
// "request" lines carry path and ms), for bench/burst-requests.sh:
//   node bench/request-times.mjs DOCKERD_LOG_EXCERPT
// Fails when the excerpt holds no request line, so an empty table never passes for a result.
import { readFileSync } from 'node:fs'

const file = process.argv[2]
if (!file) {
  console.error('usage: node bench/request-times.mjs LOG')
  process.exit(2)
}
// dockerd quotes the plugin's JSON line: "path":"..." appears as \"path\":\"...\".
const REQUEST = /time="([^"]+)".*?\\"path\\":\\"([^\\]+)\\",\\"status\\":(\d+),\\"ms\\":([\d.]+)/
/** @type {Map<string, { ms: number[], first: string, last: string }>} */
const byPath = new Map()
for (const line of readFileSync(file, 'utf8').split('\n')) {
  const match = REQUEST.exec(line)
  if (!match) continue
  const [, time = '', path = '', , ms = '0'] = match
  const entry = byPath.get(path) ?? { ms: [], first: time, last: time }
  entry.ms.push(Number(ms))
  entry.last = time
  byPath.set(path, entry)
}
if (byPath.size === 0) {
  console.error(`request-times: no plugin request line in ${file} (was LOG_LEVEL=debug set?)`)
  process.exit(1)
}
for (const [path, { ms, first, last }] of [...byPath].sort()) {
  const sorted = [...ms].sort((a, b) => a - b)
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0
  const mean = ms.reduce((sum, value) => sum + value, 0) / ms.length
  console.log(
    `${path.padEnd(45)} n=${ms.length} median=${median.toFixed(0)} ms mean=${mean.toFixed(0)} ms max=${Math.max(...ms).toFixed(0)} ms, first ${first}, last ${last}`
  )
}
