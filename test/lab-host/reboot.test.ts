import assert from 'node:assert/strict'
import { execa } from 'execa'
import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { REPO } from '../helpers/plugin-process.ts'

/**
 * A full host reboot, in the lab: Docker's data and the plugin's state on a virtio disk, the VM
 * booted twice. The operator's NIC (a dummy here) comes back at boot; the 802.1Q sub-interface the
 * plugin made does not, and must be re-created when the --restart=always containers rejoin.
 */
// `make test` hands over its running lab VM (booted on a disk, plugin installed) to save a boot
// and a plugin install; run alone, the test boots its own VM on a fresh disk.
const REUSE = process.env['LAB_VM'] !== undefined && process.env['LAB_DISK'] !== undefined
const VM = process.env['LAB_VM'] ?? 'reboot'
const DISK = process.env['LAB_DISK'] ?? join(REPO, '.cache', 'lab', 'reboot-disk.img')
const VMSH = join(REPO, 'scripts', 'lab', 'vm.sh')
const PLUGIN = 'localhost:5000/ipvlan-lan:latest'
// LAB_ENGINE=28: both boots on Docker 28 (vm.sh start --engine 28); default Debian 12's 20.10.
const ENGINE = process.env['LAB_ENGINE'] ?? '20.10'
const START = ['start', '--name', VM, '--disk', DISK, '--engine', ENGINE]
// Each lab engine has its own data root (/var/lib/docker, /var/lib/docker-28).
const STATE_DIR = (id: string): string =>
  `"$(docker info -f '{{.DockerRootDir}}')/plugins/${id}/propagated-mount"`

async function vm(...args: string[]): Promise<void> {
  const result = await execa(VMSH, args, { reject: false, all: true, timeout: 600_000 })
  if (result.exitCode !== 0) throw new Error(`vm.sh ${args.join(' ')}: ${result.all ?? ''}`)
}

/** Runs a shell string in the guest; returns its exit code and output. */
async function guest(command: string): Promise<{ code: number; output: string }> {
  const result = await execa(VMSH, ['exec', '--name', VM, '--', command], {
    reject: false,
    all: true,
    timeout: 600_000,
  })
  return { code: result.exitCode ?? -1, output: String(result.all ?? '').trim() }
}

async function guestOk(command: string): Promise<string> {
  const result = await guest(command)
  assert.equal(result.code, 0, `guest: ${command}\n${result.output}`)
  return result.output
}

const PING = 'docker exec rb-b ping -c 1 -W 3 172.30.40.10'
// Host access (-o host_address): the host's own link on the network must come back after a reboot.
const HOST_PING =
  'busybox ping -c 1 -W 3 172.30.40.10 && docker exec rb-b ping -c 1 -W 3 172.30.40.2'

describe('host reboot (lab VM booted twice on one disk)', { timeout: 30 * 60_000 }, () => {
  before(() => {
    if (!REUSE && existsSync(DISK)) rmSync(DISK)
  })
  after(async () => {
    await execa(VMSH, ['stop', '--name', VM], { reject: false })
    if (!REUSE && existsSync(DISK)) rmSync(DISK)
  })

  test('first boot: plugin installed, network on a created sub-interface, restart=always containers', async () => {
    await vm(...START)
    await guestOk(
      [
        'mkdir -p /var/lib/lab',
        // The "NIC" the operator's network config brings up at every boot.
        "printf 'ip link add rbm0 type dummy\\nip link set rbm0 up\\n' > /var/lib/lab/boot.sh",
        'sh /var/lib/lab/boot.sh',
        // Installed already when the VM is handed over; otherwise create it from the bundle.
        `{ docker plugin inspect ${PLUGIN} >/dev/null 2>&1 || { cp -a '${REPO}/plugin' /tmp/bundle && docker plugin create ${PLUGIN} /tmp/bundle && docker plugin enable ${PLUGIN}; }; }`,
        `docker network create -d ${PLUGIN} -o parent=rbm0.40 --subnet 172.30.40.0/24 -o host_address=172.30.40.2 --aux-address host=172.30.40.2 rbnet`,
        'docker run -d --name rb-a --net rbnet --ip 172.30.40.10 --restart=always busybox:lab sleep 3600',
        'docker run -d --name rb-b --net rbnet --ip 172.30.40.11 --restart=always busybox:lab sleep 3600',
        PING,
        HOST_PING,
      ].join(' && ')
    )
    await vm('stop', '--name', VM)
  })

  test('second boot: containers back and connected, the sub-interface re-created, state intact', async () => {
    await vm(...START)
    assert.match(
      await guestOk("docker version --format '{{.Server.Version}}'"),
      new RegExp(`^${ENGINE.replace('.', '\\.')}\\.`),
      `booted on Docker ${ENGINE}`
    )
    await guestOk(
      'for i in $(seq 1 120); do [ "$(docker inspect -f "{{.State.Running}}" rb-a rb-b | sort -u)" = true ] && exit 0; sleep 1; done; docker ps -a; exit 1'
    )
    await guestOk(PING)
    await guestOk(HOST_PING)
    await guestOk(
      'docker run -d --name rb-c --net rbnet --ip 172.30.40.12 busybox:lab sleep 3600 && docker exec rb-c ping -c 1 -W 3 172.30.40.10 && busybox ping -c 1 -W 3 172.30.40.12'
    )
    const link = await guestOk('ip -d link show rbm0.40')
    assert.match(link, /vlan .*id 40/)
    assert.match(link, /alias ipvlan-lan\//, 'the re-created parent carries our mark')
    const id = await guestOk(`docker plugin inspect -f '{{.Id}}' ${PLUGIN}`)
    // Every state file parses.
    await guestOk(
      `cd ${STATE_DIR(id)} && for f in networks/*.json endpoints/*.json; do node -e 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))' "$f" || exit 1; done`
    )
  })

  test('after removing everything, nothing of ours is left', async () => {
    const id = await guestOk(`docker plugin inspect -f '{{.Id}}' ${PLUGIN}`)
    await guestOk('docker rm -f rb-a rb-b rb-c && docker network rm rbnet')
    const links = await guestOk('ip -o link show')
    assert.doesNotMatch(links, /rbm0\.40|ivl[0-9a-f]|ivh[0-9a-f]|ipvlan-lan\//)
    assert.doesNotMatch(await guestOk('ip route show'), /172\.30\.40\./, 'no host route left')
    const left = await guestOk(`cd ${STATE_DIR(id)} && ls networks endpoints`)
    assert.doesNotMatch(left, /\.json/)
    if (!REUSE) await guestOk(`docker plugin rm -f ${PLUGIN}`)
  })
})
