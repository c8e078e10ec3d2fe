# shellcheck shell=bash
# Shared helpers for the lab scripts (sourced, not executed).
# Everything is derived from this file's location so the repo can live anywhere
# (the guest sees the host's / at the same absolute paths).

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO_ROOT=$(cd "$LAB_DIR/../.." && pwd -P)
CACHE_DIR="$REPO_ROOT/.cache/lab"

log() { printf '[lab] %s\n' "$*" >&2; }
die() {
  printf '[lab] error: %s\n' "$*" >&2
  exit 125
}

# The repo path goes on the kernel command line and into the guest's inittab.
case "$REPO_ROOT" in
  *[[:space:]\"\'\\]*) die "repo path must not contain whitespace, quotes or backslashes: $REPO_ROOT" ;;
esac

# Resolved by build.sh (or read back from the cache by lab_load_kernel).
lab_load_kernel() {
  [[ -f "$CACHE_DIR/kernel.env" ]] || return 1
  # shellcheck disable=SC1091
  . "$CACHE_DIR/kernel.env"
  [[ -f "${KERNEL_IMAGE:-}" && -f "${INITRAMFS:-}" && -d "${MODULES_ROOT:-}" ]]
}
