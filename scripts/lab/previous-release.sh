#!/usr/bin/env bash
# Builds the previous release's plugin bundle, for the upgrade test (test/lab/upgrade.test.ts):
# `docker plugin upgrade` from it to the bundle `make plugin` builds from this tree.
#
#   scripts/lab/previous-release.sh        -> .cache/previous-release/<commit>/plugin (printed)
#
# The previous release is a commit of this repository (PREVIOUS_RELEASE below), exported with
# `git archive` and built by its own scripts, offline like any build (npm registry only). It is
# cached by commit: a second call only prints the path.
#
# Why 11bcd5b: the drop-in for Docker 20.10 as it landed before host access, shared parents and the
# IPAM driver, so its config.json declares one interface and its state files lack every field added
# since (the format is still version 1: src/store/records.ts reads a file without those fields, and
# migrates files of an older version, which no release has written yet).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
PREVIOUS_RELEASE=${PREVIOUS_RELEASE:-11bcd5bd1f5219c865ab109c86c21403c9a72e95}
cd "$REPO"

die() {
  printf '[previous-release] error: %s\n' "$*" >&2
  exit 1
}

# A shallow clone lacks it: ask the clone's origin for that one commit before giving up.
git cat-file -e "$PREVIOUS_RELEASE^{commit}" 2>/dev/null ||
  git fetch --quiet --depth=1 origin "$PREVIOUS_RELEASE" >&2 2>/dev/null || true
git cat-file -e "$PREVIOUS_RELEASE^{commit}" 2>/dev/null ||
  die "commit $PREVIOUS_RELEASE is not in this clone and its origin did not give it (run: git fetch --unshallow)"
commit=$(git rev-parse "$PREVIOUS_RELEASE^{commit}")
out="$REPO/.cache/previous-release/$commit"
if [[ -f "$out/plugin/config.json" && -f "$out/plugin/rootfs/opt/ipvlan-lan/dist/main.js" && -f "$out/done" ]]; then
  printf '%s\n' "$out/plugin"
  exit 0
fi

rm -rf "$out"
mkdir -p "$out/src"
git archive "$commit" | tar -x -C "$out/src"
cd "$out/src"
# Its own dependencies, installed in its own tree: never a link to this tree's node_modules, which
# an `npm ci` run by its scripts would empty.
npm ci --no-audit --no-fund --prefer-offline >&2
npm run --silent build >&2
# The export has no .git: give the rootfs its commit's time (else git would find this tree's).
SOURCE_DATE_EPOCH=$(git -C "$REPO" log -1 --format=%ct "$commit") ROOTFS_SMOKE=0 \
  scripts/build-rootfs.sh >&2
[[ -f plugin/rootfs/opt/ipvlan-lan/dist/main.js ]] || die "the build made no plugin/rootfs"
mv plugin "$out/plugin"
rm -rf "$out/src"
touch "$out/done"
printf '%s\n' "$out/plugin"
