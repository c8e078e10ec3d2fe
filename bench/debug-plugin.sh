# Sourced by the request diagnostics (burst-requests.sh, sequential-requests.sh), from the
# repository's root: checks dockerd's log is where they read it and creates plugin $1 from the
# bundle (plugin/, after `make plugin`) at LOG_LEVEL=debug, enabled. Sets LOG.
LOG=${DOCKERD_LOG:-/var/log/dockerd.log}
debug_plugin() {
  [ -f "$LOG" ] || { echo "$0: no dockerd log at $LOG" >&2; exit 1; }
  docker plugin rm -f "$1" >/dev/null 2>&1 || true
  staged=$(mktemp -d)
  cp -a plugin/. "$staged"
  docker plugin create "$1" "$staged" >/dev/null
  rm -rf "$staged"
  docker plugin set "$1" LOG_LEVEL=debug
  docker plugin enable "$1" >/dev/null
}
