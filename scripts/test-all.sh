#!/usr/bin/env bash
# The project's one test command (README: `make test`): installs what is missing, then runs every
# tier. unit (anywhere) -> host netns + host Docker (root) -> lab VM (real ipvlan kernel, real
# dockerd, the plugin as users install it): Docker 28 with the reboot, then Docker 20.10, then
# three Docker 28 hosts on one LAN with etcd (the fleet). In CI (CI=true) a tier that cannot run is
# a failure; locally it is reported loudly and the run still fails at the end unless
# ALLOW_SKIP=1, so a green run always means every tier ran.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$(pwd)

declare -a RESULTS=()
FAILED=0
NOT_RUN=0
LOCKUPS=0
LAST_RC=0
# A hang must not eat CI's 90 minutes without a summary: each tier gets what is left of
# TEST_BUDGET_S (84 min) as its time limit, and a tier that would start past it fails as such.
BUDGET=${TEST_BUDGET_S:-5040}
[[ "$BUDGET" =~ ^[0-9]+$ ]] || {
  echo "TEST_BUDGET_S=$BUDGET: expected whole seconds" >&2
  exit 2
}
REMAINING=$BUDGET
elapsed() { printf '%dm%02ds' $((SECONDS / 60)) $((SECONDS % 60)); }
say() { printf '\n=== [%s] %s\n' "$(elapsed)" "$*"; }
record() { RESULTS+=("$(printf '%-34s %s' "$1" "$2")"); }

tier() { # name command... (a shell function here, or a program run under timeout)
  local name=$1
  shift
  LAST_RC=1
  say "tier: $name"
  local started=$SECONDS
  REMAINING=$((BUDGET - SECONDS))
  if ((REMAINING < 60)); then
    record "$name" "FAIL (not started: past the ${BUDGET} s budget)"
    FAILED=$((FAILED + 1))
    return
  fi
  local runner=(timeout --kill-after=30 "$REMAINING")
  declare -F "$1" >/dev/null && runner=()
  LAST_RC=0
  "${runner[@]}" "$@" || LAST_RC=$?
  if ((LAST_RC == 0)); then
    record "$name" "PASS ($((SECONDS - started)) s)"
  elif ((LAST_RC == 123)) && [ "${LAB_TIER:-}" = 1 ]; then
    # vm.sh exec: the lab VM's kernel locked up (lab_tier reruns the tier in a fresh boot).
    record "$name" "LAB VM KERNEL LOCKUP ($((SECONDS - started)) s): rerun below"
    LOCKUPS=$((LOCKUPS + 1))
  else
    record "$name" "FAIL ($((SECONDS - started)) s)"
    FAILED=$((FAILED + 1))
  fi
}

not_run() { # name reason
  printf '\n!!! tier %s NOT RUN: %s\n' "$1" "$2" >&2
  record "$1" "NOT RUN: $2"
  NOT_RUN=$((NOT_RUN + 1))
}

# A lab tier (vm.sh exec) that, if the VM's kernel locks up under it (vm.sh exit 123: a CPU stuck
# for 5 min, seen under TCG on 2026-12-04 in the crash suite's first start, both vCPUs in runc),
# is run once more in a fresh boot of the VM, made as before (lab_boot args after the label).
# The lockup is shown in the summary; a second one fails the tier.
# Usage: lab_tier NAME BOOT_LABEL "BOOT ARGS" COMMAND...
lab_tier() {
  local name=$1 label=$2 boot=$3
  shift 3
  LAB_TIER=1 tier "$name" "$@"
  ((LAST_RC == 123)) || return 0
  say "the lab VM's kernel locked up during '$name' (its console: $REPO/.cache/lab/lab/console.log); booting it again for one more run of the tier"
  cp "$REPO/.cache/lab/lab/console.log" "$REPO/.cache/lab/lockup-console-$(date +%s).log" || true
  scripts/lab/vm.sh stop --name lab || true
  if [[ " $boot " == *" --disk "* ]]; then rm -f "${boot##*--disk }"; fi # a fresh disk
  # shellcheck disable=SC2086 # boot args are words
  lab_boot "$label, again after a kernel lockup" $boot || return 0
  tier "$name (rerun after a kernel lockup)" "$@"
}

lab_exec() { scripts/lab/vm.sh exec --name lab --timeout "$REMAINING" -- "$1"; }
# Fails unless the lab's dockerd is the expected engine (the version's major number).
engine_is() { printf "[ \"\$(docker version --format '{{.Server.Version}}' | cut -d. -f1)\" = %s ]" "$1"; }

# In the VM the tests run compiled (scripts/compile-tests.mjs: tsx cost 12-29 s per file there),
# a file at a time with their results as they come (scripts/lab/guest/run-tests.sh).
JS=.cache/js

