#!/bin/sh
# Where a container's CPU goes (a diagnostic, not a benchmark). Inside a lab VM, root, after
# `make plugin`:
#   scripts/lab/vm.sh start --engine 28 && scripts/lab/vm.sh exec -- 'sh /work/main/bench/cpu-per-container.sh'
# The guest has 2 vCPUs and dockerd, containerd and the plugin share them, so CPU the plugin
# spends anywhere (even off a request's critical path) delays `docker run`. For N (20)
# sequential `docker run -d` + `docker rm -f` on a plugin network, then N on a built-in
# ipvlan network, prints per container: wall ms, the whole guest's busy CPU ms (/proc/stat),
# and the plugin's cgroup CPU ms (its node process and its resident `ip`).
set -eu
cd "$(dirname "$0")/.."
P=cpu-ipvlan:latest
N=${N:-20}
LEVEL=${LEVEL:-info}
. bench/lab-plugin.sh
lab_plugin $P "$LEVEL"
id=$(docker plugin inspect -f '{{.Id}}' $P)
# cgroup v2 (cpu.stat usage_usec) or v1 (cpuacct.usage, ns): the plugin's node process's own group.
pid=$(pgrep -f "dist/main.js --socket" | head -n 1)
[ -n "$pid" ] || { echo "$0: no plugin process" >&2; exit 1; }
rel=$(awk -F: '$2 == "" || $2 ~ /cpuacct/ { print $3; exit }' "/proc/$pid/cgroup")
if [ -f "/sys/fs/cgroup$rel/cpu.stat" ] && grep -q usage_usec "/sys/fs/cgroup$rel/cpu.stat"; then
  plugin_us() { awk '/^usage_usec/ { print $2 }' "/sys/fs/cgroup$rel/cpu.stat"; }
elif [ -f "/sys/fs/cgroup/cpuacct$rel/cpuacct.usage" ]; then
  plugin_us() { echo $(($(cat "/sys/fs/cgroup/cpuacct$rel/cpuacct.usage") / 1000)); }
else
  echo "$0: no CPU accounting for the plugin's cgroup $rel" >&2
  exit 1
fi
ip link add cp0 type dummy
ip link set cp0 up
ip link add cp1 type dummy
ip link set cp1 up
docker network create -d $P -o parent=cp0 --subnet 192.168.96.0/24 cpunet >/dev/null
docker network create -d ipvlan -o parent=cp1 --subnet 192.168.97.0/24 cpub >/dev/null
busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; } # jiffies (10 ms)
hz=$(getconf CLK_TCK)
measure() { # network label
  docker rm -f "$(docker run -d --net "$1" busybox:lab sleep 600)" >/dev/null # warm-up
  sleep 2
  b0=$(busy)
  p0=$(plugin_us)
  t0=$(date +%s%N)
  i=0
  while [ $i -lt "$N" ]; do
    docker rm -f "$(docker run -d --net "$1" busybox:lab sleep 600)" >/dev/null
    i=$((i + 1))
  done
  t1=$(date +%s%N)
  b1=$(busy)
  p1=$(plugin_us)
  echo "$2 per container: wall $(((t1 - t0) / 1000000 / N)) ms, guest busy $(((b1 - b0) * 1000 / hz / N)) ms, plugin cgroup $(((p1 - p0) / 1000 / N)) ms"
}
measure cpunet plugin
measure cpub builtin
measure cpunet plugin
measure cpub builtin
docker network rm cpunet cpub >/dev/null
docker plugin disable -f $P >/dev/null
docker plugin rm -f $P >/dev/null
ip link del cp0
ip link del cp1
