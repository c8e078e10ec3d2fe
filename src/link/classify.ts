import type { LinkErrorKind } from '../driver/ports/link-layer.ts'
import { LinkError } from '../driver/ports/link-layer.ts'
import type { IpResult } from './runner.ts'

/**
 * Maps how `ip` ended to a LinkError (iproute2 6.x wording, LC_ALL=C). The message keeps ip's own
 * words, and the error keeps the errno code, signal, exit code and the runner's error as its cause.
 */
export function classify(result: IpResult, command: string, timeoutMs: number): LinkError {
  const stderr = result.stderr.trim()
  const details = {
    code: result.code,
    signal: result.signal,
    exitCode: result.exitCode,
    cause: result.cause,
  }
  if (result.timedOut) {
    return new LinkError(
      'timeout',
      `"${command}" did not finish within ${timeoutMs} ms and was killed${result.signal === undefined ? '' : ` (${result.signal})`}`,
      command,
      details
    )
  }
  if (result.exitCode === undefined) {
    // Never started (no binary, not executable) or killed from outside: say how, in execa's words.
    const how = result.shortMessage?.split('\n')[0] ?? `"${command}" failed`
    const code = result.code !== undefined && !how.includes(result.code) ? ` (${result.code})` : ''
    const said = stderr === '' ? '' : `; ip said: ${oneLine(stderr)}`
    return new LinkError('failed', `${how}${code}${said}`, command, details)
  }
  const missing =
    /Cannot find device "([^"]+)"/.exec(stderr) ?? /Device "([^"]+)" does not exist/.exec(stderr)
  const text =
    stderr === '' ? `ip exited with code ${result.exitCode} and printed nothing` : oneLine(stderr)
  let kind: LinkErrorKind = 'failed'
  // "No such process" (ESRCH) is how the kernel answers a delete of a route that is not there.
  if (missing || /No such process/.test(stderr)) kind = 'not-found'
  else if (/File exists/.test(stderr)) kind = 'exists'
  else if (/Unknown device type|Operation not supported/.test(stderr)) kind = 'unsupported'
  else if (/Device or resource busy/.test(stderr)) kind = 'busy'
  return new LinkError(kind, text, command, { ...details, device: missing?.[1] })
}

const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, '; ')
