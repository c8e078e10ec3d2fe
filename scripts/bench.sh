#!/usr/bin/env bash
# The benchmark suite (README / issue 4): `npm run bench` or `make bench`. Not part of `make test`.
#
#   host:   5b start-up of the compiled program vs bare node, 6 rootfs size       (bench/host.ts)
#           9 cluster IPAM: allocations/s of 3 plugin processes on one real etcd vs 1
#             (bench/host-ipam.ts; needs /usr/bin/etcd, fails without it; alone:
#             node --import tsx bench/host.ts --only ipam --out FILE, see bench/README.md)
#   lab VM: 2 driver cost, 3 scale, 4 throughput, 5a RSS on a real ipvlan kernel  (bench/lab-driver.ts)
#           1 docker run/rm through the plugin vs the built-in ipvlan driver      (bench/lab-docker.ts)
#           9c docker run/rm through the plugin: cluster IPAM on etcd vs Docker's default IPAM
#              (bench/lab-docker-ipam.ts; etcd started in the VM)
#           both run by bench/lab.ts on Docker 20.10; then 1 again on Docker 28 in the same
#           boot (rows 1@28, 1b@28, ...), each engine against its own built-in driver
#
# Builds dist/ and the bundle first, boots its own lab VM (BENCH_VM, default "bench", on a fresh
# disk) and stops it at the end. Every figure is a ratio to a baseline measured in the same run,
# interleaved pair by pair. Writes the raw results to results/bench-<date>.json and, when the run
# is complete, results/bench-latest.json, then renders from it (bench/render.ts) the table in
# bench/README.md and the summary in README.md. Commit results/ with the READMEs.
#
# Env: BENCH_VM (bench), BENCH_QUICK=1 (few pairs: checks the plumbing, numbers not meaningful),
#      BENCH_SKIP_LAB=1 (host part only), BENCH_DOCKER_PAIRS (20), BENCH_DRIVER_PAIRS (60),
#      BENCH_IPAM_PAIRS (6: benchmark 9's pairs, each two samples of 192 allocations),
#      BENCH_IPAM_DOCKER_PAIRS (10: benchmark 9c's pairs of containers),
#      BENCH_ENGINES (28: the engines benchmark 1 runs on after 20.10; empty for 20.10 only),
#      BENCH_RESULTS_DIR (results/; with BENCH_QUICK=1 .cache/bench-quick/). Outside results/,
#      the READMEs are not touched: copies of them in that directory are rendered instead.
#      BENCH_ONLY=burst: benchmark 1d alone, on Docker 20.10 and BENCH_ENGINES (18-20 min on a
#      fast day, 2026-12-04; a slow day's bursts take about three times as long);
#      writes results/bench-<date>-burst.json and prints its table, nothing else is touched.
#      BENCH_ONLY=run: benchmark 1 (run + rm, 1b, 1c) alone, likewise, into bench-<date>-run.json;
#      with BENCH_DOCKER_PAIRS=60 18 min on 2026-12-05 (more pairs narrow the median's interval).
# Needs root (network namespaces, qemu, dockerd in the VM).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$(pwd -P)
VM_NAME=${BENCH_VM:-bench}
VM=(scripts/lab/vm.sh)
STAMP=$(date -u +%Y-%m-%dT%H-%M-%SZ)
PARTS="$REPO/.cache/bench-parts/$STAMP"
PUBLISHED="$REPO/results"
if [[ "${BENCH_QUICK:-0}" = 1 ]]; then
  RESULTS_DIR=${BENCH_RESULTS_DIR:-$REPO/.cache/bench-quick}
else
  RESULTS_DIR=${BENCH_RESULTS_DIR:-$PUBLISHED}
fi
mkdir -p "$RESULTS_DIR"
RESULTS_DIR=$(cd "$RESULTS_DIR" && pwd -P)
ONLY=${BENCH_ONLY:-}
[[ -z "$ONLY" || "$ONLY" = burst || "$ONLY" = run ]] || { echo "BENCH_ONLY: expected burst, run or nothing, got $ONLY" >&2; exit 1; }
RESULT="$RESULTS_DIR/bench-$STAMP${ONLY:+-$ONLY}.json"
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
  HOST_ARGS=(--rounds 5 --ipam-pairs 2 --ipam-allocations 96)
  LAB_ARGS=(--pairs 10 --scale-rounds 5 --sizes 5,10,50 --throughput-rounds 2 --per-round 32 --docker-pairs 2 --docker-warmup 0 --burst 5 --burst-rounds 1 --ipam-docker-pairs 2)
else
  HOST_ARGS=(--rounds 30 --ipam-pairs "${BENCH_IPAM_PAIRS:-6}" --ipam-allocations 192)
  LAB_ARGS=(--pairs "${BENCH_DRIVER_PAIRS:-60}" --scale-rounds 30 --throughput-rounds 20 --per-round 32
    --docker-pairs "${BENCH_DOCKER_PAIRS:-20}" --docker-warmup 1 --ipam-docker-pairs "${BENCH_IPAM_DOCKER_PAIRS:-10}")