# The lab's netns files: every test/netns file but the IPAM ones (ipam-*: a real etcd and plugin
# processes as hosts), which need no ipvlan kernel and already ran on the host (under emulation
# they take minutes).
lab_netns_files() {
  local files=()
  for f in "$JS"/test/netns/*.test.js; do
    case "$f" in "$JS"/test/netns/ipam-*) ;; *) files+=("$f") ;; esac
  done
  ((${#files[@]} > 0)) || return 1
  printf '%s ' "${files[@]}"
}

# Boots the lab VM (vm.sh start args after the label); a failed boot is recorded as a failed tier.
lab_boot() {
  local label=$1
  shift
  say "booting the lab VM ($label)"
  scripts/lab/vm.sh start --name lab "$@" && return 0
  record "lab VM boot ($label)" "FAIL"
  FAILED=$((FAILED + 1))
  return 1
}

# Docker 28, the engine users run, gets every lab file in a VM booted on a disk: install from a
# registry, lifecycle, IPAM, host access, shared parent, crashes, upgrade, the whole parity suite
# (the plugin's column; the built-in's is the recorded table), then the reboot test on that disk.
# Docker 20.10 then gets a fresh boot on a second disk: its own install and lifecycle (create,
# enable, push, install, disable/enable, set), the parity scenarios whose behaviour differs between
# engines, the upgrade from the previous release, the leak check, and the reboot. Its other parity
# scenarios, crash safety, IPAM, host access and shared parent are recorded runs, one command each.
# Why not everything on both: README "Tests".
lab_tiers() {
  tier "build plugin bundle" make --no-print-directory plugin
  tier "build previous release bundle (upgrade test)" scripts/lab/previous-release.sh
  tier "compile tests for the VM" node scripts/compile-tests.mjs "$JS"
  local disk="$REPO/.cache/lab/lab-disk.img" netns
  rm -f "$disk"
  if lab_boot "Docker 28" --engine 28 --disk "$disk"; then
    if netns=$(lab_netns_files); then
      lab_tier "lab: netns tier on an ipvlan kernel" "Docker 28" "--engine 28 --disk $disk" \
        lab_exec "cd '$REPO' && PLUGIN_ENTRY=dist scripts/lab/guest/run-tests.sh $netns"
    else
      record "lab: netns tier on an ipvlan kernel" "FAIL (no test file found)"
      FAILED=$((FAILED + 1))
    fi
    lab_tier "lab Docker 28: install, parity, lifecycle, IPAM, host access, shared parent, crashes, upgrade" \
      "Docker 28" "--engine 28 --disk $disk" lab_exec "cd '$REPO' && $(engine_is 28) && scripts/lab/guest/run-tests.sh $JS/test/lab/*.test.js"
    # Takes over the running VM (plugin installed) and stops it at the end.
    tier "lab Docker 28: host reboot (VM booted twice)" \
      env LAB_VM=lab LAB_DISK="$disk" LAB_ENGINE=28 node --import tsx --test --test-concurrency=1 test/lab-host/*.test.ts
  fi
  scripts/lab/vm.sh stop --name lab || true
  rm -f "$disk"

  if lab_boot "Docker 20.10" --disk "$disk"; then
    lab_tier "lab Docker 20.10: install, lifecycle, engine-specific parity, upgrade" \
      "Docker 20.10" "--disk $disk" lab_exec "cd '$REPO' && $(engine_is 20) && LAB_SCENARIO_SET=engine-specific scripts/lab/guest/run-tests.sh $(printf "$JS/test/lab/%s.test.js " lifecycle parity upgrade zz-no-leaks)"
    tier "lab Docker 20.10: host reboot (VM booted twice)" \
      env LAB_VM=lab LAB_DISK="$disk" LAB_ENGINE=20.10 node --import tsx --test --test-concurrency=1 test/lab-host/*.test.ts
  fi
  scripts/lab/vm.sh stop --name lab || true
  rm -f "$disk"

  # Issue 9's multi-host tier: three Docker 28 hosts (network namespaces, a dockerd each) on one
  # bridge in a fresh boot, one etcd, the plugin installed on each from a registry on that LAN.
  # 8 GiB: its 3 x 30 containers at once leave a 4 GiB VM without memory (the file checks).
  local -x LAB_MEM=8192 # for vm.sh start, here and in a rerun's boot
  if lab_boot "Docker 28, three hosts on one LAN" --engine 28; then
    lab_tier "lab fleet, Docker 28: 3 hosts x 30 containers, etcd, Swarm, kills, etcd outage, reclaim" \
      "Docker 28, three hosts on one LAN" "--engine 28" lab_exec "cd '$REPO' && $(engine_is 28) && scripts/lab/guest/run-tests.sh $JS/test/lab-fleet/fleet.test.js"
  fi
  scripts/lab/vm.sh stop --name lab || true
}

say "dependencies"
scripts/deps.sh

tier "typecheck" npm run --silent typecheck
tier "lint + format" npm run --silent lint
tier "unit" npm run --silent test:unit

if [ "$(id -u)" = 0 ]; then
  tier "host netns (real ip, host kernel)" npm run --silent test:netns
  tier "host docker (bundle on dockerd)" npm run --silent test:host
  if [ "${SKIP_LAB:-0}" = 1 ]; then
    not_run "lab" "SKIP_LAB=1"
  else
    lab_tiers
  fi
else
  not_run "host netns" "needs root"
  not_run "host docker" "needs root"
  not_run "lab" "needs root (qemu, dockerd)"
fi

say "summary"
printf '%s\n' "${RESULTS[@]}"
echo "total: $(elapsed)"
if [ "$LOCKUPS" -gt 0 ]; then
  echo "NOTE: the lab VM's kernel locked up $LOCKUPS time(s) (TCG); each such tier ran again in a fresh boot, above"
fi
if [ "$FAILED" -gt 0 ]; then
  echo "RESULT: $FAILED tier(s) failed"
  exit 1
fi
if [ "$NOT_RUN" -gt 0 ] && { [ "${CI:-}" = true ] || [ "${ALLOW_SKIP:-0}" != 1 ]; }; then
  echo "RESULT: $NOT_RUN tier(s) NOT RUN: this is not a pass (set ALLOW_SKIP=1 locally to accept)"
  exit 1
fi
echo "RESULT: all tiers passed"
