# shellcheck shell=sh
# Sourced by the guest-side scripts (busybox sh).
# shellcheck disable=SC2034 # variables used by the sourcing scripts
# shellcheck disable=SC1091
. /etc/lab.env
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
export LAB_REPO LAB_NAME LAB_DISK
# The repo share as mounted by the initramfs (init.sh later binds it at $LAB_REPO too).
LAB_SHARE=/.lab-repo
LAB_STATE="$LAB_SHARE/.cache/lab/$LAB_NAME"
IO="$LAB_STATE/io"
DOCKERD_LOG=/var/log/dockerd.log
uptime_s() { cut -d' ' -f1 /proc/uptime; }
