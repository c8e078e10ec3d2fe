#!/bin/sh
# The plugin's own CPU per container lifecycle (bench/replay-lifecycle.mjs), without Docker, and
# what a bare node http server costs for the same seven requests. Inside a lab VM, root, after
# `make plugin`:
#   scripts/lab/vm.sh exec -- 'sh /work/main/bench/replay-lifecycle.sh'
# NODE_FLAGS: extra node options for the plugin (e.g. to try V8 flags).
set -eu
cd "$(dirname "$0")/.."
N=${N:-200}
dist=${DIST:-plugin/rootfs/opt/ipvlan-lan/dist/main.js}
[ -f $dist ] || { echo "$0: $dist missing: make plugin first" >&2; exit 1; }
rm -f /tmp/replay-bare.sock /tmp/replay.sock
node bench/bare-server.mjs /tmp/replay-bare.sock &
bare=$!
while [ ! -S /tmp/replay-bare.sock ]; do sleep 0.2; done
echo "bare server: $(node bench/replay-lifecycle.mjs /tmp/replay-bare.sock $bare rp0 "$N")"
kill $bare
ip link add rp0 type dummy
ip link set rp0 up
state=$(mktemp -d)
# shellcheck disable=SC2086
LOG_LEVEL=info node ${NODE_FLAGS:-} $dist --socket /tmp/replay.sock --state-dir "$state" &
plugin=$!
while [ ! -S /tmp/replay.sock ]; do sleep 0.2; done
echo "plugin:      $(node bench/replay-lifecycle.mjs /tmp/replay.sock $plugin rp0 "$N")"
kill $plugin
wait $plugin || true
rm -rf "$state"
ip link del rp0
