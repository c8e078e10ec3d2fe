#!/usr/bin/env bash
# Assemble the managed plugin's root filesystem, plugin/rootfs/, offline from this host's own binaries:
#
#   /usr/bin/node                     the host's node (symbols stripped when `strip` is available)
#   /usr/sbin/ip, /usr/sbin/bridge    iproute2 (found on PATH as `ip`; Docker's PATH includes /usr/sbin)
#   /lib/..., /lib64/ld-linux-*.so.*  every shared library `ldd` lists for those three, and the loader
#   /etc/iproute2/                    the data files `ip` reads (rt_tables, rt_protos, group, ...)
#   /opt/ipvlan-lan/                  package.json and dist/main.js, the plugin and its dependencies
#                                     bundled into one file (scripts/bundle.sh): no node_modules
#   /run/docker/plugins /state /tmp /etc /proc /sys /dev /etc/ipvlan-lan/etcd   empty directories
#
# No shell and no busybox: the entrypoint runs node directly (plugin/config.json).
# Idempotent and deterministic: the output is removed and rebuilt; owners are root and every mtime is
# SOURCE_DATE_EPOCH (default: the last commit's time), so the layer Docker computes is the same for
# the same inputs. Runs `npm ci` / `npm run build` first when node_modules or dist/main.js is missing
# or stale.
#
# Env: ROOTFS_DIR (default plugin/rootfs), SOURCE_DATE_EPOCH, ROOTFS_SMOKE=0 to skip the smoke run
#      (by default, as root, node starts the plugin from the rootfs in a chroot + throwaway netns).
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
OUT=$(realpath -m "${ROOTFS_DIR:-$REPO_ROOT/plugin/rootfs}")
# One staging dir per output, so two builds into different ROOTFS_DIRs do not collide.
STAGE=$REPO_ROOT/.cache/rootfs-stage/$(printf '%s' "$OUT" | sha256sum | cut -c1-12)
APP=/opt/ipvlan-lan

log() { printf '[rootfs] %s\n' "$*" >&2; }
die() {
  printf '[rootfs] error: %s\n' "$*" >&2
  exit 1
}

cd "$REPO_ROOT"

# --- inputs: node_modules and dist/ ------------------------------------------------------------
stamp=node_modules/.package-lock.json
if [[ ! -f "$stamp" || package-lock.json -nt "$stamp" ]]; then
  log "node_modules missing or stale: npm ci"
  npm ci --no-audit --no-fund >&2
fi
if [[ ! -f dist/main.js ]] ||
  [[ -n "$(find src scripts/bundle.sh tsconfig.json package.json package-lock.json -newer dist/main.js -print -quit)" ]]; then
  log "dist/ missing or stale: npm run build"
  npm run --silent build >&2
fi
[[ -f dist/main.js ]] || die "dist/main.js was not built"

NODE_BIN=$(readlink -f "$(command -v node)") || die "node not found"
IP_BIN=$(readlink -f "$(command -v ip)") || die "ip not found (apt-get install iproute2)"
BRIDGE_BIN=$(readlink -f "$(command -v bridge)") || die "bridge not found (apt-get install iproute2)"
EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$REPO_ROOT" log -1 --format=%ct 2>/dev/null || echo 0)}

[[ "$OUT" != / ]] || die "ROOTFS_DIR must not be /"
rm -rf "$OUT" "$STAGE"
mkdir -p "$OUT" "$STAGE"

# --- binaries ----------------------------------------------------------------------------------
install -D -m 0755 "$IP_BIN" "$OUT/usr/sbin/ip"
install -D -m 0755 "$BRIDGE_BIN" "$OUT/usr/sbin/bridge"
if command -v strip >/dev/null; then
  # Node from the nodesource package carries debug info: stripping it saves ~12 MB.
  mkdir -p "$OUT/usr/bin"
  strip -o "$OUT/usr/bin/node" "$NODE_BIN"
  chmod 0755 "$OUT/usr/bin/node"
else
  log "warning: strip not found (apt-get install binutils): copying node unstripped"
  install -D -m 0755 "$NODE_BIN" "$OUT/usr/bin/node"
fi

