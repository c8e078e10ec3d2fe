import { execFile } from 'node:child_process'
import { chown, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { REPO } from './repo-root.ts'

/**
 * Permission tests (chmod 0500, 0000) prove nothing as root: CAP_DAC_OVERRIDE ignores the mode
 * bits. `make test` runs as root, so there the operation runs in a child process as
 * nobody:nogroup (Debian's 65534) instead of being skipped.
 */
export const UNPRIVILEGED = { uid: 65534, gid: 65534 } as const

export const isRoot = (): boolean => process.getuid?.() === 0

// The child's program: settle() in plain JavaScript, reporting the uid it really ran as.
const CHILD = `
const [body, args, repo] = [process.argv[1], JSON.parse(process.argv[2]), process.argv[3]]
const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor
let report
try {
  report = { ok: true, value: await new AsyncFunction('args', 'repo', body)(args, repo) }
} catch (error) {
  report = { ok: false, message: String(error?.message), code: error?.code, causeCode: error?.cause?.code }
}
process.stdout.write(JSON.stringify({ uid: process.getuid(), report }))
`

/** What an operation returned, or the error it threw (plus its `cause`'s errno code). */
export type Outcome =
  | { ok: true; value: unknown }
  | { ok: false; message: string; code?: string | undefined; causeCode?: string | undefined }

/** Gives `dir` and everything under it to the unprivileged user, when running as root. */
export async function giveToUnprivileged(dir: string): Promise<void> {
  if (!isRoot()) return
  const { uid, gid } = UNPRIVILEGED
  await chown(dir, uid, gid)
  for (const entry of await readdir(dir, { recursive: true })) {
    await chown(join(dir, entry), uid, gid)
  }
}

/**
 * Runs `body`, the body of an async JavaScript function of `args` (JSON) and `repo` (this
 * repository's path), without privileges: as root in a child Node process as nobody:nogroup, else
 * in this process. tsx is loaded either way, so `await import(repo + '/src/...ts')` works. Files
 * the body uses must be reachable by that user (see giveToUnprivileged). Rejects when the child
 * cannot be started as that user: such a test fails, it never passes by not running.
 */
export async function runUnprivileged(body: string, args: unknown = {}): Promise<Outcome> {
  if (!isRoot()) return settle(body, args, REPO)
  const { uid, gid } = UNPRIVILEGED
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', CHILD, body, JSON.stringify(args), REPO],
      { cwd: REPO, uid, gid, timeout: 120_000 },
      (error, out, err) => {
        if (error) reject(new Error(`cannot run as uid ${uid}: ${error.message}\n${err}`))
        else resolve(out)
      }
    )
  })
  const result = JSON.parse(stdout) as { uid: number; report: Outcome }
  if (result.uid !== uid) throw new Error(`the child ran as uid ${result.uid}, not ${uid}`)
  return result.report
}

async function settle(body: string, args: unknown, repo: string): Promise<Outcome> {
  const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (
    ...params: string[]
  ) => (args: unknown, repo: string) => Promise<unknown>
  try {
    return { ok: true, value: await new AsyncFunction('args', 'repo', body)(args, repo) }
  } catch (error) {
    const { message, code, cause } = error as Error & { code?: string; cause?: { code?: string } }
    return { ok: false, message: String(message), code, causeCode: cause?.code }
  }
}
