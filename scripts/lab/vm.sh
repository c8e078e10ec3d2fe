#!/usr/bin/env bash
# The lab VM: Debian's kernel under QEMU (TCG) with the host's / as its root, a Docker
# engine inside, and a guest agent that runs commands for the host.
#
#   vm.sh start  [--name NAME] [--disk PATH] [--engine 20.10|28]
#                boot (building if needed), wait until ready; --engine 28 boots with Docker 28
#                (scripts/lab/engine.sh fetches it first) instead of Debian 12's 20.10
#   vm.sh exec   [--name NAME] [-e K=V]... [--timeout SEC] [--stdin] [--] CMD [ARG...]
#                one argument is a shell string (sh -c); several are an argv
#   vm.sh stop   [--name NAME]                 sync + power off (kill after LAB_STOP_TIMEOUT)
#   vm.sh reboot [--name NAME]                 stop, then start with the same --disk and --engine
#   vm.sh status [--name NAME]
#
# Env: LAB_NAME (default VM name, else "default"), LAB_MEM (MiB, 4096), LAB_SMP (2),
#      LAB_BOOT_TIMEOUT (180 s), LAB_STOP_TIMEOUT (30 s), LAB_DISK_SIZE (4G, for new disks),
#      LAB_EXEC_TIMEOUT (default --timeout, 0 = none), LAB_LOCKUP_S (300: see exit code 123).
# Exit codes: exec returns the command's code, 124 on --timeout; 125 = lab error
# (usage, VM not running, boot failure); 123 = the guest kernel locked up while the command ran
# (its console reported a CPU stuck for LAB_LOCKUP_S or more: nothing in the VM runs any more).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
  exit 125
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }
secs_since() { # ms-timestamp -> "12.3"
  local d=$(($(now_ms) - $1))
  printf '%d.%d' $((d / 1000)) $((d % 1000 / 100))
}

set_name() {
  NAME=$1
  [[ "$NAME" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] || die "invalid VM name: $NAME"
  SD="$CACHE_DIR/$NAME"
  IO="$SD/io"
}

# PID of this VM's qemu if it is alive (a zombie counts as dead).
qemu_pid() {
  local pid state
  pid=$(cat "$SD/qemu.pid" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ "$state" != Z ]] || return 1
  # Guard against PID reuse: our qemu has this VM's console path on its command line.
  tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "file:$SD/console.log" || return 1
  echo "$pid"
}

wait_gone() { # pid timeout_s
  local deadline=$(($(now_ms) + $2 * 1000))
  while qemu_pid >/dev/null; do
    (($(now_ms) < deadline)) || return 1
    sleep 0.2
  done
}

kill_qemu() {
  local pid
  pid=$(qemu_pid) || return 0
  kill -TERM "$pid" 2>/dev/null || true
  wait_gone "$pid" 5 || kill -KILL "$pid" 2>/dev/null || true
  wait_gone "$pid" 5 || true
}

boot_failed() {
  echo "[lab] error: VM '$NAME' failed to boot: $1" >&2
  if [[ -f "$IO/failed" ]]; then
    echo "--- guest report ($IO/failed):" >&2
    cat "$IO/failed" >&2
  fi
  if [[ -s "$SD/qemu.log" ]]; then
    echo "--- qemu ($SD/qemu.log):" >&2
    tail -n 20 "$SD/qemu.log" >&2
  fi
  echo "--- tail of the serial console ($SD/console.log):" >&2
  tail -n 40 "$SD/console.log" >&2 2>/dev/null || true
  kill_qemu
  exit 125
}