fi
# What runs on Docker 20.10, then on each of BENCH_ENGINES.
FIRST_ONLY=()
ENGINE_ONLY=(--only docker,cluster-ipam)
[[ -z "$ONLY" ]] || { FIRST_ONLY=(--only "$ONLY"); ENGINE_ONLY=(--only "$ONLY"); }

ENV_START="$(nproc) CPUs; commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' with uncommitted changes'); at start: $(machine)"
say "build: dist/ and the plugin bundle"
[[ -f node_modules/.package-lock.json && ! package-lock.json -nt node_modules/.package-lock.json ]] ||
  npm ci --no-audit --no-fund >&2
npm run --silent build >&2
make --no-print-directory plugin >&2
mkdir -p "$PARTS"
failed=0

HOST_PARTS=()
if [[ -z "$ONLY" ]]; then
  say "host part"
  HOST_PARTS=("$PARTS/host.json")
  node --import tsx bench/host.ts --out "$PARTS/host.json" "${HOST_ARGS[@]}" || failed=1
fi

lab() { "${VM[@]}" exec --name "$VM_NAME" -- "cd '$REPO' && $1"; }
if [[ "${BENCH_SKIP_LAB:-0}" != 1 ]]; then
  say "lab part: booting VM '$VM_NAME' on a fresh disk"
  "${VM[@]}" stop --name "$VM_NAME" >&2 || true
  rm -f "$DISK"
  trap '"${VM[@]}" stop --name "$VM_NAME" >&2 || true; rm -f "$DISK"' EXIT
  LAB_PARTS=("$PARTS/lab.json")
  if "${VM[@]}" start --name "$VM_NAME" --disk "$DISK" >&2; then
    lab "node --import tsx bench/lab.ts ${FIRST_ONLY[*]} --out '$PARTS/lab.json' ${LAB_ARGS[*]}" >&2 || failed=1
    # Benchmark 1 again on each other engine, in the same boot, against that engine's own
    # built-in driver (its own data root; scripts/lab/guest/dockerd.sh switches engines).
    for engine in ${BENCH_ENGINES-28}; do
      say "lab part on Docker $engine: ${ONLY:-benchmark 1 against its built-in driver, 9c}"
      LAB_PARTS+=("$PARTS/lab-$engine.json")
      if scripts/lab/engine.sh fetch "$engine" >&2 &&
        lab "LAB_ENGINE=$engine sh scripts/lab/guest/dockerd.sh restart" >&2; then
        lab "node --import tsx bench/lab.ts ${ENGINE_ONLY[*]} --engine-tag '$engine' --out '$PARTS/lab-$engine.json' ${LAB_ARGS[*]}" >&2 || failed=1
      else
        say "Docker $engine did not start in the lab VM"
        failed=1
      fi
    done
  else
    say "the lab VM did not boot"
    failed=1
  fi
  "${VM[@]}" stop --name "$VM_NAME" >&2 || true
  rm -f "$DISK"
  trap - EXIT
else
  say "lab part skipped (BENCH_SKIP_LAB=1)"
  LAB_PARTS=()
fi

# The report embeds every part: the part files are only kept when something failed. Only a
# complete run becomes bench-latest.json, the file the tables are rendered from.
LATEST=()
((failed)) || [[ -n "$ONLY" ]] || LATEST=(--latest "$RESULTS_DIR/bench-latest.json")
if node --import tsx bench/report.ts --out "$RESULT" "${LATEST[@]}" --command "${ONLY:+BENCH_ONLY=$ONLY }${BENCH_DOCKER_PAIRS:+BENCH_DOCKER_PAIRS=$BENCH_DOCKER_PAIRS }npm run bench" \
  --quick "${BENCH_QUICK:-0}" --env "$ENV_START; at end: $(machine)" --duration-s "$SECONDS" \
  "${HOST_PARTS[@]}" "${LAB_PARTS[@]}"; then
  ((failed)) || rm -rf "$PARTS"
else
  failed=1
fi
say "wrote $RESULT in ${SECONDS}s"

if ((failed)); then
  say "the run failed: bench-latest.json and the READMEs are left as they were (parts: $PARTS)"
  exit 1
fi
if [[ -n "$ONLY" ]]; then
  say "BENCH_ONLY=$ONLY: $RESULT written; bench-latest.json and the READMEs untouched"
  exit 0
fi
if [[ "$RESULTS_DIR" = "$PUBLISHED" ]]; then
  node --import tsx bench/render.ts --only bench
  say "rendered README.md and bench/README.md from results/bench-latest.json: commit results/ with them"
else
  cp README.md "$RESULTS_DIR/README.md"
  cp bench/README.md "$RESULTS_DIR/bench-README.md"
  node --import tsx bench/render.ts --only bench --results "$RESULTS_DIR" \
    --readme "$RESULTS_DIR/README.md" --bench-readme "$RESULTS_DIR/bench-README.md"
  say "scratch results in $RESULTS_DIR: rendered copies README.md and bench-README.md there (the repo's READMEs untouched)"
fi
