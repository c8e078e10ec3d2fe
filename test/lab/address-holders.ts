import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { docker, run } from './docker.ts'

/**
 * Every holder of an address that starts with `prefix`, for when a new container's address is
 * "already in use" (the crash test after dockerd's SIGKILL: seen 3 times, not yet understood; see
 * bench/HISTORY.md "Bursts, 2026-12-05"): each network namespace the kernel has (Docker's bind
 * mounts under /run/docker*\/netns and every process's), with the processes in it, plus Docker's
 * view of `network`'s containers. A listing that found no namespace at all says so.
 */
export async function addressHolders(prefix: string, network: string): Promise<string> {
  const namespaces = new Map<string, { path: string; pids: string[] }>()
  // A namespace is its nsfs inode; a process gone meanwhile is skipped.
  const note = (path: string, pid?: string): void => {
    const inode = statSync(path, { throwIfNoEntry: false })?.ino
    if (inode === undefined) return
    const entry = namespaces.get(String(inode)) ?? { path, pids: [] }
    if (pid) entry.pids.push(pid)
    namespaces.set(String(inode), entry)
  }
  for (const root of readdirSync('/run').filter((name) => /^docker(-[\d.]+)?$/.test(name))) {
    const dir = join('/run', root, 'netns')
    if (!existsSync(dir)) continue
    for (const ns of readdirSync(dir)) note(join(dir, ns))
  }
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      note(`/proc/${pid}/ns/net`, pid)
    } catch {
      // exited between the listing and the stat
    }
  }
  const lines: string[] = []
  for (const [inode, { path, pids }] of namespaces) {
    const shown = await run('nsenter', [`--net=${path}`, 'ip', '-o', '-4', 'addr'])
    const held = shown.stdout.split('\n').filter((line) => line.includes(` ${prefix}`))
    if (held.length === 0) continue
    const commands = pids.slice(0, 5).map((pid) => {
      let cmd = '(exited)'
      try {
        cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim()
      } catch {
        // exited meanwhile
      }
      return `${pid} ${cmd}`
    })
    lines.push(
      `netns ${inode} (${path}; processes: ${commands.join(' | ') || 'none'}): ${held.join('; ')}`
    )
  }
  const containers = await docker(
    'ps',
    '-a',
    '--filter',
    `network=${network}`,
    '--format',
    '{{.Names}} {{.State}} {{.Status}}'
  )
  return [
    `${namespaces.size} network namespaces looked at; those holding ${prefix}x:`,
    ...(lines.length > 0 ? lines : ['none']),
    `containers on ${network}:\n${containers.output}`,
  ].join('\n')
}
