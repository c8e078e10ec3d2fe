#!/bin/sh
# Stage 2, busybox init's sysinit in the new root: mounts, cgroups, modules, /var/lib
# (tmpfs or the disk), dockerd, the busybox:lab image; then signals the host via $IO/ready.
# Output goes to the serial console (.cache/lab/<name>/console.log on the host).
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
T0=$(uptime_s)
echo "lab-init: stage 2 at uptime ${T0}s"

fail() {
  echo "lab-init: FAILED: $*"
  { echo "$*"; [ -f "$DOCKERD_LOG" ] && tail -n 40 "$DOCKERD_LOG"; } >"$IO/failed.tmp"
  mv "$IO/failed.tmp" "$IO/failed"
  exit 1
}

mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777 shm /dev/shm
mount -t tmpfs -o mode=0755 tmpfs /run
# Keep the host's /tmp out of sight (it would be visible through the overlay).
mount -t tmpfs -o mode=1777 tmpfs /tmp
hostname "lab-$LAB_NAME"
ip link set lo up

# cgroup v1 hierarchies, as Docker 20.10 expects without systemd.
mount -t tmpfs -o mode=0755 cgroup /sys/fs/cgroup
for c in cpu cpuacct cpuset memory devices freezer blkio pids net_cls net_prio perf_event hugetlb; do
  mkdir -p "/sys/fs/cgroup/$c"
  mount -t cgroup -o "$c" cgroup "/sys/fs/cgroup/$c" 2>/dev/null || rmdir "/sys/fs/cgroup/$c"
done

modprobe -a ipvlan 8021q macvlan virtio_rng || fail "modprobe"
modprobe dummy numdummies=0 || fail "modprobe dummy" # no stray dummy0

# /var/lib must not be the overlay root (overlayfs upper dirs cannot live on overlay/9p):
# tmpfs, or the virtio disk so Docker's data survives a reboot.
mkdir -p /run/lab/varlib
mount --bind /var/lib /run/lab/varlib
if [ "$LAB_DISK" = 1 ]; then
  modprobe -a virtio_blk ext4 || fail "modprobe virtio_blk ext4"
  i=0
  while [ ! -b /dev/vda ]; do
    [ "$i" -ge 100 ] && fail "no /dev/vda"
    sleep 0.1
    i=$((i + 1))
  done
  if [ -z "$(blkid -p -s TYPE -o value /dev/vda 2>/dev/null)" ]; then
    echo "lab-init: formatting /dev/vda"
    mkfs.ext4 -q -F -E lazy_itable_init=1,lazy_journal_init=1 /dev/vda || fail "mkfs.ext4"
  fi
  mount /dev/vda /var/lib || fail "mount /dev/vda"
else
  mount -t tmpfs -o mode=0755 tmpfs /var/lib
fi
# Recreate the host's /var/lib skeleton (owners and modes matter, e.g. docker-registry).
for d in /run/lab/varlib/*/; do
  n=$(basename "$d")
  case "$n" in docker | containerd | lost+found) continue ;; esac
  [ -e "/var/lib/$n" ] && continue
  mkdir "/var/lib/$n" && chown "$(stat -c %u:%g "$d")" "/var/lib/$n" && chmod "$(stat -c %a "$d")" "/var/lib/$n"
done
mount --bind /run/lab/varlib/dpkg /var/lib/dpkg 2>/dev/null

# The repo at its host path, now that nothing will be mounted over it.
{ mkdir -p "$LAB_REPO" && mount --bind "$LAB_SHARE" "$LAB_REPO"; } || fail "bind the repo at $LAB_REPO"

# Boot hook kept on the disk (like a host's network config): e.g. recreate the dummy parent
# links before dockerd restarts restart=always containers attached to them.
if [ -f /var/lib/lab/boot.sh ]; then
  echo "lab-init: running /var/lib/lab/boot.sh"
  sh /var/lib/lab/boot.sh || echo "lab-init: WARNING: /var/lib/lab/boot.sh failed"
fi

T1=$(uptime_s)
sh "$LAB_SHARE/scripts/lab/guest/dockerd.sh" start || fail "dockerd did not start"
T2=$(uptime_s)
if ! docker image inspect busybox:lab >/dev/null 2>&1; then
  docker import -c 'CMD ["sh"]' "$LAB_SHARE/.cache/lab/busybox.tar" busybox:lab >/dev/null || fail "docker import busybox:lab"
fi
T3=$(uptime_s)
printf 'stage2=%s dockerd=%s ready=%s\n' "$T0" "$T2" "$T3" >"$IO/ready.tmp"
mv "$IO/ready.tmp" "$IO/ready"
echo "lab-init: ready at uptime ${T3}s (setup $T0-$T1, dockerd $T1-$T2, import $T2-$T3)"
