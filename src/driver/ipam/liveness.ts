import { DriverError, messageOf, printable } from '../../errors.ts'
import type { Logger } from '../../log.ts'
import type { IpamStore, StoredBeat } from '../ports/ipam-store.ts'

export interface LivenessOptions {
  store: IpamStore
  host: string
  /** Random per process (main.ts): tells this process's beats from another's with the same host. */
  instance: string
  everyMs: number
  log: Logger
  /** Wall clock, ms since the epoch: written into the beat for other hosts to judge its age. */
  now: () => number
}

export type LivenessState = 'unverified' | 'verified' | 'duplicate'

/**
 * This host's heartbeat, and the check that no other live process uses the same HOST_ID (two
 * would release each other's addresses). main.ts calls `beat()` every `everyMs`; nothing waits
 * on it, so activation and the network driver never wait on the store.
 *
 * A beat left by another instance is this host's previous process, or a live duplicate: it is
 * taken over only after it stayed unchanged for two of its writer's intervals; if it moves
 * meanwhile, or any later compare-and-set of our own beat finds another instance's, HOST_ID is
 * shared and the IPAM refuses requests until the plugin is restarted with a unique HOST_ID.
 */
export class HostLiveness {
  private readonly opts: LivenessOptions
  private state: LivenessState = 'unverified'
  /** Our beat's revision once written; 0 before. */
  private revision = 0
  /** Another instance's beat found at start, and when (our clock) we first saw it. */
  private foreign: { beat: StoredBeat; since: number } | undefined
  private duplicateOf: StoredBeat | undefined
  private running: Promise<LivenessState> | undefined
  /** Beats failed in a row. */
  private failures = 0

  constructor(opts: LivenessOptions) {
    this.opts = opts
  }

  get current(): LivenessState {
    return this.state
  }

  /** Why IPAM requests are refused, or undefined. */
  refusal(): DriverError | undefined {
    if (this.state !== 'duplicate') return undefined
    return new DriverError(
      'unavailable',
      `HOST_ID "${printable(this.opts.host)}" is used by another live plugin process too ` +
        `(instance ${this.duplicateOf?.instance ?? '?'}): two hosts with one HOST_ID would ` +
        "release each other's addresses, so this IPAM refuses requests; give each host its own " +
        'HOST_ID (docker plugin set ipvlan-lan:latest HOST_ID=...) and restart the plugin'
    )
  }

  /**
   * One heartbeat; store failures are logged and tried again at the next beat. A beat asked for
   * while one is in flight (a slow store) is that one.
   */
  beat(): Promise<LivenessState> {
    this.running ??= this.beatOnce().finally(() => (this.running = undefined))
    return this.running
  }

  private async beatOnce(): Promise<LivenessState> {
    if (this.state === 'duplicate') return this.state
    try {
      await this.step()
      if (this.failures > 0)
        this.opts.log.info('ipam: heartbeat written again', { host: this.opts.host })
      this.failures = 0
    } catch (error) {
      // Said once per outage, not on every beat while the store is away.
      const fields = { host: this.opts.host, error: messageOf(error) }
      if (this.failures++ === 0)
        this.opts.log.warn('ipam: heartbeat not written; trying again at every beat', fields)
      else this.opts.log.debug('ipam: heartbeat still not written', fields)
    }
    return this.state
  }

  private async step(): Promise<void> {
    const { store, host, instance, everyMs, now } = this.opts
    const beat = { host, instance, at: now(), everyMs }
    if (this.revision === 0) {
      const found = (await store.beats()).find((b) => b.host === host)
      if (found && found.instance !== instance) {
        if (!this.foreign) {
          this.foreign = { beat: found, since: now() }
          this.opts.log.info('ipam: a heartbeat of this HOST_ID exists; waiting to see it stop', {
            host,
            instance: found.instance,
            waitMs: 2 * Math.max(everyMs, found.everyMs),
          })
          return
        }
        if (found.revision !== this.foreign.beat.revision) return this.duplicate(found)
        if (now() - this.foreign.since < 2 * Math.max(everyMs, found.everyMs)) return
      }
      const written = await store.beat(beat, found?.revision ?? 0)
      if ('current' in written) {
        if (written.current && written.current.instance !== instance)
          return this.duplicate(written.current)
        return // moved meanwhile (deleted by hand): judged again next time
      }
      this.revision = written.revision
      this.state = 'verified'
      this.opts.log.info('ipam: heartbeat written; this HOST_ID is ours', { host, instance })
      return
    }
    const written = await store.beat(beat, this.revision)
    if ('revision' in written) {
      this.revision = written.revision
      return
    }
    if (written.current && written.current.instance !== instance)
      return this.duplicate(written.current)
    // Removed by hand (etcdctl del): written afresh at the next beat.
    this.revision = 0
  }

  private duplicate(other: StoredBeat): void {
    this.state = 'duplicate'
    this.duplicateOf = other
    this.opts.log.error(
      'ipam: ANOTHER LIVE PLUGIN PROCESS WRITES THIS HOST_ID: IPAM requests refused until ' +
        'HOST_ID is unique and the plugin restarted',
      { host: this.opts.host, ours: this.opts.instance, theirs: other.instance }
    )
  }
}
