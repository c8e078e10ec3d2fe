#!/bin/sh
# Where a container's CPU goes (a diagnostic, not a benchmark). Inside a lab VM, root, after
# `make plugin`:
#   scripts/lab/vm.sh start --engine 28 && scripts/lab/vm.sh exec -- 'sh /work/main/bench/cpu-per-container.sh'
# The guest has 2 vCPUs and dockerd, containerd and the plugin share them, so CPU a plugin spends
# anywhere (even off a request's critical path) can delay `docker run`. For N (20) sequential
# `docker run -d` + `docker rm -f` on a network of our plugin, of the built-in driver and of the
# floor plugin (bench/floor-plugin.ts), twice, prints per container: wall ms, the whole guest's
# busy CPU ms (/proc/stat) and the CPU ms of our plugin's and the floor's cgroups (each node
# process with its resident `ip`).
set -eu
cd "$(dirname "$0")/.."
P=cpu-ipvlan:latest
F=ipvlan-lan-floor:latest
N=${N:-20}
. bench/lab-plugin.sh
lab_plugin $P info
node --import tsx -e "import('./bench/lab-floor.ts').then((m) => m.createFloor())"
docker plugin enable $F >/dev/null
# CPU microseconds of the cgroup of the process matching $1: cgroup v2 (cpu.stat usage_usec) or
# v1 (cpuacct.usage, ns).
cg_us() {
  pid=$(pgrep -f "$1" | head -n 1)
  [ -n "$pid" ] || { echo "$0: no process matches $1" >&2; exit 1; }
  rel=$(awk -F: '$2 == "" || $2 ~ /cpuacct/ { print $3; exit }' "/proc/$pid/cgroup")
  if [ -f "/sys/fs/cgroup$rel/cpu.stat" ] && grep -q usage_usec "/sys/fs/cgroup$rel/cpu.stat"; then
    awk '/^usage_usec/ { print $2 }' "/sys/fs/cgroup$rel/cpu.stat"
  elif [ -f "/sys/fs/cgroup/cpuacct$rel/cpuacct.usage" ]; then
    echo $(($(cat "/sys/fs/cgroup/cpuacct$rel/cpuacct.usage") / 1000))
  else
    echo "$0: no CPU accounting for cgroup $rel" >&2
    exit 1
  fi
}
ours() { cg_us "dist/main.js --socket"; }
floor() { cg_us "floor.js"; }
ours >/dev/null
floor >/dev/null
for i in 0 1 2; do
  ip link add cp$i type dummy
  ip link set cp$i up
done
docker network create -d $P -o parent=cp0 --subnet 192.168.96.0/24 cpunet >/dev/null
docker network create -d ipvlan -o parent=cp1 --subnet 192.168.97.0/24 cpub >/dev/null
docker network create -d $F -o parent=cp2 --subnet 192.168.98.0/24 cpuf >/dev/null
busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; } # jiffies
hz=$(getconf CLK_TCK)
measure() { # network label
  docker rm -f "$(docker run -d --net "$1" busybox:lab sleep 600)" >/dev/null # warm-up
  sleep 2
  b0=$(busy)
  o0=$(ours)
  f0=$(floor)
  t0=$(date +%s%N)
  i=0
  while [ $i -lt "$N" ]; do
    docker rm -f "$(docker run -d --net "$1" busybox:lab sleep 600)" >/dev/null
    i=$((i + 1))
  done
  t1=$(date +%s%N)
  sleep 2 # the links deleted after the answers
  b1=$(busy)
  o1=$(ours)
  f1=$(floor)
  echo "$2 per container: wall $(((t1 - t0) / 1000000 / N)) ms, guest busy $(((b1 - b0) * 1000 / hz / N)) ms, our plugin $(((o1 - o0) / 1000 / N)) ms, floor $(((f1 - f0) / 1000 / N)) ms"
}
for round in 1 2; do
  measure cpunet "ours   "
  measure cpub "builtin"
  measure cpuf "floor  "
done
docker network rm cpunet cpub cpuf >/dev/null
docker plugin disable -f $P >/dev/null
docker plugin rm -f $P >/dev/null
docker plugin disable -f $F >/dev/null
docker plugin rm -f $F >/dev/null
for i in 0 1 2; do ip link del cp$i; done