cmd_start() {
  local disk='' engine=''
  while (($#)); do
    case "$1" in
      --name) set_name "${2:?--name needs a value}"; shift 2 ;;
      --disk) disk="${2:?--disk needs a value}"; shift 2 ;;
      --engine) engine="${2:?--engine needs a value}"; shift 2 ;;
      *) usage ;;
    esac
  done
  case "$engine" in
    '' | 20.10 | 28) ;;
    *) die "unknown engine '$engine' (20.10 or 28)" ;;
  esac
  [[ "$engine" == 20.10 ]] && engine=''
  if [[ -n "$disk" ]]; then
    mkdir -p "$(dirname "$disk")"
    disk="$(cd "$(dirname "$disk")" && pwd -P)/$(basename "$disk")"
  fi

  if qemu_pid >/dev/null; then
    if [[ -f "$IO/ready" && "$(cat "$SD/disk" 2>/dev/null)" == "$disk" && "$(cat "$SD/engine" 2>/dev/null)" == "$engine" ]]; then
      log "VM '$NAME' is already running"
      return 0
    fi
    die "VM '$NAME' is already running with other settings (or still booting); stop it first"
  fi

  "$LAB_DIR/build.sh"
  lab_load_kernel || die "build did not produce a kernel (see $CACHE_DIR/kernel.env)"
  [[ -z "$engine" ]] || "$LAB_DIR/engine.sh" fetch "$engine"

  local qemu_disk=() disk_flag=0
  if [[ -n "$disk" ]]; then
    # Sparse image; the guest formats it (ext4) when it has no filesystem.
    [[ -e "$disk" ]] || truncate -s "${LAB_DISK_SIZE:-4G}" "$disk"
    qemu_disk=(-drive "file=$disk,format=raw,if=virtio,cache=writeback,discard=unmap")
    disk_flag=1
  fi

  mkdir -p "$SD"
  rm -rf "$IO" "$SD/qemu.pid" "$SD/console.log" "$SD/qemu.log" "$SD/dockerd.log"
  mkdir -p "$IO/queue" "$IO/jobs" "$IO/kill"
  printf '%s\n' "$disk" >"$SD/disk"
  printf '%s\n' "$engine" >"$SD/engine"

  local t0
  # shellcheck disable=SC2034 # read by the EXIT trap
  local ok=0
  t0=$(now_ms)
  # Kill a half-booted VM if we fail or are interrupted.
  trap '((ok)) || kill_qemu' EXIT
  trap 'exit 125' INT TERM
  # TCG: KVM hangs on these hosts. No NIC: containers only need the guest's own links.
  qemu-system-x86_64 \
    -accel tcg -cpu max -smp "${LAB_SMP:-2}" -m "${LAB_MEM:-4096}" \
    -nodefaults -no-user-config -no-reboot \
    -display none -monitor none -serial "file:$SD/console.log" \
    -kernel "$KERNEL_IMAGE" -initrd "$INITRAMFS" \
    -append "console=ttyS0 panic=-1 loglevel=4 lab.repo=$REPO_ROOT lab.name=$NAME lab.disk=$disk_flag${engine:+ lab.engine=$engine}" \
    -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap" \
    -virtfs "local,path=$MODULES_ROOT,mount_tag=modules,security_model=none,readonly=on" \
    -virtfs "local,path=$REPO_ROOT,mount_tag=repo,security_model=none,multidevs=remap" \
    -device virtio-rng-pci -nic none \
    "${qemu_disk[@]}" \
    -daemonize -pidfile "$SD/qemu.pid" \
    </dev/null >"$SD/qemu.log" 2>&1 || boot_failed "qemu did not start"

  local deadline=$((t0 + ${LAB_BOOT_TIMEOUT:-180} * 1000))
  until [[ -f "$IO/ready" ]]; do
    [[ -f "$IO/failed" ]] && boot_failed "guest init failed"
    qemu_pid >/dev/null || boot_failed "qemu exited"
    (($(now_ms) < deadline)) || boot_failed "not ready after ${LAB_BOOT_TIMEOUT:-180}s"
    sleep 0.2
  done
  # shellcheck disable=SC2034
  ok=1
  trap - EXIT INT TERM
  log "VM '$NAME' ready in $(secs_since "$t0")s (guest uptime: $(cat "$IO/ready"))"
}

