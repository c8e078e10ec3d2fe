#!/bin/sh
# Several Docker hosts on one LAN inside the lab VM (issue 9; ../shared/LAB.md "Several Docker
# hosts inside one VM"): fleet.sh up N | down | start hN | kill hN | remove hN | pid hN | plugin-pid hN
#
# The LAN is the bridge fl-lan (10.199.1.254/23 in the VM's own namespace: the router, where etcd
# and the registry listen). Host hI is the network namespace hI with a veth onto the bridge whose
# name differs per host, as NIC names do across a fleet (h1: eth0, h2: ens3, h3: enp1s0,
# h4: eno1), address 10.199.1.I/23 and a default route via .254. Its dockerd runs in a private
# mount and UTS namespace (host name hI) with its own /run/docker/plugins (managed plugins of
# every daemon would otherwise share it), data root /var/lib/fleet/hI, exec root /run/fleet/hI,
# socket /run/fleet/hI.sock. `ip netns exec` cannot start it: it remounts /sys and dockerd then
# fails ("Devices cgroup isn't mounted"). The engine is the one the lab VM runs (dockerd.sh engine).
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"

ENGINE=$(sh "$LAB_SHARE/scripts/lab/guest/dockerd.sh" engine)
BRIDGE=fl-lan

ifname() {
  case "$1" in
    h1) echo eth0 ;; h2) echo ens3 ;; h3) echo enp1s0 ;; h4) echo eno1 ;;
    *) echo "fleet.sh: no host $1 (h1..h4)" >&2; return 1 ;;
  esac
}
num() { echo "${1#h}"; }
sock() { echo "/run/fleet/$1.sock"; }

engine_path() {
  if [ "$ENGINE" = 20.10 ]; then
    echo "$PATH"
  else
    tree=/run/lab/engine-$ENGINE
    [ -x "$tree/usr/sbin/dockerd" ] || { echo "fleet.sh: $tree missing (start the lab dockerd first)" >&2; return 1; }
    echo "$tree/usr/sbin:$tree/usr/bin:$PATH"
  fi
}

# The bridge gets a MAC of its own, as a router's is: by default a bridge takes its lowest port's
# and changes it when that port goes, so removing a host could change the router's MAC under the
# other hosts' ARP entries, and they lost etcd (10.199.1.254) until those went stale (the fleet
# test's reclaim call on h1 timed out after h3 was removed).
lan() {
  ip link show "$BRIDGE" >/dev/null 2>&1 && return 0
  ip link add "$BRIDGE" address 02:00:0a:c7:01:fe type bridge &&
    ip addr add 10.199.1.254/23 dev "$BRIDGE" && ip link set "$BRIDGE" up
}

netns() {
  h=$1
  [ -e "/run/netns/$h" ] && return 0
  n=$(num "$h")
  nic=$(ifname "$h") || return 1
  ip netns add "$h" &&
    ip link add "fl-$h" type veth peer name "$nic" netns "$h" &&
    ip link set "fl-$h" master "$BRIDGE" up &&
    ip -n "$h" link set lo up &&
    ip -n "$h" link set "$nic" up &&
    ip -n "$h" addr add "10.199.1.$n/23" dev "$nic" &&
    ip -n "$h" route add default via 10.199.1.254
}

running() { [ -s "/run/fleet/$1.pid" ] && kill -0 "$(cat "/run/fleet/$1.pid")" 2>/dev/null; }

# One dockerd start for host h (engine PATH $2, log $3): 1 if it exited, 2 if it runs but did not
# answer within 150 s.
launch() {
  echo "=== dockerd $1 start at uptime $(uptime_s) (engine $ENGINE)" >>"$3"
  # The private mount namespace also keeps runc's pivot_root working for the host's managed
  # plugins ("pivot_root: invalid argument" without it).
  # shellcheck disable=SC2016 # expanded by the inner shell
  PATH="$2" setsid unshare -m -u --propagation private sh -c '
    mount -t tmpfs -o mode=0755 tmpfs /run/docker/plugins && hostname "$1" &&
      exec nsenter --net="/run/netns/$1" dockerd --data-root "/var/lib/fleet/$1" \
        --exec-root "/run/fleet/$1" -H "unix://$2" --pidfile "/run/fleet/$1.pid" \
        --iptables=false --ip6tables=false --bridge=none --insecure-registry 10.199.1.254:5000' \
    fleet "$1" "$(sock "$1")" >>"$3" 2>&1 </dev/null &
  # setsid, unshare, sh and nsenter all exec: $! ends up being dockerd.
  daemon=$!
  t=0 # not i: the callers' loops use it (sh functions share variables)
  while [ "$t" -lt 1500 ]; do
    docker -H "unix://$(sock "$1")" info >/dev/null 2>&1 && return 0
    kill -0 "$daemon" 2>/dev/null || return 1
    sleep 0.1
    t=$((t + 1))
  done
  return 2
}

