/**
 * The one error type that crosses layers. `kind` decides the HTTP status; `message` is what the
 * operator reads in `docker` output, so it must name the option or field and what was expected.
 */
export type ErrorKind =
  'invalid-parameter' | 'not-found' | 'conflict' | 'unsupported' | 'unavailable' | 'internal'

export class DriverError extends Error {
  readonly kind: ErrorKind

  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'DriverError'
    this.kind = kind
  }
}

export const invalid = (message: string): DriverError =>
  new DriverError('invalid-parameter', message)

/** The message of anything thrown, for logs and wrapped errors. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** Keeps error messages readable when fed hostile input: control characters escaped, length cut. */
export function printable(text: string, max = 64): string {
  const cut = text.length > max ? `${text.slice(0, max)}...` : text
  return JSON.stringify(cut).slice(1, -1)
}

/**
 * The chain of causes below an error, for the log: each level's message and whatever says how a
 * process ended (errno code, signal, exit code, command), so nothing an operator needs is lost.
 */
export function causesOf(error: unknown): Record<string, unknown>[] {
  const chain: Record<string, unknown>[] = []
  let next = error instanceof Error ? error.cause : undefined
  while (next !== undefined && chain.length < 5) {
    const level: Record<string, unknown> = { message: messageOf(next) }
    for (const key of [
      'name',
      'code',
      'signal',
      'exitCode',
      'command',
      'errno',
      'syscall',
      'path',
    ]) {
      const value = (next as Record<string, unknown>)[key]
      if (value !== undefined && value !== null && typeof value !== 'object') level[key] = value
    }
    chain.push(level)
    next = next instanceof Error ? next.cause : undefined
  }
  return chain
}
