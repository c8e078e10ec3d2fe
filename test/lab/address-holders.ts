import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { docker, run } from './docker.ts'

/** A network namespace holding addresses that start with a prefix. */
export interface AddressHolder {
  inode: number
  /** Docker's bind mount of it (a live sandbox) if there is one, else a process's /proc path. */
  path: string
  /** Docker still mounts it under /run/docker*\/netns: the sandbox of a container it knows. */
  mounted: boolean
  pids: number[]
  /** `ip -o -4 addr` lines with the prefix. */
  addresses: string[]
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim()
  } catch {
    return '(exited)'
  }
}

function parentOf(pid: number): number | undefined {
  try {
    // The command in field 2 may hold spaces: the parent's pid is the 2nd field after its ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
  } catch {
    return undefined
  }
}

/**
 * Every network namespace the kernel has (Docker's bind mounts under /run/docker*\/netns and every
 * process's) that holds an address starting with `prefix`, and how many namespaces were looked at
 * (0 would mean the listing itself failed).
 */
export async function findAddressHolders(
  prefix: string
): Promise<{ looked: number; holders: AddressHolder[] }> {
  const namespaces = new Map<number, { path: string; mounted: boolean; pids: number[] }>()
  // A namespace is its nsfs inode; a process gone meanwhile is skipped.
  const note = (path: string, pid?: number): void => {
    const inode = statSync(path, { throwIfNoEntry: false })?.ino
    if (inode === undefined) return
    const entry = namespaces.get(inode) ?? { path, mounted: pid === undefined, pids: [] }
    if (pid !== undefined) entry.pids.push(pid)
    namespaces.set(inode, entry)
  }
  for (const root of readdirSync('/run').filter((name) => /^docker(-[\d.]+)?$/.test(name))) {
    const dir = join('/run', root, 'netns')
    if (!existsSync(dir)) continue
    for (const ns of readdirSync(dir)) note(join(dir, ns))
  }
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      note(`/proc/${pid}/ns/net`, Number(pid))
    } catch {
      // exited between the listing and the stat
    }
  }
  const holders: AddressHolder[] = []
  for (const [inode, { path, mounted, pids }] of namespaces) {
    const shown = await run('nsenter', [`--net=${path}`, 'ip', '-o', '-4', 'addr'])
    const addresses = shown.stdout.split('\n').filter((line) => line.includes(` ${prefix}`))
    if (addresses.length > 0) holders.push({ inode, path, mounted, pids, addresses })
  }
  return { looked: namespaces.size, holders }
}

/**
 * Docker's stranded tasks among `holders`: namespaces Docker no longer mounts (so no sandbox of
 * it), held by a container task's process (a child of a containerd shim: `runc init`, or the
 * container's own process), never the host's. A dockerd killed between setting a container's
 * network up in its created task and saving it as running leaves such a task alive with the
 * address, which it has already released (README, Reliability, "Known issue, Docker's").
 */
export function strandedTasks(holders: readonly AddressHolder[]): AddressHolder[] {
  const own = statSync('/proc/self/ns/net').ino
  return holders.filter(
    (holder) =>
      !holder.mounted &&
      holder.inode !== own &&
      holder.pids.length > 0 &&
      holder.pids.every((pid) => {
        const parent = parentOf(pid)
        return parent !== undefined && commandOf(parent).includes('containerd-shim')
      })
  )
}

/**
 * Every holder of an address that starts with `prefix`, for when a new container's address is
 * "already in use" (the crash test after dockerd's SIGKILL), with the processes in each and
 * Docker's view of `network`'s containers.
 */
export async function addressHolders(prefix: string, network: string): Promise<string> {
  const { looked, holders } = await findAddressHolders(prefix)
  const lines = holders.map((holder) => {
    const commands = holder.pids.slice(0, 5).map((pid) => `${pid} ${commandOf(pid)}`)
    return (
      `netns ${holder.inode} (${holder.path}; processes: ${commands.join(' | ') || 'none'}): ` +
      holder.addresses.join('; ')
    )
  })
  const containers = await docker(
    'ps',
    '-a',
    '--filter',
    `network=${network}`,
    '--format',
    '{{.Names}} {{.State}} {{.Status}}'
  )
  return [
    `${looked} network namespaces looked at; those holding ${prefix}x:`,
    ...(lines.length > 0 ? lines : ['none']),
    `containers on ${network}:\n${containers.output}`,
  ].join('\n')
}

/**
 * The operator's remedy for Docker's stranded tasks holding addresses of `prefix`: SIGKILL their
 * processes (the namespace, its ipvlan link and the address go with the last of them). Returns
 * what it ended, one line per namespace, empty if there was none.
 */
export async function endStrandedTasks(prefix: string): Promise<string[]> {
  const stranded = strandedTasks((await findAddressHolders(prefix)).holders)
  const ended = stranded.map((holder) => {
    const processes = holder.pids.map((pid) => `${pid} ${commandOf(pid)}`).join(' | ')
    const addresses = holder.addresses.map(
      (line) => line.split(/\s+/).find((word) => word.includes('/')) ?? line
    )
    return `${processes}: ${addresses.join(', ')}`
  })
  for (const pid of stranded.flatMap((holder) => holder.pids)) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
  return ended
}
