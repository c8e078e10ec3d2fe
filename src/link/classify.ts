import type { LinkErrorKind } from '../driver/ports/link-layer.ts'
import { LinkError } from '../driver/ports/link-layer.ts'
import type { IpResult } from './runner.ts'

/** Maps what `ip` printed to a LinkError kind (iproute2 6.x wording, LC_ALL=C). */
export function classify(result: IpResult, command: string, timeoutMs: number): LinkError {
  if (result.timedOut) {
    return new LinkError(
      'timeout',
      `"${command}" did not finish within ${timeoutMs} ms and was killed`,
      command
    )
  }
  const stderr = result.stderr.trim()
  const missing =
    /Cannot find device "([^"]+)"/.exec(stderr) ?? /Device "([^"]+)" does not exist/.exec(stderr)
  const text = stderr === '' ? `exit code ${result.exitCode}` : stderr.replace(/\s*\n\s*/g, '; ')
  let kind: LinkErrorKind = 'failed'
  if (missing) kind = 'not-found'
  else if (/File exists/.test(stderr)) kind = 'exists'
  else if (/Unknown device type|Operation not supported/.test(stderr)) kind = 'unsupported'
  else if (/Device or resource busy/.test(stderr)) kind = 'busy'
  return new LinkError(kind, text, command, missing?.[1])
}
