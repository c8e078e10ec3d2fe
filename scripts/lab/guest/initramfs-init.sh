#!/bin/sh
# Stage 1, PID 1 inside the initramfs: load the 9p/overlay modules, build the root
# (host / read-only over 9p + tmpfs overlay, kernel modules share, the repo share
# read-write at /.lab-repo) and switch_root into busybox init. Stage 2 (init.sh) binds
# /.lab-repo at the repo's host path once /tmp, /run and /var/lib are mounted, so a
# repo under one of those is not hidden.
export PATH=/bin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1

fail() {
  echo "lab-initramfs: FAILED: $*"
  echo o >/proc/sysrq-trigger # power off so the host sees qemu exit at once
  sleep 60
}

while read -r m; do
  insmod "/modules/$m" || fail "insmod $m"
done </modules/order

REPO='' NAME='' DISK=0
read -r cmdline </proc/cmdline
for w in $cmdline; do
  case "$w" in
    lab.repo=*) REPO=${w#*=} ;;
    lab.name=*) NAME=${w#*=} ;;
    lab.disk=*) DISK=${w#*=} ;;
  esac
done
{ [ -n "$REPO" ] && [ -n "$NAME" ]; } || fail "lab.repo/lab.name missing from the kernel command line"

O=trans=virtio,version=9p2000.L,msize=262144
mount -t 9p -o "$O,ro,cache=loose" hostroot /lower || fail "mount hostroot"
mount -t tmpfs -o mode=0755 tmpfs /upper
mkdir -p /upper/upper /upper/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/upper/upper,workdir=/upper/work /newroot || fail "mount overlay"
mkdir -p /newroot/lib/modules /newroot/.lab-repo
mount -t 9p -o "$O,ro" modules /newroot/lib/modules || fail "mount modules"
# The repo is mounted directly (not through the overlay) so host edits are seen at once
# and the guest can write results back.
mount -t 9p -o "$O" repo /newroot/.lab-repo || fail "mount repo"
G=/.lab-repo/scripts/lab/guest
[ -f "/newroot$G/init.sh" ] || fail "the repo share has no scripts/lab/guest/init.sh"
# Fresh proc/sys/dev inside the new root: otherwise dockerd's re-exec of /proc/self/exe breaks.
mount -t proc proc /newroot/proc
mount -t sysfs sysfs /newroot/sys
mount -t devtmpfs devtmpfs /newroot/dev

printf 'LAB_REPO=%s\nLAB_NAME=%s\nLAB_DISK=%s\n' "$REPO" "$NAME" "$DISK" >/newroot/etc/lab.env
printf '::sysinit:/bin/busybox sh %s/init.sh\n::respawn:/bin/busybox sh %s/agent.sh\n' "$G" "$G" >/newroot/etc/inittab

umount /proc /sys 2>/dev/null
exec switch_root /newroot /bin/busybox init
