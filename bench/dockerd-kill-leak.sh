#!/bin/sh
# Does a dockerd SIGKILL during `docker run` leave a container's address held in the kernel?
# A diagnostic, not a benchmark. Inside a lab VM, root, after `make plugin`:
#   scripts/lab/vm.sh start --engine 28 &&
#   scripts/lab/vm.sh exec -- 'sh /work/main/bench/dockerd-kill-leak.sh'
# DRIVER=ipvlan (default: Docker's built-in, the control) or a plugin name (PLUGIN=1 creates it
# from the bundle as kill-ipvlan:latest). ROUNDS (12) times: `docker run -d` in the background;
# SIGKILL dockerd after a random 0.2-4 s (AT=init: 0-0.8 s after its task exists; AT=addr: as soon
# as the created task's namespace holds the address); start dockerd again; remove the container.
# After each round it lists the network namespaces (Docker's and every process's) that still hold
# an address of the network's subnet and tries `docker run --rm` on the network; if that is
# refused, it ends the processes holding the address (REMEDY=0: leaves them) and tries again.
# 2026-12-05, Docker 28 lab VM (landing code): random kills (10 rounds each) and AT=init (8 each)
# left nothing held, built-in and plugin. AT=addr with the built-in: 5 of 19 rounds (five runs) stranded a
# task (`runc init`, or the container's `sleep` when the task had started) holding the address
# after `docker rm -f`; every later container given that address was refused; ending the
# process freed it. With the plugin: 0 of 4 (the poll is a matter of luck).
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-12}
DRIVER=${DRIVER:-ipvlan}
D="sh scripts/lab/guest/dockerd.sh"
SUBNET_PREFIX=172.31.77.
if [ "${PLUGIN:-0}" = 1 ]; then
  DRIVER=kill-ipvlan:latest
  . bench/lab-plugin.sh
  lab_plugin $DRIVER info
fi
ip link del kl0 2>/dev/null || true
ip link add kl0 type dummy
ip link set kl0 up
docker network rm killnet >/dev/null 2>&1 || true
docker network create -d "$DRIVER" -o parent=kl0 --subnet 172.31.77.0/24 killnet >/dev/null
# Namespaces holding an address of the subnet: "netns-inode path address" lines, each namespace
# once, whether Docker still has it bind-mounted or only a process is in it.
held() {
  for ns in /run/docker*/netns/* /proc/[0-9]*/ns/net; do
    ino=$(stat -L -c %i "$ns" 2>/dev/null) || continue
    echo "$ino $ns"
  done | sort -u -k1,1 | while read -r ino ns; do
    nsenter --net="$ns" ip -4 -o addr 2>/dev/null |
      awk -v p="$SUBNET_PREFIX" -v ns="$ino $ns" 'index($4, p) == 1 { print ns, $2, $4 }'
  done
}
leaks=0
blocked=0
r=1
while [ $r -le "$ROUNDS" ]; do
  delay=$(awk -v s="$(date +%N)" 'BEGIN { srand(s); printf "%.1f", 0.2 + rand() * 3.8 }')
  docker run -d --name kl-$r --net killnet busybox:lab sleep 600 >/dev/null 2>&1 &
  runner=$!
  if [ "${AT:-random}" = addr ]; then
    # As soon as a created task's namespace (runc init) holds an address of the network: the
    # network is set up and the task not started yet.
    delay=addr
    i=0
    while [ $i -lt 400 ]; do
      hit=0
      for pid in $(pgrep -f 'runc init'); do
        if nsenter --net="/proc/$pid/ns/net" ip -4 -o addr 2>/dev/null | grep -q " $SUBNET_PREFIX"; then
          hit=1
          break
        fi
      done
      [ $hit = 1 ] && break
      i=$((i + 1))
    done
  elif [ "${AT:-random}" = init ]; then
    # A random 0-0.8 s after the container's task exists (runc init): dockerd sets up the
    # network in the created task's namespace and marks the container running only after the
    # task has started; a kill in between leaves a task whose container is not "running".
    i=0
    until pgrep -f 'runc init' >/dev/null || [ $i -ge 600 ]; do i=$((i + 1)); done
    delay=$(awk -v s="$(date +%N)" 'BEGIN { srand(s); printf "%.1f", rand() * 0.8 }')
    sleep "$delay"
    delay="init + $delay"
  else
    sleep "$delay"
  fi
  kill -KILL "$(pidof dockerd)" 2>/dev/null || true
  wait $runner || true
  while pidof dockerd >/dev/null; do sleep 0.1; done
  # A stale pid file whose number a new process took makes dockerd refuse to start.
  rm -f /run/docker.pid /run/docker-*.pid
  $D start >/dev/null
  if [ "$DRIVER" != ipvlan ]; then
    # After a SIGKILL containerd may still hold the plugin's task and Docker disables it.
    i=0
    until [ "$(docker plugin inspect -f '{{.Enabled}}' "$DRIVER")" = true ] || [ $i -ge 30 ]; do
      docker plugin enable "$DRIVER" >/dev/null 2>&1 || sleep 2
      i=$((i + 1))
    done
  fi
  state=$(docker inspect -f '{{.State.Status}}' kl-$r 2>&1 || true)
  docker rm -f kl-$r >/dev/null 2>&1 || true
  found=$(held)
  # Processes in the namespaces still holding an address (no container of the network is left).
  stranded=$(echo "$found" | awk '{ print $2 }' | sed -n 's|^/proc/\([0-9]*\)/ns/net$|\1|p' | tr '\n' ' ')
  if [ -n "$found" ]; then
    leaks=$((leaks + 1))
    echo "round $r (kill after ${delay} s): held after rm:"
    echo "$found" | sed 's/^/  /'
    for pid in $stranded; do
      echo "  process $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
    done
    echo "  kl-$r was '$state' after the restart; processes holding the address after its docker rm -f: ${stranded:-none}"
  else
    echo "round $r (kill after ${delay} s): nothing held"
  fi
  if out=$(docker run --rm --net killnet busybox:lab true 2>&1); then
    echo "  a new container starts"
  else
    blocked=$((blocked + 1))
    echo "  a new container does not start: $out"
    if [ -n "$stranded" ] && [ "${REMEDY:-1}" = 1 ]; then
      # The operator's remedy: end the stranded tasks' processes (runc init, or the container's
      # own process when the task had started).
      kill -KILL $stranded 2>/dev/null || true
      sleep 2
      if out=$(docker run --rm --net killnet busybox:lab true 2>&1); then
        echo "  after killing $stranded: a new container starts; namespaces holding now: $(held | wc -l)"
      else
        echo "  after killing $stranded: still refused: $out"
      fi
    fi
  fi
  r=$((r + 1))
done
echo "driver $DRIVER: $ROUNDS rounds, $leaks left an address held, $blocked blocked a new container"
# KEEP=1: leave the network, its parent and anything stranded, to look at them.
[ "${KEEP:-0}" = 1 ] && exit 0
docker ps -aq --filter network=killnet | xargs -r docker rm -f >/dev/null
docker network rm killnet >/dev/null || true
ip link del kl0
