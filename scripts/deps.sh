#!/usr/bin/env bash
# Idempotent installer for what building, packaging and running the plugin on this host needs:
#   - Debian packages (apt-get update only when one is missing);
#   - node_modules via `npm ci` when it is missing or older than package.json / package-lock.json.
# The lab's own packages (qemu, kmod, cpio, busybox-static, ...) are installed by scripts/lab/build.sh.
#
# Env: DEPS_SKIP_APT=1  only check Debian packages, never install them (e.g. not root)
#      DEPS_SKIP_NPM=1  leave node_modules alone
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)

# docker.io: the engine the plugin is created/enabled on; iproute2: `ip`/`bridge` copied into the
# rootfs; binutils: `strip` for the node binary; libc-bin: `ldd`; curl/jq: poking the plugin socket;
# etcd-server: the real etcd (3.4) the etcd IPAM backend's test runs (test/netns/ipam-etcd.netns.test.ts);
# openssl: the throw-away CA and certificates of the etcd TLS tests (test/helpers/etcd-certs.ts).
PACKAGES=(docker.io iproute2 curl jq binutils libc-bin make etcd-server openssl)
NODE_MIN_MAJOR=20

log() { printf '[deps] %s\n' "$*" >&2; }
die() {
  printf '[deps] error: %s\n' "$*" >&2
  exit 1
}

installed() { dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null | grep -qx installed; }

ensure_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
  if ((${#missing[@]} == 0)); then
    log "Debian packages present: ${PACKAGES[*]}"
    return 0
  fi
  [[ "${DEPS_SKIP_APT:-0}" != 1 ]] || die "missing Debian packages: ${missing[*]} (DEPS_SKIP_APT=1)"
  [[ $(id -u) -eq 0 ]] || die "missing Debian packages: ${missing[*]}; run as root to install them"
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update </dev/null >&2
  apt-get install -y --no-install-recommends "${missing[@]}" </dev/null >&2
}

# Node is not a Debian package here (Debian 12 ships 18; the project needs >= 20.5): check only.
check_node() {
  command -v node >/dev/null || die "node not found on PATH (Node.js >= 20.5 is required)"
  command -v npm >/dev/null || die "npm not found on PATH"
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  ((major >= NODE_MIN_MAJOR)) || die "node $(node -v) is too old: Node.js >= 20.5 is required"
  log "node $(node -v), npm $(npm -v)"
}

# npm writes node_modules/.package-lock.json on every install: older than package-lock.json means
# stale (package.json alone is not compared: editing its scripts must not reinstall everything).
ensure_node_modules() {
  [[ "${DEPS_SKIP_NPM:-0}" != 1 ]] || return 0
  local stamp="$REPO_ROOT/node_modules/.package-lock.json"
  if [[ -f "$stamp" && ! "$REPO_ROOT/package-lock.json" -nt "$stamp" ]]; then
    log "node_modules up to date"
    return 0
  fi
  log "npm ci"
  (cd "$REPO_ROOT" && npm ci --no-audit --no-fund >&2)
}

ensure_packages
check_node
ensure_node_modules
