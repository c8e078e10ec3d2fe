/**
 * A tiny levelled logger. Inside a managed plugin dockerd copies stdout into its log at info level
 * and stderr at error level, so debug/info go to stdout and warn/error to stderr.
 */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export interface Logger {
  /** The lowest level written: lets a caller skip work (e.g. reading a body) for debug alone. */
  readonly level: LogLevel
  debug(message: string, fields?: Record<string, unknown>): void
  info(message: string, fields?: Record<string, unknown>): void
  warn(message: string, fields?: Record<string, unknown>): void
  error(message: string, fields?: Record<string, unknown>): void
}

export function createLogger(level: LogLevel, write = defaultWrite): Logger {
  const min = LOG_LEVELS.indexOf(level)
  const emit = (at: LogLevel, message: string, fields?: Record<string, unknown>): void => {
    if (LOG_LEVELS.indexOf(at) < min) return
    const suffix = fields && Object.keys(fields).length > 0 ? ' ' + JSON.stringify(fields) : ''
    write(at, `level=${at} msg=${JSON.stringify(message)}${suffix}\n`)
  }
  return {
    level,
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  }
}

function defaultWrite(level: LogLevel, line: string): void {
  if (level === 'warn' || level === 'error') process.stderr.write(line)
  else process.stdout.write(line)
}

export const silentLogger: Logger = createLogger('error', () => {})
