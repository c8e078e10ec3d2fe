#!/usr/bin/env bash
# The parity run behind README's parity table, in one command (root):
#
#   scripts/lab/parity.sh                    # Docker 20.10 (Debian 12's docker.io)
#   PARITY_ENGINE=28 scripts/lab/parity.sh   # Docker 28.5 (scripts/lab/engine.sh fetches it)
#
# Builds dist/ and the bundle (`make plugin`), boots the lab VM PARITY_VM (default "parity") on a
# fresh disk under .cache/lab/, runs test/lab/parity.test.ts in it with PARITY_CONTROL=run (every
# scenario on the built-in driver, then on the plugin, which it installs the way the lab does:
# create from the bundle, push to a loopback registry, `docker plugin install`), stops the VM, then
# renders README's parity table from results/parity-docker-<engine>.json (node --import tsx
# bench/render.ts --only parity). Commit results/ with README.md.
#
# That file is also the recorded control that `make test` and CI compare the plugin with (they do
# not rerun the built-in driver): rerun this whenever the scenario list, a scenario's code or the
# engine changes, or CI fails the parity tests as stale.
#
# Env: PARITY_ENGINE (20.10 or 28; default 20.10); PARITY_VM (parity); LAB_SCENARIOS=<regex> runs a subset (written to
#      results/parity-docker-<engine>-subset.json, gitignored, not rendered into the README);
#      PARITY_RESULTS=FILE writes the raw results elsewhere.
# Exit code: the suite's (1 if a required scenario failed), or 1 if the VM did not boot or the
# rendering failed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
REPO=$(pwd -P)
VM_NAME=${PARITY_VM:-parity}
ENGINE=${PARITY_ENGINE:-20.10}
VM=(scripts/lab/vm.sh)
DISK="$REPO/.cache/lab/$VM_NAME-disk.img"
SECONDS=0

say() { printf '[parity] %s\n' "$*" >&2; }
[[ $(id -u) -eq 0 ]] || { say "needs root (qemu, the lab VM)"; exit 1; }

say "build: dist/ and the plugin bundle"
[[ -f node_modules/.package-lock.json && ! package-lock.json -nt node_modules/.package-lock.json ]] ||
  npm ci --no-audit --no-fund >&2
make --no-print-directory plugin >&2

stop_vm() {
  "${VM[@]}" stop --name "$VM_NAME" >&2 || true
  rm -f "$DISK"
}
say "booting VM '$VM_NAME' on a fresh disk, Docker $ENGINE"
stop_vm
trap stop_vm EXIT
"${VM[@]}" start --name "$VM_NAME" --disk "$DISK" --engine "$ENGINE" >&2 || { say "the lab VM did not boot"; exit 1; }

ENVS=(-e "PARITY_COMMAND=scripts/lab/parity.sh" -e "PARITY_CONTROL=run")
[[ -z "${LAB_SCENARIOS:-}" ]] || ENVS+=(-e "LAB_SCENARIOS=$LAB_SCENARIOS")
[[ -z "${PARITY_RESULTS:-}" ]] || ENVS+=(-e "PARITY_RESULTS=$PARITY_RESULTS")
rc=0
"${VM[@]}" exec --name "$VM_NAME" "${ENVS[@]}" -- \
  "cd '$REPO' && node --import tsx --test --test-concurrency=1 test/lab/parity.test.ts" || rc=$?
stop_vm
trap - EXIT
say "suite exit code $rc after ${SECONDS}s"

node --import tsx bench/render.ts --only parity || rc=1
exit "$rc"
