#!/usr/bin/env bash
# Start / stop / query the host's Docker engine (Debian's docker.io, run by hand: there is no systemd).
#
#   scripts/dockerd.sh start    start dockerd unless one already answers; wait until `docker info` works
#   scripts/dockerd.sh stop     stop it, but only if this script started it (pid file)
#   scripts/dockerd.sh status   exit 0 if the engine answers, 3 if not
#
# Env: DOCKERD_LOG (default /var/log/dockerd.log, appended to), DOCKERD_PIDFILE
#      (default /run/ipvlan-lan-dockerd.pid), DOCKERD_WAIT (seconds, default 30), DOCKER (client).
set -euo pipefail

LOG_FILE=${DOCKERD_LOG:-/var/log/dockerd.log}
PID_FILE=${DOCKERD_PIDFILE:-/run/ipvlan-lan-dockerd.pid}
WAIT=${DOCKERD_WAIT:-30}
DOCKER=${DOCKER:-docker}

log() { printf '[dockerd] %s\n' "$*" >&2; }
die() {
  printf '[dockerd] error: %s\n' "$*" >&2
  exit 1
}

answering() { "$DOCKER" info --format '{{.ServerVersion}}' >/dev/null 2>&1; }

# The pid in our pid file, if that process is still a dockerd.
our_pid() {
  local pid
  [[ -f "$PID_FILE" ]] || return 1
  pid=$(<"$PID_FILE")
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == dockerd ]] || return 1
  echo "$pid"
}

start() {
  local pid
  if answering; then
    log "already running (server $("$DOCKER" info --format '{{.ServerVersion}}'))"
    return 0
  fi
  if pid=$(our_pid); then
    log "dockerd (pid $pid) is starting; waiting"
  else
    command -v dockerd >/dev/null || die "dockerd not found: run scripts/deps.sh (apt-get install docker.io)"
    [[ $(id -u) -eq 0 ]] || die "dockerd must be started as root"
    mkdir -p "$(dirname "$LOG_FILE")" "$(dirname "$PID_FILE")"
    printf '\n=== %s scripts/dockerd.sh start ===\n' "$(date -u +%FT%TZ)" >>"$LOG_FILE"
    setsid dockerd </dev/null >>"$LOG_FILE" 2>&1 &
    pid=$!
    echo "$pid" >"$PID_FILE"
    log "started dockerd (pid $pid, log $LOG_FILE)"
  fi
  local deadline=$((SECONDS + WAIT))
  until answering; do
    if [[ ! -d "/proc/$pid" ]]; then
      rm -f "$PID_FILE"
      tail -n 20 "$LOG_FILE" >&2 || true
      die "dockerd exited during start-up (see $LOG_FILE)"
    fi
    ((SECONDS < deadline)) || die "dockerd did not answer within ${WAIT}s (see $LOG_FILE)"
    sleep 0.5
  done
  log "ready (server $("$DOCKER" info --format '{{.ServerVersion}}'))"
}

stop() {
  local pid
  if ! pid=$(our_pid); then
    rm -f "$PID_FILE"
    if answering; then
      log "dockerd was not started by this script: leaving it alone"
    else
      log "not running"
    fi
    return 0
  fi
  log "stopping dockerd (pid $pid)"
  kill -TERM "$pid"
  # dockerd gives each plugin and container up to 10 s to stop.
  local deadline=$((SECONDS + 45))
  while [[ -d "/proc/$pid" ]]; do
    ((SECONDS < deadline)) || die "dockerd (pid $pid) still running after 45 s"
    sleep 0.5
  done
  rm -f "$PID_FILE"
  log "stopped"
}

status() {
  local pid
  if answering; then
    if pid=$(our_pid); then
      echo "running (pid $pid, started by scripts/dockerd.sh, log $LOG_FILE)"
    else
      echo "running (not started by scripts/dockerd.sh)"
    fi
    return 0
  fi
  echo "not running"
  return 3
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
