#!/bin/sh
# dockerd control inside the guest: dockerd.sh start|stop|restart|status
# Tests may use it to restart the engine (e.g. restart=always scenarios).
# Extra dockerd flags: LAB_DOCKERD_ARGS (word-split).
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"

running() { pidof dockerd >/dev/null 2>&1; }

start() {
  if ! running; then
    echo "=== dockerd start at uptime $(uptime_s)" >>"$DOCKERD_LOG"
    # shellcheck disable=SC2086
    setsid dockerd ${LAB_DOCKERD_ARGS:-} >>"$DOCKERD_LOG" 2>&1 </dev/null &
  fi
  i=0
  while [ "$i" -lt 1500 ]; do # >= 150 s in 0.1 s steps
    docker info >/dev/null 2>&1 && return 0
    running || { echo "dockerd exited; tail of $DOCKERD_LOG:" >&2; tail -n 30 "$DOCKERD_LOG" >&2; return 1; }
    sleep 0.1
    i=$((i + 1))
  done
  echo "dockerd did not answer docker info" >&2
  return 1
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

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop && start ;;
  status) running ;;
  *) echo "usage: dockerd.sh start|stop|restart|status" >&2; exit 2 ;;
esac
