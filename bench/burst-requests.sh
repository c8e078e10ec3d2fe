#!/bin/sh
# Where a burst's time goes, request by request (a diagnostic, not a benchmark: no baseline).
# Inside a lab VM, root, after `make plugin`:
#   scripts/lab/vm.sh start && scripts/lab/vm.sh exec -- 'sh /work/main/bench/burst-requests.sh'
# Creates the plugin as burst-ipvlan:latest at LOG_LEVEL=debug (each request's server-side time goes
# to dockerd's log), starts N (30) `docker run -d` at once on one network on a dummy parent,
# prints the wall time and, per NetworkDriver request, n / median / mean / max and the span from
# the first to the last call, then removes everything it made.
set -eu
cd "$(dirname "$0")/.."
P=burst-ipvlan:latest
N=${N:-30}
. bench/lab-plugin.sh
need_log
lab_plugin $P debug
ip link add brq0 type dummy
ip link set brq0 up
docker network create -d $P -o parent=brq0 --subnet 192.168.93.0/24 burstnet >/dev/null
from=$(($(wc -l < "$LOG") + 1))
t0=$(date +%s%N)
i=0
while [ $i -lt "$N" ]; do
  docker run -d --label burst-requests --net burstnet busybox:lab sleep 600 >/dev/null &
  i=$((i + 1))
done
wait
t1=$(date +%s%N)
echo "burst of $N: $(((t1 - t0) / 1000000)) ms"
tail -n +"$from" "$LOG" > /tmp/burst-requests.log
docker rm -f $(docker ps -aq --filter label=burst-requests) >/dev/null
n=0
until docker network rm burstnet >/dev/null 2>&1; do
  n=$((n + 1))
  [ $n -le 60 ] || { echo "burst-requests: network burstnet not removed" >&2; exit 1; }
  sleep 2
done
docker plugin disable -f $P >/dev/null
docker plugin rm -f $P >/dev/null
ip link del brq0
node bench/request-times.mjs /tmp/burst-requests.log