start() {
  h=$1
  running "$h" && return 0
  p=$(engine_path) || return 1
  mkdir -p "/var/lib/fleet/$h" "/run/fleet/$h" /run/docker/plugins
  log=/var/log/fleet-$h.log
  # Up to 3 tries, as docker.service restarts a dockerd that exits (Restart=always): after a
  # SIGKILL mid-start, its containerd's first start can spend over dockerd's wait cleaning the
  # killed containers' shims, and dockerd exits ("timeout waiting for containerd to start").
  # A dockerd that runs but does not answer is not started twice.
  try=1
  while :; do
    launch "$h" "$p" "$log" && break
    rc=$?
    if [ "$rc" != 1 ] || [ "$try" -ge 3 ]; then
      echo "fleet.sh: dockerd $h did not answer (try $try); tail of $log:" >&2
      tail -n 30 "$log" >&2
      return 1
    fi
    try=$((try + 1))
  done
  docker -H "unix://$(sock "$h")" image inspect busybox:lab >/dev/null 2>&1 ||
    docker -H "unix://$(sock "$h")" import -c 'CMD ["sh"]' "$LAB_SHARE/.cache/lab/busybox.tar" busybox:lab >/dev/null
}

# The plugin processes of host h: node processes in h's network namespace.
# test's -ef (same device and inode) is a shell builtin. A stat process per /proc entry took 3.4 s
# for the 82 processes of an idle lab VM (this: 0.05 s), several times that with the fleet's
# containers running, and kill_host, which waits for this scan, landed after every start the
# fleet test meant to cut had ended.
plugin_pids() {
  [ -e "/run/netns/$1" ] || return 1
  for d in /proc/[0-9]*; do
    [ "$d/ns/net" -ef "/run/netns/$1" ] 2>/dev/null || continue
    case "$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null)" in *node*/opt/ipvlan-lan/dist/main.js*) echo "${d#/proc/}" ;; esac
  done
}

# SIGKILL of h's dockerd and its plugin, as a power cut of the daemon would (containers' shims live on).
kill_host() {
  h=$1
  pids="$(cat "/run/fleet/$h.pid" 2>/dev/null) $(plugin_pids "$h")"
  [ -n "$(echo "$pids" | tr -d ' ')" ] || { echo "fleet.sh: nothing of $h runs" >&2; return 1; }
  # shellcheck disable=SC2086
  kill -KILL $pids
  t=0
  while running "$h" && [ "$t" -lt 100 ]; do sleep 0.1; t=$((t + 1)); done
  rm -f "/run/fleet/$h.pid"
}

# A host gone for good: its daemon, its containers' processes, its namespace.
remove() {
  h=$1
  if running "$h"; then kill_host "$h"; fi
  want=$(stat -L -c %i "/run/netns/$h" 2>/dev/null) && for d in /proc/[0-9]*; do
    [ "$(stat -L -c %i "$d/ns/net" 2>/dev/null)" = "$want" ] && kill -KILL "${d#/proc/}" 2>/dev/null
  done
  ip link del "fl-$h" 2>/dev/null
  ip netns del "$h" 2>/dev/null
  # Its disk too: the next fleet starts from fresh hosts. (kill, then start, keeps it.)
  rm -rf "/var/lib/fleet/$h" "/run/fleet/$h" "/run/fleet/$h.sock"
  return 0
}

case "${1:-}" in
  up)
    lan || exit 1
    i=1
    while [ "$i" -le "${2:-3}" ]; do netns "h$i" || exit 1; i=$((i + 1)); done
    # One after the other: daemons started at once under emulation miss their own containerd's
    # start timeout ("timeout waiting for containerd to start").
    i=1
    while [ "$i" -le "${2:-3}" ]; do start "h$i" || exit 1; i=$((i + 1)); done
    ;;
  down)
    for f in /run/netns/h[0-9]; do [ -e "$f" ] && remove "$(basename "$f")"; done
    ip link del "$BRIDGE" 2>/dev/null
    exit 0
    ;;
  start) netns "$2" && start "$2" ;;
  kill) kill_host "$2" ;;
  remove) remove "$2" ;;
  pid) cat "/run/fleet/$2.pid" ;;
  plugin-pid) plugin_pids "$2" ;;
  *) echo "usage: fleet.sh up N | down | start hN | kill hN | remove hN | pid hN | plugin-pid hN" >&2; exit 2 ;;
esac
