import { randomBytes } from 'node:crypto'
import { mkdir, open, readFile, readdir, rename, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import * as v from 'valibot'
import type { EndpointRecord, NetworkRecord } from '../driver/model.ts'
import type { Logger } from '../log.ts'
import { EndpointFile, NetworkFile } from './records.ts'
import type { Store, StoreSnapshot } from '../driver/ports/store.ts'

const ID = /^[0-9a-f]{64}$/

export interface StoreStats {
  writes: number
  bytesWritten: number
  deletes: number
}

/**
 * One small JSON file per network and per endpoint, so the cost of a write does not grow with the
 * number of endpoints. Writes go to a temporary file that is fsynced and renamed over the old one,
 * then the directory is fsynced: a crash leaves either the old or the new record, never a torn one.
 */
export class JsonFileStore implements Store {
  readonly stats: StoreStats = { writes: 0, bytesWritten: 0, deletes: 0 }
  private readonly dir: string
  private readonly log: Logger
  private sequence = 0

  constructor(dir: string, log: Logger) {
    this.dir = dir
    this.log = log
  }

  async load(): Promise<StoreSnapshot> {
    await mkdir(join(this.dir, 'networks'), { recursive: true, mode: 0o700 })
    await mkdir(join(this.dir, 'endpoints'), { recursive: true, mode: 0o700 })
    const instanceId = await this.instanceId()
    const networks = await this.readAll('networks', NetworkFile)
    const endpoints = await this.readAll('endpoints', EndpointFile)
    return {
      instanceId,
      networks: networks.map(({ version: _v, ...record }) => record),
      endpoints: endpoints.map(({ version: _v, ...record }) => record),
    }
  }

  saveNetwork(network: NetworkRecord): Promise<void> {
    return this.write('networks', network.id, { version: 1, ...network })
  }

  deleteNetwork(id: string): Promise<void> {
    return this.remove('networks', id)
  }

  saveEndpoint(endpoint: EndpointRecord): Promise<void> {
    return this.write('endpoints', endpoint.id, { version: 1, ...endpoint })
  }

  deleteEndpoint(id: string): Promise<void> {
    return this.remove('endpoints', id)
  }

  /** A random id per state directory; it marks the links this instance owns (see naming.ts). */
  private async instanceId(): Promise<string> {
    const file = join(this.dir, 'instance-id')
    try {
      const text = (await readFile(file, 'utf8')).trim()
      if (/^[0-9a-f]{8}$/.test(text)) return text
      this.log.warn('instance-id file is invalid; writing a new one', { file })
    } catch (error) {
      if (!isNotFound(error)) throw error
    }
    const id = randomBytes(4).toString('hex')
    await this.atomicWrite(this.dir, 'instance-id', id + '\n')
    return id
  }

  private async readAll<S extends typeof NetworkFile | typeof EndpointFile>(
    folder: string,
    schema: S
  ): Promise<v.InferOutput<S>[]> {
    const dir = join(this.dir, folder)
    const records: v.InferOutput<S>[] = []
    for (const entry of await readdir(dir)) {
      const path = join(dir, entry)
      if (entry.startsWith('.') && entry.endsWith('.tmp')) {
        // A write interrupted before its rename: the old record (if any) is still in place.
        await unlink(path).catch(() => {})
        continue
      }
      if (!entry.endsWith('.json')) continue
      try {
        const parsed = v.parse(schema, JSON.parse(await readFile(path, 'utf8')))
        if (parsed.id + '.json' !== entry)
          throw new Error(`file name does not match id ${parsed.id}`)
        records.push(parsed)
      } catch (error) {
        // Keep the plugin serving the other networks; keep the bad file for a human to look at.
        const aside = `${path}.corrupt-${Date.now()}`
        this.log.error('unreadable state file moved aside', {
          file: path,
          aside,
          error: String(error),
        })
        await rename(path, aside).catch(() => {})
      }
    }
    return records
  }

  private async write(folder: string, id: string, record: object): Promise<void> {
    assertId(id)
    await this.atomicWrite(join(this.dir, folder), `${id}.json`, JSON.stringify(record) + '\n')
  }

  private async remove(folder: string, id: string): Promise<void> {
    assertId(id)
    const dir = join(this.dir, folder)
    try {
      await unlink(join(dir, `${id}.json`))
    } catch (error) {
      if (isNotFound(error)) return
      throw error
    }
    this.stats.deletes++
    await syncDir(dir)
  }

  private async atomicWrite(dir: string, name: string, text: string): Promise<void> {
    const tmp = join(dir, `.${name}.${process.pid}.${this.sequence++}.tmp`)
    try {
      const handle = await open(tmp, 'w', 0o600)
      try {
        await writeFile(handle, text)
        await handle.sync()
      } finally {
        await handle.close()
      }
      await rename(tmp, join(dir, name))
    } catch (error) {
      await unlink(tmp).catch(() => {})
      throw error
    }
    this.stats.writes++
    this.stats.bytesWritten += Buffer.byteLength(text)
    await syncDir(dir)
  }
}

function assertId(id: string): void {
  // IDs become file names: anything but 64 hex characters could escape the directory.
  if (!ID.test(id)) throw new Error(`refusing to store a record with id ${JSON.stringify(id)}`)
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
}
