import type { Context } from 'hono'
import type { IncomingMessage } from 'node:http'

/**
 * Bodies the unix-socket server read straight from node's request, by request. Reading them
 * through Hono instead builds a web Request, its Headers, an AbortController and a web stream over
 * the socket for every call: a per-request cost (a few ms under the lab's emulated CPU, seven
 * requests per container) that the built-in driver, called in-process, does not pay.
 */
const bodies = new WeakMap<IncomingMessage, string>()

export function rememberBody(incoming: IncomingMessage, text: string): void {
  bodies.set(incoming, text)
}

/** The body the server already read, or undefined when the app is called another way (tests). */
export function rememberedBody(c: Context): string | undefined {
  const env = c.env as { incoming?: IncomingMessage } | undefined
  return env?.incoming === undefined ? undefined : bodies.get(env.incoming)
}

/** The request's body as text, without building a web Request when the server read it already. */
export function bodyText(c: Context): Promise<string> {
  const remembered = rememberedBody(c)
  return remembered === undefined ? c.req.text() : Promise.resolve(remembered)
}
