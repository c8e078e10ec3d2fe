#!/bin/sh
# How much of a request's round trip is the plugin's own (a diagnostic, not a benchmark). Inside a
# lab VM, root, after `make plugin`:
#   scripts/lab/vm.sh start --engine 28 && scripts/lab/vm.sh exec -- 'sh /work/main/bench/socket-latency.sh'
# The same node client (bench/socket-latency.mjs: 300 sequential no-op requests, keep-alive, short
# idle gaps) against a bare node http server that parses the JSON and answers {}
# (bench/bare-server.mjs), then against the plugin as Docker runs it (LOG_LEVEL=info). The
# difference is what Hono, valibot and the handlers add per request; the bare figure is node's
# HTTP cost on both ends.
set -eu
cd "$(dirname "$0")/.."
node bench/bare-server.mjs /tmp/bare-latency.sock &
bare=$!
sleep 2
echo "bare node server: $(node bench/socket-latency.mjs /tmp/bare-latency.sock)"
kill $bare
P=latency-ipvlan:latest
. bench/lab-plugin.sh
lab_plugin $P info
id=$(docker plugin inspect -f '{{.Id}}' $P)
echo "plugin:           $(node bench/socket-latency.mjs "/run/docker/plugins/$id/ipvlan-lan.sock")"
docker plugin disable -f $P >/dev/null
docker plugin rm -f $P >/dev/null
