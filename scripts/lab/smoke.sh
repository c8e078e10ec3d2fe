#!/usr/bin/env bash
# Smoke test of the lab: boots VM "smoke", checks the guest agent (exit codes, stderr,
# concurrency), then Docker's built-in ipvlan driver on a dummy parent and an 802.1Q
# sub-interface, with a ping between two containers; stops the VM. Prints PASS/FAIL.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VM=(env LAB_NAME=smoke "$LAB_DIR/vm.sh")
result=FAIL

finish() {
  "${VM[@]}" stop || true
  echo "smoke: $result"
  [[ $result == PASS ]]
}
trap finish EXIT

fail() {
  echo "smoke: $*" >&2
  exit 1
}

"${VM[@]}" stop # start from a fresh VM
"${VM[@]}" start

# Guest agent: exit codes, stderr, argv quoting, two commands at once.
rc=0
"${VM[@]}" exec -- 'echo to-stderr >&2; exit 7' 2>/dev/null || rc=$?
((rc == 7)) || fail "exec exit code: want 7, got $rc"
[[ "$("${VM[@]}" exec -- 'echo oops >&2' 2>&1 >/dev/null)" == oops ]] || fail "exec stderr not forwarded"
[[ "$("${VM[@]}" exec -- printf '%s|' 'a b' "c'd")" == "a b|c'd|" ]] || fail "exec argv quoting"
t0=$SECONDS
"${VM[@]}" exec -- 'sleep 3' &
p1=$!
"${VM[@]}" exec -- 'sleep 3' &
p2=$!
wait "$p1" || fail "concurrent exec 1 failed"
wait "$p2" || fail "concurrent exec 2 failed"
((SECONDS - t0 < 6)) || fail "two 3 s execs took $((SECONDS - t0)) s: not concurrent"

# Docker and kernel features the project needs, with the built-in ipvlan driver as control.
"${VM[@]}" exec -- "set -eux
registry_cfg='$LAB_DIR/registry.yml'
command -v docker-registry
test -f /etc/docker/registry/config.yml
test -f \"\$registry_cfg\"

ip link add p0 type dummy
ip link set p0 up
docker network create -d ipvlan -o parent=p0 --subnet 192.168.77.0/24 n1
docker run -d --net n1 --name ca busybox:lab sleep 600
docker run -d --net n1 --name cb busybox:lab sleep 600
ipb=\$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' cb)
test -n \"\$ipb\"
docker exec ca ping -c1 -W2 \"\$ipb\"

docker network create -d ipvlan -o parent=p0.10 --subnet 192.168.78.0/24 n2
ip -d link show p0.10 | grep -q 'vlan protocol 802.1Q id 10'
docker network connect n2 ca
docker exec ca ip addr | grep -q 'inet 192.168.78.'

docker rm -f ca cb
docker network rm n1 n2
! ip link show p0.10 2>/dev/null
ip link del p0
"
result=PASS
