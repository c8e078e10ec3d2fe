/**
 * Cuts protocol fixtures for the unit tier from a dockerd log of a lab run in which the plugin
 * logged at debug (LAB_PLUGIN_LOG_LEVEL=debug: every request Docker sent and the answer it got):
 *
 *   node --import tsx bench/protocol-fixtures.ts DOCKERD_LOG ENGINE
 *
 * writes test/fixtures/requests/docker-<ENGINE>.json: one example of each request shape (the path,
 * the body's key paths and its option keys, whether it was answered with an error), so that
 * test/unit/protocol-fixtures.test.ts catches a change of field shape between engines without a
 * VM. Refuses to write an empty file (a run without debug logging finds no request).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { REPO, writeJsonAtomic } from './lib/records.ts'

export interface RecordedRequest {
  path: string
  body: unknown
  answer: unknown
  status: number
}

const PREFIX = 'level=debug msg="request" '

/** The plugin's own line inside dockerd's (logrus: msg="<Go-quoted text>"). */
function pluginLine(line: string): string | undefined {
  const at = line.indexOf('msg="')
  if (at < 0) return undefined
  let end = at + 5
  while (end < line.length) {
    if (line[end] === '\\') end += 2
    else if (line[end] === '"') break
    else end++
  }
  try {
    return JSON.parse(line.slice(at + 4, end + 1)) as string
  } catch {
    return undefined
  }
}

export function requestsOf(log: string): RecordedRequest[] {
  const found: RecordedRequest[] = []
  for (const line of log.split('\n')) {
    const inner = pluginLine(line)
    if (!inner?.startsWith(PREFIX)) continue
    const fields = JSON.parse(inner.slice(PREFIX.length)) as Record<string, unknown>
    if (typeof fields['path'] !== 'string' || !('body' in fields)) continue
    found.push({
      path: fields['path'],
      body: fields['body'],
      answer: fields['answer'],
      status: Number(fields['status']),
    })
  }
  return found
}

/** Key paths of a JSON value; the keys of `Options` maps are kept (they carry Docker's labels). */
function keyPaths(value: unknown, prefix = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((item) => keyPaths(item, `${prefix}[]`))
  if (typeof value !== 'object' || value === null) return [`${prefix}:${typeof value}`]
  return Object.entries(value).flatMap(([key, inner]) => keyPaths(inner, `${prefix}.${key}`))
}

/** An answer carrying an error: `Err` (network driver) or `Error` (IPAM), non-empty. */
export const answeredWithError = (answer: unknown): boolean =>
  typeof answer === 'object' &&
  answer !== null &&
  (('Err' in answer && Boolean(answer.Err)) || ('Error' in answer && Boolean(answer.Error)))

export function shapeOf(request: RecordedRequest): string {
  const paths = [...new Set(keyPaths(request.body))].sort()
  return `${request.path} ${answeredWithError(request.answer) ? 'error' : 'ok'} ${paths.join(' ')}`
}

const isMain = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1])
if (isMain) {
  const [logFile, engine] = process.argv.slice(2)
  if (!logFile || !engine) {
    console.error('usage: node --import tsx bench/protocol-fixtures.ts DOCKERD_LOG ENGINE')
    process.exit(2)
  }
  const all = requestsOf(readFileSync(logFile, 'utf8'))
  const byShape = new Map<string, RecordedRequest>()
  for (const request of all)
    if (!byShape.has(shapeOf(request))) byShape.set(shapeOf(request), request)
  if (byShape.size === 0) {
    console.error(`no request lines in ${logFile}: was the plugin at LOG_LEVEL=debug?`)
    process.exit(1)
  }
  const file = join(REPO, 'test', 'fixtures', 'requests', `docker-${engine}.json`)
  writeJsonAtomic(file, {
    engine,
    recorded: new Date().toISOString(),
    command: `node --import tsx bench/protocol-fixtures.ts ${logFile} ${engine}`,
    requestsSeen: all.length,
    requests: [...byShape.values()],
  })
  console.log(`${byShape.size} request shapes of ${all.length} requests -> ${file}`)
}
