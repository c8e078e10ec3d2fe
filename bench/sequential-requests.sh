#!/bin/sh
# Where one container's time goes, request by request (a diagnostic, not a benchmark: medians of a
# dozen samples). Inside a lab VM, root, after `make plugin`:
#   scripts/lab/vm.sh start --engine 28 && scripts/lab/vm.sh exec -- 'sh /work/main/bench/sequential-requests.sh'
# Creates the plugin as seq-ipvlan:latest at LOG_LEVEL=debug (each request's server-side time goes
# to dockerd's log), then N (12) times, one after the other: `docker run -d` + `docker rm -f` on a
# plugin network, then on a built-in ipvlan network, each on its own dummy parent. Prints each
# lifecycle's run and rm milliseconds and, for the plugin, every NetworkDriver request's
# server-side time; then removes everything it made.
set -eu
cd "$(dirname "$0")/.."
P=seq-ipvlan:latest
N=${N:-12}
. bench/lab-plugin.sh
need_log
lab_plugin $P debug
ip link add sq0 type dummy
ip link set sq0 up
ip link add sq1 type dummy
ip link set sq1 up
docker network create -d $P -o parent=sq0 --subnet 192.168.94.0/24 seqnet >/dev/null
docker network create -d ipvlan -o parent=sq1 --subnet 192.168.95.0/24 seqb >/dev/null
ms() { echo $((($(date +%s%N) - $1) / 1000000)); }
seen=0
i=0
while [ $i -lt "$N" ]; do
  for net in seqnet seqb; do
    from=$(($(wc -l < "$LOG") + 1))
    t0=$(date +%s%N)
    id=$(docker run -d --net $net busybox:lab sleep 600)
    run=$(ms "$t0")
    t0=$(date +%s%N)
    docker rm -f "$id" >/dev/null
    rm=$(ms "$t0")
    if [ $net = seqnet ]; then
      # dockerd quotes the plugin's line: "path":"/NetworkDriver.X","status":200,"ms":12.3
      reqs=$(tail -n +"$from" "$LOG" |
        grep -o '\\"path\\":\\"/NetworkDriver.[A-Za-z]*\\",\\"status\\":[0-9]*,\\"ms\\":[0-9.]*' |
        sed 's/\\"path\\":\\"\/NetworkDriver.//; s/\\",\\"status\\":[0-9]*,\\"ms\\":/=/' | tr '\n' ' ')
      [ -n "$reqs" ] && seen=$((seen + 1))
      echo "plugin  run=$run rm=$rm | $reqs"
    else
      echo "builtin run=$run rm=$rm"
    fi
    sleep 1
  done
  i=$((i + 1))
done
docker network rm seqnet seqb >/dev/null
docker plugin disable -f $P >/dev/null
docker plugin rm -f $P >/dev/null
ip link del sq0
ip link del sq1
# Every check must be able to fail: no request times means the log format or path changed.
[ "$seen" -eq "$N" ] || { echo "sequential-requests: request times found for $seen of $N lifecycles" >&2; exit 1; }
