/**
 * Interface-name rules, checked before any name reaches `ip`. The kernel allows almost any byte
 * except '/', ':' and whitespace (dev_valid_name); we allow a stricter, shell- and flag-safe set:
 * ASCII letters, digits, '_', '.', '-', 1 to 15 bytes (IFNAMSIZ - 1), never a leading '-' (would
 * read as an `ip` option) or '.' (rules out "." and "..").
 */
const IFNAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/

export const IFNAME_RULE = '1-15 characters from A-Z a-z 0-9 _ . -, not starting with "-" or "."'

/** Returns why `name` is not an acceptable interface name, or undefined when it is. */
export function ifnameProblem(name: string): string | undefined {
  if (name.length === 0) return 'is empty'
  if (Buffer.byteLength(name) > 15) return `is ${Buffer.byteLength(name)} bytes long (at most 15)`
  if (name.startsWith('-')) return 'starts with "-"'
  if (!IFNAME.test(name)) return `must be ${IFNAME_RULE}`
  return undefined
}

export const isValidIfname = (name: string): boolean => ifnameProblem(name) === undefined
