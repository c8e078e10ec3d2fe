import * as v from 'valibot'
import type { HostBeat } from '../driver/ports/ipam-store.ts'
import { decodeVersioned } from './ipam-records.ts'

/**
 * The value of one host's heartbeat key (`<prefix>hosts/<host>`), versioned like the allocation
 * values: a newer plugin's beat is not judged.
 */
export const BEAT_VALUE_VERSION = 1

/** Host names become key segments: HOST_ID's own alphabet (config.ts), so never a "/". */
export const BEAT_HOST = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,252}$/

const Ms = v.pipe(v.number(), v.safeInteger(), v.minValue(0))

const BeatValue = v.object({
  version: v.literal(BEAT_VALUE_VERSION),
  host: v.pipe(v.string(), v.regex(BEAT_HOST)),
  instance: v.string(),
  at: Ms,
  everyMs: v.pipe(Ms, v.minValue(1)),
})

export function encodeBeat(beat: HostBeat): string {
  const { host, instance, at, everyMs } = beat
  return JSON.stringify({ version: BEAT_VALUE_VERSION, host, instance, at, everyMs })
}

/** The beat, or why it cannot be used (a newer version counts as unusable here). */
export function decodeBeat(text: string): { beat: HostBeat } | { reason: string } {
  const decoded = decodeVersioned(text, BEAT_VALUE_VERSION, BeatValue)
  if ('newer' in decoded) return { reason: `written by a newer plugin (version ${decoded.newer})` }
  if ('reason' in decoded) return decoded
  const { host, instance, at, everyMs } = decoded.value
  return { beat: { host, instance, at, everyMs } }
}
