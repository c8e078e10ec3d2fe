#!/bin/sh
# How soon a container's IPv6 address is live after `docker run -d` returns, through the plugin and
# through the built-in ipvlan driver, interleaved (a diagnostic: see the README's "Host access",
# on IPv6 addresses going live). Inside a lab VM, root, after `make plugin`:
#   scripts/lab/vm.sh start --engine 28 && scripts/lab/vm.sh exec -- 'sh /work/main/bench/ipv6-live.sh'
# For each of N (20) pairs: `docker run -d` on an l3s IPv6 network, then polls the container's
# table local every 50 ms until its address's local route is there. Prints per driver how many
# containers were not live yet at the first look and the wait (median, max), then removes what it
# made.
set -eu
cd "$(dirname "$0")/.."
P=v6live-ipvlan:latest
N=${N:-20}
OUT=$(mktemp)
docker plugin rm -f $P >/dev/null 2>&1 || true
T=$(mktemp -d)
cp -a plugin/. "$T"
docker plugin create $P "$T" >/dev/null
rm -rf "$T"
docker plugin enable $P >/dev/null
for i in 0 1; do
  ip link add v6l$i type dummy
  ip link set v6l$i up
done
docker network create -d $P -o parent=v6l0 -o ipvlan_mode=l3s --subnet 172.31.1.0/24 \
  --ipv6 --subnet fd31:1::/64 v6l-plugin >/dev/null
docker network create -d ipvlan -o parent=v6l1 -o ipvlan_mode=l3s --subnet 172.31.2.0/24 \
  --ipv6 --subnet fd31:2::/64 v6l-builtin >/dev/null
i=0
while [ $i -lt "$N" ]; do
  for net in plugin builtin; do
    c=$(docker run -d --label ipv6-live --net v6l-$net busybox:lab sleep 600)
    t0=$(date +%s%N)
    # One inspect: under emulation each takes a few hundred ms of the window being measured.
    set -- $(docker inspect -f '{{.State.Pid}} {{range .NetworkSettings.Networks}}{{.GlobalIPv6Address}}{{end}}' "$c")
    pid=$1
    a=${2:-}
    [ -n "$a" ] || { echo "ipv6-live: $c has no IPv6 address" >&2; exit 1; }
    misses=0
    until nsenter -t "$pid" -n ip -6 route show table local "$a" | grep -q "local $a "; do
      misses=$((misses + 1))
      [ $misses -le 1200 ] || { echo "ipv6-live: $a never went live in $c" >&2; exit 1; }
      sleep 0.05
    done
    t1=$(date +%s%N)
    echo "$net $(((t1 - t0) / 1000000)) $misses" >> "$OUT"
    docker rm -f "$c" >/dev/null
  done
  i=$((i + 1))
done
docker network rm v6l-plugin v6l-builtin >/dev/null
docker plugin disable -f $P >/dev/null
docker plugin rm -f $P >/dev/null
ip link del v6l0
ip link del v6l1
echo "docker $(docker version -f '{{.Server.Version}}'), $N containers per driver, l3s, IPv6;"
echo "ms from docker run -d returning to the address's local route (docker inspect included):"
for net in plugin builtin; do
  grep "^$net " "$OUT" | sort -k2 -n | awk -v net="$net" '
    { ms[NR] = $2; if ($3 > 0) late++ }
    END {
      if (NR == 0) { print net ": no samples"; exit 1 }
      printf "%-8s n=%d  not live at the first look: %d  median %d ms  max %d ms\n",
        net, NR, late, ms[int((NR + 1) / 2)], ms[NR]
    }'
done
rm -f "$OUT"
