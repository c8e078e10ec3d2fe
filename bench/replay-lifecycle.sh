#!/bin/sh
# Our plugin's own CPU and round trips per container lifecycle (bench/replay-lifecycle.mjs: the
# seven requests of a `docker run` + `docker rm`, without Docker), against the floor plugin's
# (bench/floor-plugin.ts: node:http and one resident ip), alternately, ROUNDS (2) times each.
# Inside a lab VM, root, after `make plugin`:
#   scripts/lab/vm.sh exec -- 'sh /work/main/bench/replay-lifecycle.sh'
# N: lifecycles per run (200); GAP_MS: pause between CreateEndpoint and Join (Docker makes the
# container's namespace there); DIST: our program (the bundle's); NODE_FLAGS: node options for
# both (default: the bundle's, from plugin/config.json).
set -eu
cd "$(dirname "$0")/.."
N=${N:-200}
ROUNDS=${ROUNDS:-2}
dist=${DIST:-plugin/rootfs/opt/ipvlan-lan/dist/main.js}
[ -f "$dist" ] || { echo "$0: $dist missing: make plugin first" >&2; exit 1; }
# On tmpfs (/run) like the engines' data roots in the lab, not the 9p-backed /tmp.
work=$(mktemp -d -p /run)
if [ -z "${NODE_FLAGS+set}" ]; then
  NODE_FLAGS=$(node --import tsx -e "import('./test/helpers/bundle-node-flags.ts').then((m) => console.log(m.bundleNodeFlags().join(' ')))")
fi
echo "node options: ${NODE_FLAGS:-(none)}"
node --import tsx -e "import('./bench/lab-floor.ts').then((m) => m.buildFloor('$work/floor.js'))"
ip link add rp0 type dummy
ip link set rp0 up
# $1 label, then the server's command line; it must listen on $work/s.sock.
one() {
  label=$1
  shift
  rm -f "$work/s.sock"
  "$@" &
  server=$!
  while [ ! -S "$work/s.sock" ]; do
    # A server that died before listening must end the run, not leave it waiting.
    kill -0 $server 2>/dev/null || { echo "$0: $label exited before listening" >&2; exit 1; }
    sleep 0.2
  done
  echo "$label $(node bench/replay-lifecycle.mjs "$work/s.sock" $server rp0 "$N")"
  kill $server
  wait $server || true
}
i=0
while [ $i -lt "$ROUNDS" ]; do
  # shellcheck disable=SC2086
  one "floor: " node $NODE_FLAGS "$work/floor.js" "$work/s.sock"
  mkdir -p "$work/state$i"
  # shellcheck disable=SC2086
  one "plugin:" env LOG_LEVEL=info node $NODE_FLAGS "$dist" --socket "$work/s.sock" --state-dir "$work/state$i"
  i=$((i + 1))
done
ip link del rp0
rm -rf "$work"