# Every library ldd lists (resolved on this host), copied to the path ldd shows, plus the loader.
libs=$(ldd "$NODE_BIN" "$IP_BIN" "$BRIDGE_BIN" | awk '
  /:$/ { next }
  /not found/ { print "MISSING " $1; next }
  $2 == "=>" && $3 ~ /^\// { print $3; next }
  $1 ~ /^\// { print $1 }' | sort -u)
if grep -q '^MISSING' <<<"$libs"; then die "ldd: missing libraries: $(grep '^MISSING' <<<"$libs" | tr '\n' ' ')"; fi
for lib in $libs; do
  mkdir -p "$OUT$(dirname "$lib")"
  cp -L "$lib" "$OUT$lib"
done

# iproute2 reads its name tables from /etc/iproute2 (rt_tables for `table main`, rt_protos, group...).
if [[ -d /etc/iproute2 ]]; then
  mkdir -p "$OUT/etc"
  cp -RL /etc/iproute2 "$OUT/etc/iproute2"
fi

# --- the application ----------------------------------------------------------------------------
# One file (scripts/bundle.sh): nothing under node_modules is loaded at run time.
mkdir -p "$OUT$APP/dist"
cp dist/main.js "$OUT$APP/dist/main.js"
# "type": "module" makes node load dist/*.js as ES modules.
node -e '
  const p = require(process.argv[1]);
  // The dependencies are listed for provenance only: they are bundled into dist/main.js.
  const out = { name: p.name, version: p.version, private: true, type: p.type, license: p.license,
    main: "dist/main.js", bundled: p.dependencies };
  process.stdout.write(JSON.stringify(out, null, 2) + "\n");
' "$REPO_ROOT/package.json" >"$OUT$APP/package.json"

# --- directories Docker and node expect --------------------------------------------------------
# /run/docker/plugins is mandatory (the daemon bind-mounts the socket directory there); /state is the
# propagatedMount; /proc /sys /dev /etc are mount points (hosts, resolv.conf are bind-mounted by Docker);
# /etc/ipvlan-lan/etcd is the settable `etcd` mount (the etcd TLS files), a directory.
mkdir -p "$OUT/run/docker/plugins" "$OUT/state" "$OUT/etc" "$OUT/proc" "$OUT/sys" "$OUT/dev" "$OUT/tmp" \
  "$OUT/etc/ipvlan-lan/etcd"
chmod 1777 "$OUT/tmp"

# --- checks ----------------------------------------------------------------------------------------
for sh in bin/sh bin/bash bin/dash bin/busybox usr/bin/sh usr/bin/bash usr/bin/dash usr/bin/busybox; do
  [[ ! -e "$OUT/$sh" && ! -L "$OUT/$sh" ]] || die "a shell ended up in the rootfs: /$sh"
done

if [[ "${ROOTFS_SMOKE:-1}" != 0 && $(id -u) -eq 0 ]] && command -v unshare >/dev/null; then
  # Start the real plugin from the rootfs: chroot (only these files), a throwaway network namespace
  # (its start-up reconciliation must not see the host's links), no /proc mounted.
  # Docker's runc gives the plugin a populated /dev; the chroot gets just /dev/null (node opens it
  # for stdio "ignore": without it spawning ip fails with ENOENT). Docker's own PATH, no host env.
  log "smoke run: node $APP/dist/main.js inside the rootfs"
  mknod -m 0666 "$OUT/dev/null" c 1 3
  smoke_log="$STAGE/smoke.log"
  env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    unshare --net chroot "$OUT" /usr/bin/node "$APP/dist/main.js" \
    --socket /tmp/smoke/plugin.sock --state-dir /tmp/smoke/state --log-level debug >"$smoke_log" 2>&1 &
  smoke_pid=$!
  for _ in $(seq 100); do
    grep -q 'reconciliation' "$smoke_log" && break
    [[ -d /proc/$smoke_pid ]] || break
    sleep 0.1
  done
  kill -TERM "$smoke_pid" 2>/dev/null || true
  wait "$smoke_pid" || true
  smoke_out=$(<"$smoke_log")
  rm -rf "$OUT/tmp/smoke" "$OUT/dev/null"
  grep -q 'msg="listening"' <<<"$smoke_out" || die "smoke run failed: $smoke_out"
  grep -q 'start-up reconciliation done' <<<"$smoke_out" || die "smoke run: ip did not work: $smoke_out"
  log "smoke run ok"
fi

# --- determinism -------------------------------------------------------------------------------
[[ $(id -u) -ne 0 ]] || chown -R 0:0 "$OUT"
find "$OUT" -exec touch -h -d "@$EPOCH" {} +

rm -rf "$STAGE"
log "built $OUT ($(du -sh "$OUT" | cut -f1)):"
du -sh "$OUT/usr/bin/node" "$OUT/usr/sbin" "$OUT/lib" "$OUT/lib64" "$OUT$APP/dist" "$OUT/etc" 2>/dev/null |
  sed "s|$OUT||" >&2
