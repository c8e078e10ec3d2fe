/**
 * Host tier: the packaged managed plugin on the host's real Docker engine (Debian's docker.io).
 *
 * Needs root and docker.io; starts dockerd with scripts/dockerd.sh when it is not answering.
 * Builds the bundle with scripts/build-rootfs.sh into a temporary directory (so plugin/rootfs, which
 * `make install` or the lab may be using, is left alone), then create / enable / inspect / disable /
 * set / enable as `ipvlan-lan-hosttest:latest`, and removes it afterwards.
 *
 *   node --import tsx --test test/host/*.test.ts        (or: make test-host)
 *
 * Env: DOCKERD_LOG  dockerd's log file (default /var/log/dockerd.log, where scripts/dockerd.sh writes)
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { copyFile, lstat, mkdir, mkdtemp, open, readdir, rm, stat } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { makeEtcdPki } from '../helpers/etcd-certs.ts'
import { until } from '../helpers/poll.ts'

const REPO = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..')
const NAME = 'ipvlan-lan-hosttest:latest'
const NETWORK = 'ipvlan-lan-hosttest-net'
const DOCKERD_LOG = process.env['DOCKERD_LOG'] ?? '/var/log/dockerd.log'
const SHELLS = new Set(['sh', 'bash', 'dash', 'ash', 'zsh', 'busybox'])

function skipReason(): string | false {
  if (process.getuid?.() !== 0) {
    return '!!! HOST TIER SKIPPED: not root. It starts dockerd and runs docker plugin create/enable; run it as root (make test-host) !!!'
  }
  if (!['/usr/bin/dockerd', '/usr/sbin/dockerd'].some((path) => existsSync(path))) {
    return '!!! HOST TIER SKIPPED: dockerd not installed. Run scripts/deps.sh (apt-get install docker.io) !!!'
  }
  return false
}

interface Run {
  stdout: string
  stderr: string
  code: number
}

/** Runs a program with an argument array (no shell); never throws, the caller checks `code`. */
function run(
  file: string,
  args: string[],
  timeoutMs = 120_000,
  env: Record<string, string> = {}
): Promise<Run> {
  return new Promise((done) => {
    execFile(
      file,
      args,
      {
        cwd: REPO,
        timeout: timeoutMs,
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, ...env },
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1
        done({ stdout, stderr: stderr || (error?.message ?? ''), code })
      }
    )
  })
}

async function ok(
  file: string,
  args: string[],
  timeoutMs?: number,
  env?: Record<string, string>
): Promise<string> {
  const result = await run(file, args, timeoutMs, env)
  assert.equal(
    result.code,
    0,
    `${file} ${args.join(' ')} failed (${result.code}):\n${result.stderr}${result.stdout}`
  )
  return result.stdout
}

interface InspectMount {
  Name: string
  Source: string
  Destination: string
  Type: string
  Options: string[]
  Settable: string[] | null
}

/** The mount as config.json declares it, without its description. */
const mountShape = ({ Name, Source, Destination, Type, Options, Settable }: InspectMount) => ({
  Name,
  Source,
  Destination,
  Type,
  Options,
  Settable,
})

/** The one mount besides the propagated one: the etcd TLS files, an always-present stand-in. */
const ETCD_MOUNT = {
  Name: 'etcd',
  Source: '/usr/share',
  Destination: '/etc/ipvlan-lan/etcd',
  Type: 'bind',
  Options: ['rbind', 'ro'],
  Settable: ['source'],
}

interface PluginInspect {
  Id: string
  Enabled: boolean
  Settings: { Env: string[]; Mounts: InspectMount[]; Devices: unknown[]; Args: string[] }
  Config: {
    Entrypoint: string[]
    WorkDir: string
    Interface: { Types: string[]; Socket: string }
    Network: { Type: string }
    Linux: { Capabilities: string[]; AllowAllDevices: boolean; Devices: unknown[] | null }
    Mounts: InspectMount[] | null
    PropagatedMount: string
    IpcHost: boolean
    PidHost: boolean
    Env: { Name: string; Value: string; Settable: string[] | null }[]
  }
}

