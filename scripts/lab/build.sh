#!/usr/bin/env bash
# Build the lab: host packages, Debian's kernel + modules, a tiny initramfs and the
# busybox image tarball. Every step is skipped when its output already exists.
#
# Env: LAB_KERNEL_PKG  pin a kernel package (default: what linux-image-amd64 depends on;
#                      once built, the cached kernel is reused until .cache/lab/kernel.env is removed)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Modules the initramfs needs to reach the 9p root; their dependencies are resolved below.
INITRAMFS_MODULES=(virtio_pci 9pnet_virtio 9p overlay)
# Host packages the lab needs; the guest runs the host's own binaries.
LAB_PACKAGES=(qemu-system-x86 kmod cpio busybox-static docker.io docker-registry e2fsprogs)

ensure_packages() {
  local missing=() p
  for p in "${LAB_PACKAGES[@]}"; do
    dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  [[ $(id -u) -eq 0 ]] || die "missing packages (${missing[*]}) and not root"
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # A fresh machine may have no package lists yet: update once and retry.
  apt-get install -y --no-install-recommends "${missing[@]}" </dev/null >&2 ||
    { apt-get update </dev/null >&2 && apt-get install -y --no-install-recommends "${missing[@]}" </dev/null >&2; }
}

resolve_kernel_pkg() {
  if [[ -n "${LAB_KERNEL_PKG:-}" ]]; then
    echo "$LAB_KERNEL_PKG"
    return
  fi
  local pkg
  pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
  if [[ -z "$pkg" ]]; then
    apt-get update </dev/null >&2
    pkg=$(apt-cache depends linux-image-amd64 | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
  fi
  [[ -n "$pkg" ]] || die "cannot resolve the kernel package behind linux-image-amd64"
  echo "$pkg"
}

build_kernel() {
  local pkg='' kver kdir tmp
  # Reuse the cached kernel (fast, works offline); the initramfs is still rebuilt below
  # when its init script changed.
  if [[ -z "${LAB_KERNEL_PKG:-}" && -f "$CACHE_DIR/kernel.env" ]]; then
    # shellcheck disable=SC1091
    . "$CACHE_DIR/kernel.env"
    # shellcheck disable=SC2153 # KVER comes from kernel.env
    kver=$KVER
  else
    pkg=$(resolve_kernel_pkg)
    kver=${pkg#linux-image-}
  fi
  kdir="$CACHE_DIR/kernel/$kver"
  if [[ ! -f "$kdir/.done" ]]; then
    pkg=${pkg:-linux-image-$kver}
    log "downloading and extracting $pkg"
    tmp=$(mktemp -d "$CACHE_DIR/tmp.XXXXXX")
    chmod 0777 "$tmp" # apt-get download drops privileges to _apt
    (cd "$tmp" && apt-get download "$pkg" </dev/null >&2)
    rm -rf "$kdir"
    mkdir -p "$kdir"
    dpkg -x "$tmp"/"$pkg"_*.deb "$kdir"
    rm -rf "$tmp"
    depmod -b "$kdir" "$kver"
    touch "$kdir/.done"
  fi
  [[ -f "$kdir/boot/vmlinuz-$kver" ]] || die "no kernel image in $kdir"

  local initramfs="$CACHE_DIR/initramfs-$kver.cpio.gz"
  if [[ ! -f "$initramfs" || "$LAB_DIR/guest/initramfs-init.sh" -nt "$initramfs" || "$LAB_DIR/build.sh" -nt "$initramfs" ]]; then
    build_initramfs "$kdir" "$kver" "$initramfs"
  fi

  cat >"$CACHE_DIR/kernel.env.tmp" <<ENV
KVER=$kver
KERNEL_IMAGE=$kdir/boot/vmlinuz-$kver
INITRAMFS=$initramfs
MODULES_ROOT=$kdir/lib/modules
ENV
  mv "$CACHE_DIR/kernel.env.tmp" "$CACHE_DIR/kernel.env"
}

build_initramfs() {
  local kdir=$1 kver=$2 out=$3 root m f
  log "building initramfs for $kver"
  root=$(mktemp -d "$CACHE_DIR/tmp.XXXXXX")
  mkdir -p "$root"/{bin,dev,proc,sys,lower,upper,newroot,modules}
  # Debian's busybox-static: the initramfs must not need any shared library.
  if ldd /bin/busybox >/dev/null 2>&1; then die "/bin/busybox is not static (install busybox-static)"; fi
  cp /bin/busybox "$root/bin/busybox"
  ln -s busybox "$root/bin/sh"
  install -m 0755 "$LAB_DIR/guest/initramfs-init.sh" "$root/init"
  # modprobe --show-depends prints the insmod order (dependencies first); keep first occurrences.
  local -A seen=()
  : >"$root/modules/order"
  for m in "${INITRAMFS_MODULES[@]}"; do
    while read -r f; do
      [[ -n "${seen[$f]:-}" ]] && continue
      seen[$f]=1
      cp "$f" "$root/modules/"
      basename "$f" >>"$root/modules/order"
    done < <(modprobe -d "$kdir" -S "$kver" --show-depends "$m" | awk '$1 == "insmod" { print $2 }')
  done
  (cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet -R 0:0) | gzip -1 >"$out.tmp"
  mv "$out.tmp" "$out"
  rm -rf "$root"
}

# A container image made offline: Debian's static busybox plus one symlink per applet.
build_busybox_tar() {
  local out="$CACHE_DIR/busybox.tar" root a
  [[ -f "$out" && ! /bin/busybox -nt "$out" ]] && return 0
  log "building busybox image tarball"
  root=$(mktemp -d "$CACHE_DIR/tmp.XXXXXX")
  mkdir -p "$root"/{bin,etc,root,tmp,proc,sys,dev}
  chmod 1777 "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  for a in $(/bin/busybox --list); do
    [[ "$a" == busybox || -e "$root/bin/$a" ]] || ln -s busybox "$root/bin/$a"
  done
  tar -C "$root" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$out.tmp" .
  mv "$out.tmp" "$out"
  rm -rf "$root"
}

main() {
  mkdir -p "$CACHE_DIR"
  # Several `vm.sh start` may build at once.
  exec 9>"$CACHE_DIR/build.lock"
  flock 9
  rm -rf "$CACHE_DIR"/tmp.*
  ensure_packages
  build_kernel
  build_busybox_tar
  command -v docker-registry >/dev/null || die "docker-registry binary not found"
  [[ -f "$LAB_DIR/registry.yml" ]] || die "missing $LAB_DIR/registry.yml"
}

main "$@"