shquote() { local s=${1//\'/\'\\\'\'}; printf "'%s'" "$s"; }

# Copy the bytes appended to $1 since offset ${!2} to stdout.
stream() {
  local f=$1 var=$2 size
  size=$(stat -c %s "$f" 2>/dev/null) || return 0
  if ((size > ${!var})); then
    tail -c +$((${!var} + 1)) "$f" | head -c $((size - ${!var}))
    printf -v "$var" %d "$size"
  fi
}

# The first console line after byte $1 reporting a CPU stuck for LAB_LOCKUP_S (300) s or more.
stuck_cpu() {
  local limit=${LAB_LOCKUP_S:-300} line
  line=$(tail -c "+$(($1 + 1))" "$SD/console.log" 2>/dev/null |
    grep -oE 'soft lockup - CPU#[0-9]+ stuck for [0-9]+s' |
    awk -v limit="$limit" '{ s = $NF; sub(/s$/, "", s); if (s + 0 >= limit) { print; exit } }')
  [[ -n "$line" ]] && echo "$line"
}

cmd_exec() {
  local envs=() timeout=${LAB_EXEC_TIMEOUT:-0} use_stdin=0
  while (($#)); do
    case "$1" in
      --name) set_name "${2:?--name needs a value}"; shift 2 ;;
      -e | --env) envs+=("${2:?-e needs NAME=VALUE}"); shift 2 ;;
      --timeout) timeout="${2:?--timeout needs seconds}"; shift 2 ;;
      --stdin) use_stdin=1; shift ;;
      --) shift; break ;;
      -*) usage ;;
      *) break ;;
    esac
  done
  (($#)) || usage
  [[ "$timeout" =~ ^[0-9]+$ ]] || die "--timeout must be whole seconds"
  [[ "${LAB_LOCKUP_S:-300}" =~ ^[0-9]+$ ]] || die "LAB_LOCKUP_S must be whole seconds"
  qemu_pid >/dev/null || die "VM '$NAME' is not running (vm.sh start --name $NAME)"
  [[ -f "$IO/ready" ]] || die "VM '$NAME' is not ready yet"

  local id jd e a
  id="$(date +%s%N)-$$-$RANDOM"
  jd="$IO/jobs/$id"
  mkdir -p "$jd"
  if (($# == 1)); then
    printf '%s\n' "$1" >"$jd/cmd"
  else
    for a in "$@"; do printf '%s ' "$(shquote "$a")"; done >"$jd/cmd"
    echo >>"$jd/cmd"
  fi
  : >"$jd/env"
  for e in "${envs[@]}"; do
    [[ "$e" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "bad -e value (want NAME=VALUE): $e"
    printf 'export %s=%s\n' "${e%%=*}" "$(shquote "${e#*=}")" >>"$jd/env"
  done
  ((use_stdin)) && cat >"$jd/stdin"
  # Where this command's part of the console starts (kernel lockups are looked for after it).
  local console_off lockup checked=0
  console_off=$(stat -c %s "$SD/console.log" 2>/dev/null || echo 0)
  : >"$IO/queue/$id" # the job dir is complete: hand it to the agent

  # shellcheck disable=SC2034 # offsets updated through ${!var} in stream()
  local out_off=0 err_off=0
  local rc='' deadline=0 killed=0 kill_deadline=0
  ((timeout)) && deadline=$(($(now_ms) + timeout * 1000))
  # Interrupted or timed out: ask the agent to kill the job's session, wait ~10 s for it.
  request_kill() {
    ((killed)) && return
    killed=$1
    : >"$IO/kill/$id"
    kill_deadline=$(($(now_ms) + 10000))
  }
  trap 'request_kill 130' INT TERM
  while :; do
    stream "$jd/out" out_off
    stream "$jd/err" err_off >&2
    if [[ -f "$jd/rc" ]]; then
      stream "$jd/out" out_off
      stream "$jd/err" err_off >&2
      rc=$(cat "$jd/rc")
      break
    fi
    if ! qemu_pid >/dev/null; then
      rm -rf "$jd"
      die "VM '$NAME' went away while running the command"
    fi
    # Under TCG the guest kernel has locked up for good at times: both vCPUs stuck in runc, soft
    # lockups reported for half an hour (2026-12-04 22:27, the crash suite's first start), and the
    # command would wait for its timeout. Short soft lockups under load do pass.
    if ((++checked % 100 == 0)) && lockup=$(stuck_cpu "$console_off"); then
      echo "[lab] exec: the guest kernel is locked up (console: $lockup); giving up on the command" >&2
      rm -rf "$jd"
      exit 123
    fi
    if ((deadline && !killed && $(now_ms) > deadline)); then
      echo "[lab] exec: timed out after ${timeout}s, killing the command" >&2
      request_kill 124
    fi
    ((killed && $(now_ms) > kill_deadline)) && break
    sleep 0.05
  done
  trap - INT TERM
  rm -rf "$jd" "$IO/kill/$id"
  ((killed)) && exit "$killed"
  exit "${rc:-125}"
}

cmd_stop() {
  while (($#)); do
    case "$1" in
      --name) set_name "${2:?--name needs a value}"; shift 2 ;;
      *) usage ;;
    esac
  done
  local pid t0
  if ! pid=$(qemu_pid); then
    rm -f "$SD/qemu.pid"
    log "VM '$NAME' is not running"
    return 0
  fi
  t0=$(now_ms)
  if [[ -f "$IO/ready" ]]; then
    : >"$IO/poweroff" # the agent stops dockerd, syncs and powers off
    wait_gone "$pid" "${LAB_STOP_TIMEOUT:-30}" || log "VM '$NAME' did not power off in ${LAB_STOP_TIMEOUT:-30}s; killing qemu"
  fi
  kill_qemu
  rm -f "$SD/qemu.pid" "$IO/ready"
  log "VM '$NAME' stopped in $(secs_since "$t0")s"
}

cmd_reboot() {
  while (($#)); do
    case "$1" in
      --name) set_name "${2:?--name needs a value}"; shift 2 ;;
      *) usage ;;
    esac
  done
  local disk engine
  disk=$(cat "$SD/disk" 2>/dev/null || true)
  engine=$(cat "$SD/engine" 2>/dev/null || true)
  cmd_stop --name "$NAME"
  cmd_start --name "$NAME" ${disk:+--disk "$disk"} ${engine:+--engine "$engine"}
}

cmd_status() {
  local only='' d n pid state rc=1
  while (($#)); do
    case "$1" in
      --name) only="${2:?--name needs a value}"; shift 2 ;;
      *) usage ;;
    esac
  done
  for d in "$CACHE_DIR"/*/; do
    n=$(basename "$d")
    [[ -f "$d/disk" ]] || continue # not a VM state dir
    [[ -z "$only" || "$n" == "$only" ]] || continue
    set_name "$n"
    if pid=$(qemu_pid); then
      state=booting
      [[ -f "$IO/ready" ]] && state=ready
      rc=0
    else
      pid=- state=stopped
    fi
    printf '%-12s %-8s pid=%-8s disk=%s\n' "$n" "$state" "$pid" "$(cat "$SD/disk")"
  done
  # Exit 0 if a (the) VM is running.
  return "$rc"
}

set_name "${LAB_NAME:-default}"
sub=${1:-}
(($#)) && shift
case "$sub" in
  start) cmd_start "$@" ;;
  exec) cmd_exec "$@" ;;
  stop) cmd_stop "$@" ;;
  reboot) cmd_reboot "$@" ;;
  status) cmd_status "$@" ;;
  -h | --help | help | '') usage ;;
  *) usage ;;
esac
