#!/bin/sh
# Guest agent (respawned by busybox init): polls $IO/queue on the repo's 9p share and runs
# each job concurrently. Protocol (the host side is vm.sh):
#   $IO/jobs/ID/{cmd,env[,stdin]}  written by the host, then $IO/queue/ID created
#   $IO/jobs/ID/{out,err,pid,rc}   written here; rc (exit code) appears last, atomically
#   $IO/kill/ID                    host asks to kill job ID's session
#   $IO/poweroff                   stop dockerd, sync, power off
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
cd / || exit 1

run_job() {
  d="$IO/jobs/$1"
  in=/dev/null
  [ -e "$d/stdin" ] && in="$d/stdin"
  # setsid: own session/process group, so a kill reaches the whole job.
  # shellcheck disable=SC2016 # expanded by the job's shell
  (cd "$LAB_REPO" && exec setsid /bin/sh -c '. "$1" && exec /bin/sh "$2"' job "$d/env" "$d/cmd") \
    <"$in" >"$d/out" 2>"$d/err" &
  pid=$!
  echo "$pid" >"$d/pid"
  wait "$pid"
  echo "$?" >"$d/rc.tmp"
  mv "$d/rc.tmp" "$d/rc"
}

kill_job() {
  pid=$(cat "$IO/jobs/$1/pid" 2>/dev/null) || return 0
  kill -TERM -- "-$pid" 2>/dev/null
  (sleep 5 && kill -KILL -- "-$pid" 2>/dev/null) &
}

poweroff_now() {
  echo "lab-agent: powering off"
  sh "$LAB_SHARE/scripts/lab/guest/dockerd.sh" stop
  cp "$DOCKERD_LOG" "$LAB_STATE/dockerd.log" 2>/dev/null
  sync
  [ "$LAB_DISK" = 1 ] && mount -o remount,ro /var/lib 2>/dev/null
  sync
  echo o >/proc/sysrq-trigger
  sleep 60
}

mkdir -p "$IO/queue" "$IO/jobs" "$IO/kill"
while :; do
  [ -e "$IO/poweroff" ] && poweroff_now
  for q in "$IO"/queue/*; do
    [ -e "$q" ] || continue
    id=${q##*/}
    rm -f "$q"
    run_job "$id" </dev/null &
  done
  for k in "$IO"/kill/*; do
    [ -e "$k" ] || continue
    id=${k##*/}
    rm -f "$k"
    kill_job "$id"
  done
  sleep 0.1
done
