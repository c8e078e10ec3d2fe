#!/usr/bin/env bash
# Docker engines for the lab besides Debian 12's docker.io (20.10, the host's, the default).
#
#   engine.sh fetch [ENGINE]   download and extract ENGINE into the project's cache (idempotent)
#   engine.sh path  [ENGINE]   print the PATH prefix that selects ENGINE's binaries ("" for 20.10)
#   engine.sh root  [ENGINE]   print the extracted tree ("" for 20.10)
#   engine.sh check [ENGINE]   exit 0 if ENGINE is fetched (its dockerd reports the right version)
#
# ENGINE: 28 (default) = Debian unstable's docker.io (28.5.x) and containerd (2.1.x), fetched
# with apt's own tools against a private sources list in .cache/engines/docker-28/apt/ (the
# system's apt configuration is neither read for sources nor changed; nothing is installed),
# then `dpkg -x` into .cache/engines/docker-28/root/. Unstable's runc needs a newer glibc than
# Debian 12's, so it is not fetched: Debian 12's runc (/usr/sbin/runc) is used, and the tree
# must not hold one (it would come first on PATH).
# 20.10 = the system's docker.io: nothing to fetch, empty path.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
  exit 125
}

ENGINES_DIR="$REPO_ROOT/.cache/engines"
# Per engine: the suite, the packages, the dockerd/containerd version prefixes it must report.
engine_conf() {
  case "$1" in
    28)
      SUITE=sid
      PACKAGES=(docker.io containerd)
      DOCKERD_VERSION='28.'
      CONTAINERD_VERSION='2.'
      ;;
    20.10) SUITE='' ;;
    *) die "unknown engine '$1' (known: 20.10, 28)" ;;
  esac
  ENGINE_DIR="$ENGINES_DIR/docker-$1"
  ROOT="$ENGINE_DIR/root"
}

# 0 if the extracted tree is complete: dockerd and containerd report the expected versions.
check() {
  [[ -x "$ROOT/usr/sbin/dockerd" && -x "$ROOT/usr/bin/containerd" ]] || return 1
  "$ROOT/usr/sbin/dockerd" --version 2>/dev/null | grep -q "^Docker version $DOCKERD_VERSION" || return 1
  "$ROOT/usr/bin/containerd" --version 2>/dev/null | grep -qE "^containerd [^ ]+ v?$CONTAINERD_VERSION" || return 1
  [[ ! -e "$ROOT/usr/sbin/runc" && ! -e "$ROOT/usr/bin/runc" ]]
}

apt_private() { # apt-get with only the private sources list, lists and cache
  local apt="$ENGINE_DIR/apt"
  apt-get -q \
    -o Dir::Etc::SourceList="$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null \
    -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null \
    -o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt/cache" \
    -o Dir::Cache::pkgcache='' -o Dir::Cache::srcpkgcache='' \
    -o APT::Default-Release='' \
    "$@" </dev/null
}

fetch() {
  [[ -n "$SUITE" ]] || { log "engine $ENGINE is the system's docker.io: nothing to fetch"; return 0; }
  mkdir -p "$ENGINES_DIR"
  exec 9>"$ENGINES_DIR/fetch.lock"
  flock 9
  if check; then
    log "engine $ENGINE already fetched: $("$ROOT/usr/sbin/dockerd" --version)"
    return 0
  fi
  [[ $(id -u) -eq 0 ]] || die "fetching engine $ENGINE needs root (apt-get update as the _apt sandbox user)"
  local apt="$ENGINE_DIR/apt" t0 tmp deb
  t0=$(date +%s)
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
  printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian %s main\n' \
    "$SUITE" >"$apt/sources.list"
  log "apt-get update ($SUITE, private lists in $apt)"
  apt_private update >&2
  tmp=$(mktemp -d "$ENGINE_DIR/tmp.XXXXXX")
  chmod 0777 "$tmp" # apt-get download drops privileges to _apt
  log "apt-get download ${PACKAGES[*]}"
  (cd "$tmp" && apt_private download "${PACKAGES[@]}" >&2)
  rm -rf "$ROOT" "$ROOT.tmp"
  mkdir -p "$ROOT.tmp"
  for deb in "$tmp"/*.deb; do
    log "extracting $(basename "$deb")"
    dpkg -x "$deb" "$ROOT.tmp"
  done
  # Keep Debian 12's runc: a runc in the tree would shadow it on PATH.
  rm -f "$ROOT.tmp/usr/sbin/runc" "$ROOT.tmp/usr/bin/runc"
  # docker.io's docker-init points at tini-static, which is not fetched: drop the dangling link
  # so the system's docker-init (Debian 12's tini) is found for `docker run --init`.
  [[ -e "$ROOT.tmp/usr/bin/docker-init" ]] || rm -f "$ROOT.tmp/usr/bin/docker-init"
  # What was fetched, for the record (versions of the .debs).
  for deb in "$tmp"/*.deb; do dpkg-deb -W "$deb"; done >"$ROOT.tmp/.packages"
  rm -rf "$tmp"
  mv "$ROOT.tmp" "$ROOT"
  check || die "engine $ENGINE: the extracted tree does not report dockerd $DOCKERD_VERSION* / containerd $CONTAINERD_VERSION*"
  log "engine $ENGINE fetched in $(($(date +%s) - t0))s: $("$ROOT/usr/sbin/dockerd" --version); $("$ROOT/usr/bin/containerd" --version)"
}

sub=${1:-}
(($#)) && shift
ENGINE=${1:-28}
engine_conf "$ENGINE"
case "$sub" in
  fetch) fetch ;;
  path) [[ -z "$SUITE" ]] || printf '%s\n' "$ROOT/usr/sbin:$ROOT/usr/bin" ;;
  root) [[ -z "$SUITE" ]] || printf '%s\n' "$ROOT" ;;
  check) [[ -z "$SUITE" ]] || check ;;
  *) usage ;;
esac
