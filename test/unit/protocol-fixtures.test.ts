import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import * as v from 'valibot'
import * as ipam from '../../src/http/ipam-schemas.ts'
import * as api from '../../src/http/schemas.ts'
import { answeredWithError, type RecordedRequest } from '../../bench/protocol-fixtures.ts'

/**
 * What Docker 20.10 and 28 really send, recorded in the lab (bench/protocol-fixtures.ts, one
 * example of each request shape per engine): every request the plugin accepted there is still
 * accepted by today's schemas, a newer engine's unknown fields are accepted, and every path the
 * engines used has a schema here (a new call from a newer engine fails this test until it has one).
 */
const DIR = fileURLToPath(new URL('../fixtures/requests/', import.meta.url))

type AnySchema = v.GenericSchema<unknown, unknown>
const SCHEMAS: Record<string, AnySchema> = {
  '/Plugin.Activate': api.Empty,
  '/NetworkDriver.GetCapabilities': api.Empty,
  '/NetworkDriver.GwAllocCheck': api.GwAllocCheckRequest,
  '/NetworkDriver.CreateNetwork': api.CreateNetworkRequest,
  '/NetworkDriver.DeleteNetwork': api.NetworkRequest,
  '/NetworkDriver.AllocateNetwork': api.AllocateNetworkRequest,
  '/NetworkDriver.FreeNetwork': api.NetworkRequest,
  '/NetworkDriver.CreateEndpoint': api.CreateEndpointRequest,
  '/NetworkDriver.EndpointOperInfo': api.EndpointRequest,
  '/NetworkDriver.DeleteEndpoint': api.EndpointRequest,
  '/NetworkDriver.Join': api.JoinRequest,
  '/NetworkDriver.Leave': api.EndpointRequest,
  '/NetworkDriver.ProgramExternalConnectivity': api.ExternalConnectivityRequest,
  '/NetworkDriver.RevokeExternalConnectivity': api.EndpointRequest,
  '/NetworkDriver.DiscoverNew': api.DiscoveryRequest,
  '/NetworkDriver.DiscoverDelete': api.DiscoveryRequest,
  '/IpamDriver.GetCapabilities': api.Empty,
  '/IpamDriver.GetDefaultAddressSpaces': api.Empty,
  '/IpamDriver.RequestPool': ipam.RequestPoolRequest,
  '/IpamDriver.ReleasePool': ipam.ReleasePoolRequest,
  '/IpamDriver.RequestAddress': ipam.RequestAddressRequest,
  '/IpamDriver.ReleaseAddress': ipam.ReleaseAddressRequest,
}

/** The calls every engine makes in the recorded runs; Docker 28 also asks GwAllocCheck. */
const CORE = [
  '/NetworkDriver.CreateNetwork',
  '/NetworkDriver.CreateEndpoint',
  '/NetworkDriver.Join',
  '/NetworkDriver.Leave',
  '/NetworkDriver.DeleteEndpoint',
  '/NetworkDriver.DeleteNetwork',
]

interface FixtureFile {
  engine: string
  requests: RecordedRequest[]
}

const files = readdirSync(DIR).filter((name) => /^docker-.*\.json$/.test(name))

const answeredOk = (answer: unknown): boolean => !answeredWithError(answer)

test('protocol fixtures exist for both engines', () => {
  const engines = files.map((f) => f.replace(/^docker-|\.json$/g, ''))
  assert.ok(
    engines.some((e) => e.startsWith('20.')),
    `Docker 20.10 fixtures in ${DIR}: ${engines.join(', ')}`
  )
  assert.ok(
    engines.some((e) => e.startsWith('28.')),
    `Docker 28 fixtures in ${DIR}: ${engines.join(', ')}`
  )
})

for (const file of files) {
  const fixture = JSON.parse(readFileSync(join(DIR, file), 'utf8')) as FixtureFile
  const major = Number(fixture.engine.split('.')[0])

  describe(`what Docker ${fixture.engine} sends (${file})`, () => {
    test('the recording holds the core calls (and GwAllocCheck from Docker 28)', () => {
      const paths = new Set(fixture.requests.map((r) => r.path))
      for (const path of [...CORE, ...(major >= 28 ? ['/NetworkDriver.GwAllocCheck'] : [])]) {
        assert.ok(paths.has(path), `${path} recorded (${[...paths].join(', ')})`)
      }
    })

    test('every path the engine called has a schema here', () => {
      const unknown = fixture.requests.map((r) => r.path).filter((path) => !(path in SCHEMAS))
      assert.deepEqual(unknown, [])
    })

    test('every request the plugin accepted in the lab is still accepted', () => {
      const accepted = fixture.requests.filter((r) => answeredOk(r.answer))
      assert.ok(accepted.length >= CORE.length, `accepted requests recorded: ${accepted.length}`)
      for (const request of accepted) {
        const schema = SCHEMAS[request.path]
        assert.ok(schema, request.path)
        const result = v.safeParse(schema, request.body === '' ? {} : request.body)
        assert.ok(
          result.success,
          `${request.path}: ${JSON.stringify(result.issues?.[0]?.message)} in ${JSON.stringify(request.body)}`
        )
      }
    })

    test("a newer engine's unknown fields are accepted", () => {
      for (const request of fixture.requests.filter((r) => answeredOk(r.answer))) {
        const body = request.body === '' ? {} : (request.body as Record<string, unknown>)
        const schema = SCHEMAS[request.path]
        assert.ok(schema, request.path)
        const result = v.safeParse(schema, { ...body, FieldOfDocker99: { Nested: [1, 'x'] } })
        assert.ok(result.success, `${request.path} with an unknown field`)
      }
    })
  })
}