async function inspect(): Promise<PluginInspect> {
  const parsed = JSON.parse(await ok('docker', ['plugin', 'inspect', NAME])) as PluginInspect[]
  const first = parsed[0]
  assert.ok(first, `docker plugin inspect ${NAME} returned nothing`)
  return first
}

/** Every shell-like file name anywhere under `dir` (relative paths). */
async function findShells(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true })
  return entries.filter((path) => SHELLS.has(path.split('/').pop() ?? ''))
}

/** Text appended to a file after byte offset `from`. */
async function readFrom(path: string, from: number): Promise<string> {
  const handle = await open(path, 'r')
  try {
    const { size } = await handle.stat()
    if (size <= from) return ''
    const buffer = Buffer.alloc(size - from)
    await handle.read(buffer, 0, buffer.length, from)
    return buffer.toString('utf8')
  } finally {
    await handle.close()
  }
}

const waitFor = (what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> =>
  until(what, check, ms)

/** POST to the plugin's socket from the host, with an ordinary Host header. */
function postSocket(socketPath: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((done, fail) => {
    const req = request({ socketPath, path, method: 'POST', host: 'localhost' }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (body += chunk))
      res.on('end', () => done({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', fail)
    req.end()
  })
}

/** Does the running kernel know the ipvlan link type? Probed in a throwaway network namespace. */
async function kernelHasIpvlan(): Promise<boolean> {
  const probe = await run('unshare', ['--net', 'ip', 'link', 'add', 'probe0', 'type', 'ipvlan'])
  return !/Unknown device type/i.test(probe.stderr)
}

async function parentInterface(): Promise<string> {
  const links = await readdir('/sys/class/net')
  if (links.includes('eth0')) return 'eth0'
  const route = await ok('ip', ['-o', 'route', 'show', 'default'])
  const dev = /\bdev (\S+)/.exec(route)?.[1]
  assert.ok(dev, 'no eth0 and no default route: cannot pick a parent interface')
  return dev
}

test('managed plugin on the host engine', { skip: skipReason(), timeout: 600_000 }, async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'ipvlan-lan-hosttest-'))
  const bundle = join(work, 'plugin')
  t.after(async () => {
    await run('docker', ['network', 'rm', NETWORK])
    await run('docker', ['plugin', 'rm', '-f', NAME])
    await rm(work, { recursive: true, force: true })
  })

  await ok(join(REPO, 'scripts/dockerd.sh'), ['start'])
  const dockerRoot = (await ok('docker', ['info', '--format', '{{.DockerRootDir}}'])).trim()

  await t.test('the bundle builds: config.json + a rootfs with node, ip and no shell', async () => {
    // The script behind `make plugin`, into our own directory. A fresh SOURCE_DATE_EPOCH gives the
    // layer its own digest: Docker 20.10 refuses to create a plugin whose rootfs layer is identical to
    // an installed plugin's ("content sha256:...: already exists").
    await ok(join(REPO, 'scripts/build-rootfs.sh'), [], 300_000, {
      ROOTFS_DIR: join(bundle, 'rootfs'),
      SOURCE_DATE_EPOCH: String(Math.floor(Date.now() / 1000)),
    })
    await copyFile(join(REPO, 'plugin/config.json'), join(bundle, 'config.json'))
    const rootfs = join(bundle, 'rootfs')
    for (const path of ['usr/bin/node', 'usr/sbin/ip', 'opt/ipvlan-lan/dist/main.js']) {
      assert.ok(existsSync(join(rootfs, path)), `rootfs lacks /${path}`)
    }
    // The plugin is one bundled file (scripts/bundle.sh), so it listens inside Docker's start window.
    assert.deepEqual(await readdir(join(rootfs, 'opt/ipvlan-lan/dist')), ['main.js'])
    await assert.rejects(
      lstat(join(rootfs, 'opt/ipvlan-lan/node_modules')),
      { code: 'ENOENT' },
      'node_modules in the rootfs: the bundle should hold every dependency'
    )
    const dirs = ['run/docker/plugins', 'state', 'tmp', 'proc', 'sys', 'dev', 'etc']
    for (const dir of [...dirs, 'etc/ipvlan-lan/etcd']) {
      assert.ok((await stat(join(rootfs, dir))).isDirectory(), `rootfs lacks /${dir}/`)
    }
    await assert.rejects(lstat(join(rootfs, 'bin/sh')), { code: 'ENOENT' }, '/bin/sh in rootfs')
    assert.deepEqual(await findShells(rootfs), [], 'a shell or busybox is in the rootfs')
  })

  let id = ''
  await t.test('docker plugin create + enable', async () => {
    await run('docker', ['plugin', 'rm', '-f', NAME])
    await ok('docker', ['plugin', 'create', NAME, bundle])
    await ok('docker', ['plugin', 'enable', NAME])
    id = (await inspect()).Id
    assert.match(id, /^[0-9a-f]{64}$/)
  })

  await t.test(
    'docker plugin inspect: enabled, NET_ADMIN only, host network, only the read-only etcd mount',
    async () => {
      const plugin = await inspect()
      assert.equal(plugin.Enabled, true)
      assert.deepEqual(plugin.Config.Interface.Types, [
        'docker.networkdriver/1.0',
        'docker.ipamdriver/1.0',
      ])
      assert.equal(plugin.Config.Interface.Socket, 'ipvlan-lan.sock')
      assert.deepEqual(plugin.Config.Linux.Capabilities, ['CAP_NET_ADMIN'])
      assert.equal(plugin.Config.Linux.AllowAllDevices, false)
      assert.deepEqual(plugin.Config.Linux.Devices ?? [], [])
      assert.equal(plugin.Config.Network.Type, 'host')
      assert.equal(plugin.Config.IpcHost, false)
      assert.equal(plugin.Config.PidHost, false)
      assert.deepEqual(
        (plugin.Config.Mounts ?? []).map(mountShape),
        [ETCD_MOUNT],
        'no mounts besides the propagated one and the etcd TLS files'
      )
      assert.deepEqual(plugin.Settings.Mounts.map(mountShape), [ETCD_MOUNT])
      assert.equal(plugin.Config.PropagatedMount, '/state')
      assert.equal(plugin.Config.Entrypoint[0], '/usr/bin/node')
      assert.deepEqual(
        plugin.Config.Env.map((e) => [e.Name, e.Value, e.Settable]),
        [
          ['LOG_LEVEL', 'info', ['value']],
          ['IP_TIMEOUT_MS', '10000', ['value']],
          ['ETCD_ENDPOINTS', '', ['value']],
          ['ETCD_PREFIX', '/ipvlan-lan/', ['value']],
          ['ETCD_TIMEOUT_MS', '3000', ['value']],
          ['HOST_ID', '', ['value']],
          ['ETCD_CACERT', '', ['value']],
          ['ETCD_CERT', '', ['value']],
          ['ETCD_KEY', '', ['value']],
          ['ETCD_USER', '', ['value']],
          ['ETCD_PASSWORD', '', ['value']],
          ['IPAM_HEARTBEAT_INTERVAL', '30s', ['value']],
          ['IPAM_RECONCILE_INTERVAL', '5m', ['value']],
          ['IPAM_ORPHAN_AGE', '10m', ['value']],
          ['IPAM_RECLAIM_AFTER', 'off', ['value']],
        ]
      )
      assert.deepEqual(plugin.Settings.Env, [
        'LOG_LEVEL=info',
        'IP_TIMEOUT_MS=10000',
        'ETCD_ENDPOINTS=',
        'ETCD_PREFIX=/ipvlan-lan/',
        'ETCD_TIMEOUT_MS=3000',
        'HOST_ID=',
        'ETCD_CACERT=',
        'ETCD_CERT=',
        'ETCD_KEY=',
        'ETCD_USER=',
        'ETCD_PASSWORD=',
        'IPAM_HEARTBEAT_INTERVAL=30s',
        'IPAM_RECONCILE_INTERVAL=5m',
        'IPAM_ORPHAN_AGE=10m',
        'IPAM_RECLAIM_AFTER=off',
      ])
    }
  )

  await t.test(
    'the socket on the host is /run/docker/plugins/<id>/ipvlan-lan.sock, mode 0600',
    async () => {
      const socket = `/run/docker/plugins/${id}/ipvlan-lan.sock`
      const info = await stat(socket)
      assert.ok(info.isSocket(), `${socket} is not a socket`)
      assert.equal((info.mode & 0o777).toString(8), '600')
    }
  )

  const stateDir = (): string => join(dockerRoot, 'plugins', id, 'propagated-mount')
  let stateEntries: string[] = []
  await t.test('the plugin writes its state into the propagated mount', async () => {
    await waitFor('the plugin to write state under propagated-mount', async () => {
      stateEntries = (await readdir(stateDir()).catch(() => [])).sort()
      return stateEntries.length > 0
    })
  })

  await t.test('docker network create says the kernel has no ipvlan support', async () => {
    const parent = await parentInterface()
    const args = ['network', 'create', '-d', NAME, '-o', `parent=${parent}`]
    const create = await run('docker', [...args, '--subnet', '10.99.0.0/24', NETWORK])
    if (await kernelHasIpvlan()) {
      // The same test run on a kernel with ipvlan (e.g. inside the lab VM): creation must work.
      assert.equal(create.code, 0, create.stderr)
      await ok('docker', ['network', 'rm', NETWORK])
      return
    }
    assert.notEqual(create.code, 0, `network create succeeded on a kernel without ipvlan`)
    assert.match(create.stderr, /no ipvlan support/i)
    // The plain explanation first; ip's own words only after it, as the cause.
    assert.match(
      create.stderr,
      /no ipvlan support \(CONFIG_IPVLAN\).*\(ip said: Error: Unknown device type\./
    )
    assert.doesNotMatch(create.stderr, /could not resolve driver/i)
  })

  await t.test('disable, set LOG_LEVEL=debug, enable: debug lines reach dockerd.log', async () => {
    await ok('docker', ['plugin', 'disable', NAME])
    assert.equal((await inspect()).Enabled, false)
    await ok('docker', ['plugin', 'set', NAME, 'LOG_LEVEL=debug'])
    assert.ok((await inspect()).Settings.Env.includes('LOG_LEVEL=debug'))

    assert.ok(existsSync(DOCKERD_LOG), `${DOCKERD_LOG} missing: set DOCKERD_LOG to dockerd's log`)
    const offset = (await stat(DOCKERD_LOG)).size
    await ok('docker', ['plugin', 'enable', NAME])
    const plugin = await inspect()
    assert.equal(plugin.Enabled, true)
    assert.equal(plugin.Id, id)

    // One request of our own too (Docker's GetCapabilities at enable should already log one).
    const socket = `/run/docker/plugins/${id}/ipvlan-lan.sock`
    const caps = await postSocket(socket, '/NetworkDriver.GetCapabilities')
    assert.equal(caps.status, 200, caps.body)
    assert.equal((JSON.parse(caps.body) as { Scope: string }).Scope, 'local')

    let appended = ''
    await waitFor(`a debug line from plugin=${id} in ${DOCKERD_LOG}`, async () => {
      appended = await readFrom(DOCKERD_LOG, offset)
      return appended
        .split('\n')
        .some((line) => line.includes(`plugin=${id}`) && line.includes('level=debug'))
    })
  })

  await t.test('state in the propagated mount survives disable/enable', async () => {
    const after = (await readdir(stateDir())).sort()
    for (const entry of stateEntries) assert.ok(after.includes(entry), `${entry} vanished`)
  })

  await t.test(
    'etcd TLS files through the etcd mount: read at start from etcd.source; a missing one stops enable naming ETCD_CACERT',
    async () => {
      const certs = join(work, 'etcd-certs')
      await mkdir(certs)
      makeEtcdPki(certs)
      const inPlugin = (file: string): string => `/etc/ipvlan-lan/etcd/${file}`
      const tls = [
        'ETCD_ENDPOINTS=https://127.0.0.1:9',
        `ETCD_CACERT=${inPlugin('ca.pem')}`,
        `ETCD_CERT=${inPlugin('client.pem')}`,
        `ETCD_KEY=${inPlugin('client.key')}`,
      ]
      await ok('docker', ['plugin', 'disable', NAME])
      await ok('docker', ['plugin', 'set', NAME, `etcd.source=${certs}`, ...tls])
      assert.deepEqual(
        (await inspect()).Settings.Mounts.map(mountShape),
        [{ ...ETCD_MOUNT, Source: certs }],
        'etcd.source sets the mount source'
      )
      let offset = (await stat(DOCKERD_LOG)).size
      await ok('docker', ['plugin', 'enable', NAME])
      // The plugin exits before listening when it cannot read a file: enabled means read.
      await waitFor(`the plugin's start line naming its TLS files in ${DOCKERD_LOG}`, async () =>
        // dockerd quotes the plugin's line again: its quotes may come escaped.
        /cacert\\*":\\*"\/etc\/ipvlan-lan\/etcd\/ca\.pem/.test(await readFrom(DOCKERD_LOG, offset))
      )

      await ok('docker', ['plugin', 'disable', NAME])
      await ok('docker', ['plugin', 'set', NAME, `ETCD_CACERT=${inPlugin('missing.pem')}`])
      offset = (await stat(DOCKERD_LOG)).size
      const enable = await run('docker', ['plugin', 'enable', NAME])
      assert.notEqual(enable.code, 0, 'enable succeeded with a missing ETCD_CACERT file')
      await waitFor(`the plugin's error naming ETCD_CACERT in ${DOCKERD_LOG}`, async () =>
        (await readFrom(DOCKERD_LOG, offset)).includes(
          `ETCD_CACERT: cannot read ${inPlugin('missing.pem')}: no such file`
        )
      )

      // Back to the defaults, enabled, for the steps after.
      await run('docker', ['plugin', 'disable', '-f', NAME])
      const clear = ['ETCD_ENDPOINTS=', 'ETCD_CACERT=', 'ETCD_CERT=', 'ETCD_KEY=']
      await ok('docker', ['plugin', 'set', NAME, 'etcd.source=/usr/share', ...clear])
      // dockerd cleans up after the failed start asynchronously, and may still be restarting the
      // plugin (moby HandleExitEvent): an enable right after can meet its containerd container
      // ("id already in use", Docker 20.10.24) or find that restart, now with good settings,
      // already enabled it. Retried until it is enabled.
      await waitFor('the plugin enabled again after the failed start', async () => {
        const again = await run('docker', ['plugin', 'enable', NAME])
        if (again.code === 0 || /already enabled/.test(again.stderr)) return true
        assert.match(again.stderr, /id already in use/, again.stderr)
        return false
      })
      assert.equal((await inspect()).Enabled, true)
      const socket = `/run/docker/plugins/${id}/ipvlan-lan.sock`
      await waitFor('the plugin to answer again', async () =>
        postSocket(socket, '/Plugin.Activate').then(
          (answer) => answer.status === 200,
          () => false
        )
      )
      assert.deepEqual((await inspect()).Settings.Mounts.map(mountShape), [ETCD_MOUNT])
    }
  )

  await t.test('the installed rootfs has no shell either', async () => {
    const rootfs = join(dockerRoot, 'plugins', id, 'rootfs')
    assert.deepEqual(await findShells(rootfs), [])
  })
})
