#!/bin/sh
# dockerd control inside the guest: dockerd.sh start|stop|restart|status|engine
# Tests may use it to restart the engine (e.g. restart=always scenarios).
# Extra dockerd flags: LAB_DOCKERD_ARGS (word-split).
#
# Engine (LAB_ENGINE): 20.10 = Debian 12's docker.io (the host's dockerd, default data and exec
# roots); 28 = the tree `scripts/lab/engine.sh fetch 28` extracted on the host into
# .cache/engines/docker-28/root (copied to /run/lab/engine-28 on first use: no binaries run from
# the 9p share), first on PATH (Debian 12's runc stays), with its own roots: --data-root
# /var/lib/docker-28 --exec-root /run/docker-28 --pidfile /run/docker-28.pid. The socket is the
# default one, so /usr/local/bin/docker talks to either. One engine runs at a time: `restart`
# with another LAB_ENGINE stops the running one and starts the other.
# Which engine: LAB_ENGINE if set, else the one this script last started in this boot
# (/run/lab/engine), else lab.engine= on the kernel command line (vm.sh start --engine), else 20.10.
# `engine` prints it.
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"

running() { pidof dockerd >/dev/null 2>&1; }

boot_engine() {
  e=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^lab\.engine=//p')
  echo "${e:-20.10}"
}
engine() {
  if [ -n "${LAB_ENGINE:-}" ]; then
    echo "$LAB_ENGINE"
  elif [ -s /run/lab/engine ]; then
    cat /run/lab/engine
  else
    boot_engine
  fi
}
ENGINE=$(engine)
case "$ENGINE" in
  20.10 | 28) ;;
  *) echo "dockerd.sh: unknown engine '$ENGINE' (LAB_ENGINE: 20.10 or 28)" >&2; exit 2 ;;
esac

# The extracted engine tree, copied once per boot to tmpfs.
engine_tree() {
  tree=/run/lab/engine-$ENGINE
  [ -x "$tree/usr/sbin/dockerd" ] && return 0
  src="$LAB_SHARE/.cache/engines/docker-$ENGINE/root"
  [ -x "$src/usr/sbin/dockerd" ] || {
    echo "dockerd.sh: engine $ENGINE is not fetched: run scripts/lab/engine.sh fetch $ENGINE on the host" >&2
    return 1
  }
  rm -rf "$tree.tmp"
  mkdir -p "$tree.tmp/usr"
  cp -a "$src/usr/sbin" "$src/usr/bin" "$tree.tmp/usr/" && mv "$tree.tmp" "$tree"
}

# One launch of the engine in the background, logging to $DOCKERD_LOG.
launch() {
  mkdir -p /run/lab
  if [ "$ENGINE" = 20.10 ]; then
    echo "=== dockerd start at uptime $(uptime_s)" >>"$DOCKERD_LOG"
    # shellcheck disable=SC2086
    setsid dockerd ${LAB_DOCKERD_ARGS:-} >>"$DOCKERD_LOG" 2>&1 </dev/null &
  else
    engine_tree || return 1
    echo "=== dockerd start at uptime $(uptime_s) (engine $ENGINE)" >>"$DOCKERD_LOG"
    # shellcheck disable=SC2086
    PATH="$tree/usr/sbin:$tree/usr/bin:$PATH" setsid "$tree/usr/sbin/dockerd" \
      --data-root "/var/lib/docker-$ENGINE" --exec-root "/run/docker-$ENGINE" \
      --pidfile "/run/docker-$ENGINE.pid" ${LAB_DOCKERD_ARGS:-} >>"$DOCKERD_LOG" 2>&1 </dev/null &
  fi
  echo "$ENGINE" >/run/lab/engine
}

# Waits for `docker info`: 0 when it answers, 1 when dockerd exited, 2 after >= 150 s.
answers() {
  i=0
  while [ "$i" -lt 1500 ]; do # >= 150 s in 0.1 s steps
    docker info >/dev/null 2>&1 && return 0
    running || return 1
    sleep 0.1
    i=$((i + 1))
  done
  return 2
}

# dockerd gives the containerd it starts 15 s (moby libcontainerd/supervisor startupTimeout), and
# then exits with "timeout waiting for containerd to start". Under emulation on a slow day
# containerd 2.1 alone took 10.6 s to boot after a dockerd SIGKILL, and dockerd gave up. systemd's
# docker.service (Restart=always) starts dockerd again in that case; so does this, up to 3 times.
start() {
  if running; then
    cur=$(cat /run/lab/engine 2>/dev/null || echo "$ENGINE")
    [ "$cur" = "$ENGINE" ] || { echo "dockerd.sh: engine $cur is running, not $ENGINE: use restart" >&2; return 1; }
  fi
  attempt=1
  from=0
  while :; do
    if ! running; then
      from=$(wc -c <"$DOCKERD_LOG" 2>/dev/null || echo 0)
      launch || return 1
    fi
    answers
    rc=$?
    [ "$rc" = 0 ] && return 0
    if [ "$rc" = 2 ]; then
      echo "dockerd did not answer docker info" >&2
      return 1
    fi
    if [ "$attempt" -lt 3 ] &&
      tail -c +"$((from + 1))" "$DOCKERD_LOG" | grep -q 'timeout waiting for containerd to start'; then
      echo "dockerd.sh: dockerd gave up waiting for containerd (attempt $attempt); starting it again" >&2
      echo "=== dockerd.sh: dockerd gave up waiting for containerd; starting it again" >>"$DOCKERD_LOG"
      attempt=$((attempt + 1))
      continue
    fi
    echo "dockerd exited; tail of $DOCKERD_LOG:" >&2
    tail -n 30 "$DOCKERD_LOG" >&2
    return 1
  done
}

stop() {
  running || return 0
  pid=$(pidof dockerd)
  # shellcheck disable=SC2086
  kill -TERM $pid
  i=0
  while running; do
    # shellcheck disable=SC2086
    [ "$i" -ge 200 ] && { kill -KILL $pid; break; }
    sleep 0.1
    i=$((i + 1))
  done
  return 0
}

# init.sh imports busybox:lab into the engine it boots; an engine switched to later has its own
# data root, so it gets the image here.
image() {
  [ "$ENGINE" = "$(boot_engine)" ] && return 0
  docker image inspect busybox:lab >/dev/null 2>&1 ||
    docker import -c 'CMD ["sh"]' "$LAB_SHARE/.cache/lab/busybox.tar" busybox:lab >/dev/null
}

case "${1:-}" in
  start) start && image ;;
  stop) stop ;;
  restart) stop && start && image ;;
  status) running ;;
  engine) echo "$ENGINE" ;;
  *) echo "usage: dockerd.sh start|stop|restart|status|engine" >&2; exit 2 ;;
esac
