import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { IpvlanBatcher } from '../../src/driver/ipvlan-batcher.ts'
import type { IpvlanSpec } from '../../src/driver/ports/link-layer.ts'
import { LinkError } from '../../src/driver/ports/link-layer.ts'
import { FakeLinkLayer } from '../fakes/fake-link-layer.ts'

const spec = (name: string): IpvlanSpec => ({
  name,
  parent: 'eth0',
  mode: 'l2',
  flag: 'bridge',
  alias: `ipvlan-lan/feedf00d:ep:${name}`,
})

/** A fake kernel whose next single link creation answers only when released (the link is made). */
class HeldLinks extends FakeLinkLayer {
  private gate: Promise<void> | undefined
  private open: () => void = () => {}
  hold(): void {
    this.gate = new Promise((resolve) => (this.open = resolve))
  }
  release(): void {
    this.open()
  }
  override async addIpvlan(s: IpvlanSpec): Promise<void> {
    const gate = this.gate
    this.gate = undefined
    await super.addIpvlan(s)
    if (gate) await gate
  }
}

const methods = (links: FakeLinkLayer): string[] =>
  links.calls
    .map((call) => call.method)
    .filter((method) => method === 'addIpvlan' || method === 'addIpvlans')

describe('IpvlanBatcher (endpoint link creations, batched when they arrive together)', () => {
  test('a creation that finds a process free runs at once, alone, as one addIpvlan', async () => {
    const links = new FakeLinkLayer(['eth0'])
    const batcher = new IpvlanBatcher(links, 2)
    await batcher.add(spec('ivl1'))
    await batcher.add(spec('ivl2'))
    assert.deepEqual(methods(links), ['addIpvlan', 'addIpvlan'])
    assert.ok(links.links.has('ivl1') && links.links.has('ivl2'))
  })

  test('creations arriving while every process is busy go together in the next batch', async () => {
    const links = new HeldLinks(['eth0'])
    const batcher = new IpvlanBatcher(links, 1)
    links.hold()
    const first = batcher.add(spec('ivl0'))
    await new Promise((resolve) => setImmediate(resolve))
    const rest = ['ivl1', 'ivl2', 'ivl3', 'ivl4'].map((name) => batcher.add(spec(name)))
    links.release()
    await Promise.all([first, ...rest])
    const batches = links.calls.filter((call) => call.method === 'addIpvlans')
    assert.deepEqual(
      batches.map((call) => call.args),
      [['ivl1', 'ivl2', 'ivl3', 'ivl4']],
      'the four queued behind the held one: one batch'
    )
    for (const name of ['ivl0', 'ivl1', 'ivl2', 'ivl3', 'ivl4']) assert.ok(links.links.has(name))
  })

  test('a batch stops at its failure: the ones before are made, that one fails, the rest go again', async () => {
    const links = new HeldLinks(['eth0'])
    // The operator's link in the way of ivl2.
    links.links.set('ivl2', { name: 'ivl2', alias: 'operator', kind: 'veth', up: true })
    const batcher = new IpvlanBatcher(links, 1)
    links.hold()
    const first = batcher.add(spec('ivl0'))
    await new Promise((resolve) => setImmediate(resolve))
    const settled = ['ivl1', 'ivl2', 'ivl3'].map((name) =>
      batcher.add(spec(name)).then(
        () => 'made',
        (error: unknown) => (error instanceof LinkError ? error.kind : 'other')
      )
    )
    links.release()
    await first
    assert.deepEqual(await Promise.all(settled), ['made', 'exists', 'made'])
    assert.equal(links.links.get('ivl2')?.alias, 'operator', 'the link in the way is untouched')
    assert.equal(links.links.get('ivl3')?.alias, spec('ivl3').alias, 'the one after, made next')
  })

  test('a batch that fails as a whole fails every creation in it', async () => {
    const links = new HeldLinks(['eth0'])
    const batcher = new IpvlanBatcher(links, 1)
    links.hold()
    const first = batcher.add(spec('ivl0'))
    await new Promise((resolve) => setImmediate(resolve))
    const timeout = new LinkError('timeout', 'did not finish within 500 ms and was killed', 'ip')
    links.failNext('addIpvlan', timeout)
    const settled = ['ivl1', 'ivl2'].map((name) =>
      batcher.add(spec(name)).then(
        () => 'made',
        (error: unknown) => (error instanceof LinkError ? error.kind : 'other')
      )
    )
    links.release()
    await first
    assert.deepEqual(await Promise.all(settled), ['timeout', 'timeout'])
  })

  test('a hung creation holds one process only: the next one runs in the other', async () => {
    const links = new HeldLinks(['eth0'])
    const batcher = new IpvlanBatcher(links, 2)
    links.hold()
    let hungSettled = false
    const hung = batcher.add(spec('ivl0')).finally(() => (hungSettled = true))
    await batcher.add(spec('ivl1'))
    assert.ok(links.links.has('ivl1'), 'made while the other is held')
    assert.equal(hungSettled, false, 'the other is still held')
    links.release()
    await hung
  })
})
