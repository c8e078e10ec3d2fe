#!/usr/bin/env bash
# The benchmark suite (README / issue 4): `npm run bench` or `make bench`. Not part of `make test`.
#
#   host:   5b start-up of the compiled program vs bare node, 6 rootfs size       (bench/host.ts)
#   lab VM: 2 driver cost, 3 scale, 4 throughput, 5a RSS on a real ipvlan kernel  (bench/lab-driver.ts)
#           1 docker run/rm through the plugin vs the built-in ipvlan driver      (bench/lab-docker.ts)
#           both run by bench/lab.ts
#
# Builds dist/ and the bundle first, boots its own lab VM (BENCH_VM, default "bench", on a fresh
# disk) and stops it at the end. Prints a markdown table and writes bench/results/<date>.json.
# Every figure is a ratio to a baseline measured in the same run, interleaved pair by pair.
#
# Env: BENCH_VM (bench), BENCH_QUICK=1 (few pairs: checks the plumbing, numbers not meaningful),
#      BENCH_SKIP_LAB=1 (host part only), BENCH_DOCKER_PAIRS (20), BENCH_DRIVER_PAIRS (60).
# Needs root (network namespaces, qemu, dockerd in the VM).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$(pwd -P)
VM_NAME=${BENCH_VM:-bench}
VM=(scripts/lab/vm.sh)
STAMP=$(date -u +%Y-%m-%dT%H-%M-%SZ)
PARTS="$REPO/bench/results/.parts/$STAMP"
DISK="$REPO/.cache/lab/$VM_NAME-disk.img"
SECONDS=0

say() { printf '[bench] %s\n' "$*" >&2; }
# The lab is TCG: other VMs on this host slow it down; the report says what else was running.
machine() {
  printf 'load %s, other lab VMs %s' "$(cut -d' ' -f1-3 /proc/loadavg)" \
    "$(pgrep -f 'qemu-system.*lab\.name=' | grep -vcxF "$(cat ".cache/lab/$VM_NAME/qemu.pid" 2>/dev/null || echo none)" || true)"
}
[[ $(id -u) -eq 0 ]] || { say "needs root (network namespaces, the lab VM)"; exit 1; }

if [[ "${BENCH_QUICK:-0}" = 1 ]]; then
  HOST_ARGS=(--rounds 5)
  LAB_ARGS=(--pairs 10 --scale-rounds 5 --sizes 5,10,50 --throughput-rounds 2 --per-round 32 --docker-pairs 2 --docker-warmup 0)
else
  HOST_ARGS=(--rounds 30)
  LAB_ARGS=(--pairs "${BENCH_DRIVER_PAIRS:-60}" --scale-rounds 30 --throughput-rounds 20 --per-round 32
    --docker-pairs "${BENCH_DOCKER_PAIRS:-20}" --docker-warmup 1)
fi

ENV_START="$(nproc) CPUs; at start: $(machine)"
say "build: dist/ and the plugin bundle"
[[ -f node_modules/.package-lock.json && ! package-lock.json -nt node_modules/.package-lock.json ]] ||
  npm ci --no-audit --no-fund >&2
npm run --silent build >&2
make --no-print-directory plugin >&2
mkdir -p "$PARTS"
failed=0

say "host part"
node --import tsx bench/host.ts --out "$PARTS/host.json" "${HOST_ARGS[@]}" || failed=1

lab() { "${VM[@]}" exec --name "$VM_NAME" -- "cd '$REPO' && $1"; }
if [[ "${BENCH_SKIP_LAB:-0}" != 1 ]]; then
  say "lab part: booting VM '$VM_NAME' on a fresh disk"
  "${VM[@]}" stop --name "$VM_NAME" >&2 || true
  rm -f "$DISK"
  trap '"${VM[@]}" stop --name "$VM_NAME" >&2 || true; rm -f "$DISK"' EXIT
  if "${VM[@]}" start --name "$VM_NAME" --disk "$DISK" >&2; then
    lab "node --import tsx bench/lab.ts --out '$PARTS/lab.json' ${LAB_ARGS[*]}" >&2 || failed=1
  else
    say "the lab VM did not boot"
    failed=1
  fi
  "${VM[@]}" stop --name "$VM_NAME" >&2 || true
  rm -f "$DISK"
  trap - EXIT
  LAB_PARTS=("$PARTS/lab.json")
else
  say "lab part skipped (BENCH_SKIP_LAB=1)"
  LAB_PARTS=()
fi

# The report embeds every part: the part files are only kept when something failed.
if node --import tsx bench/report.ts --out "bench/results/$STAMP.json" --command "npm run bench" \
  --env "$ENV_START; at end: $(machine)" --duration-s "$SECONDS" "$PARTS/host.json" "${LAB_PARTS[@]}"; then
  ((failed)) || rm -rf "$PARTS"
else
  failed=1
fi
say "wrote bench/results/$STAMP.json in ${SECONDS}s"
exit "$failed"
