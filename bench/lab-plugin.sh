# Sourced by the lab diagnostics (burst-requests.sh, sequential-requests.sh, socket-latency.sh),
# from the repository's root, inside the lab VM.
LOG=${DOCKERD_LOG:-/var/log/dockerd.log}

# The request diagnostics read each request's server-side time from dockerd's log.
need_log() {
  [ -f "$LOG" ] || { echo "$0: no dockerd log at $LOG" >&2; exit 1; }
}

# Creates plugin $1 from the bundle (plugin/, after `make plugin`) at LOG_LEVEL=$2, enabled.
lab_plugin() {
  docker plugin rm -f "$1" >/dev/null 2>&1 || true
  staged=$(mktemp -d)
  cp -a plugin/. "$staged"
  docker plugin create "$1" "$staged" >/dev/null
  rm -rf "$staged"
  docker plugin set "$1" LOG_LEVEL="$2"
  docker plugin enable "$1" >/dev/null
}
