import type { Context } from 'hono'
import * as v from 'valibot'
import { invalid, printable } from '../errors.ts'
import { bodyText } from './raw-body.ts'

type AnySchema = v.GenericSchema<unknown, unknown>

/**
 * Reads and validates a request body. Docker sends no Content-Type and, for GetCapabilities and
 * Plugin.Activate, no body at all, so the text is read and parsed here rather than by a JSON
 * middleware that would insist on the header.
 */
export async function readBody<S extends AnySchema>(
  c: Context,
  method: string,
  schema: S
): Promise<v.InferOutput<S>> {
  const text = await bodyText(c)
  let json: unknown = {}
  if (text.trim() !== '') {
    try {
      json = JSON.parse(text)
    } catch (error) {
      throw invalid(
        `${method}: the request body is not valid JSON (${printable((error as Error).message)})`
      )
    }
  }
  const result = v.safeParse(schema, json)
  if (result.success) return result.output
  const issue = result.issues[0]
  const path = v.getDotPath(issue)
  const where = path === null || path === '' ? 'request body' : path
  // valibot quotes the value it received: escape it, it is the caller's input.
  throw invalid(`${method}: ${printable(where, 120)}: ${printable(issue.message, 200)}`)
}
