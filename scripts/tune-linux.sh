#!/usr/bin/env bash
# Raises the kernel limits that cap how many connections a herald box holds, sized from the
# target (src/capacity/kernel-limits.ts, the table herald's start-up check also uses), and turns on
# net.ipv4.tcp_migrate_req, without which a rolling restart resets the connections still waiting
# in a replaced worker's accept queue (ECONNRESET). It never lowers anything, and prints the
# reason for every line it changes.
#   scripts/tune-linux.sh --dry-run                     print the plan, change nothing (no root needed)
#   scripts/tune-linux.sh                               apply it now (sysctl -p), as root
#   scripts/tune-linux.sh --persist                     also write /etc/sysctl.d/90-herald.conf and, when needed,
#                                                       /etc/security/limits.d/90-herald.conf
#   --connections N (default 1000000)  --workers W (default: cores, as herald)
#   --loopback [--sources S]           the clients (a load test, a proxy) run on this box too
#   HERALD_PROC_SYS=DIR scripts/tune-linux.sh --dry-run  plan against a copy of /proc/sys
#   HERALD_PID=<primary pid> scripts/tune-linux.sh      also keep the OOM killer off herald's primary
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
planner="$root/dist/scripts/tune-plan.js"
dry_run=0
persist=0
plan_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry_run=1 ;;
    --persist) persist=1 ;;
    --loopback) plan_args+=("$1") ;;
    --connections|--workers|--sources)
      [ $# -ge 2 ] || { echo "$1 needs a value" >&2; exit 2; }
      plan_args+=("$1" "$2"); shift ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ ! -f "$planner" ]; then
  echo "$planner is missing: build herald first (npm ci, or npm run build)" >&2
  exit 1
fi
if [ -n "${HERALD_PROC_SYS:-}" ] && [ "$HERALD_PROC_SYS" != /proc/sys ] && [ "$dry_run" = 0 ]; then
  echo "HERALD_PROC_SYS=$HERALD_PROC_SYS is a copy of /proc/sys: only --dry-run plans against it" >&2
  exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
node "$planner" "${plan_args[@]}" > "$work/sysctl.conf"
node "$planner" --limits "${plan_args[@]}" > "$work/limits.conf"
cat "$work/sysctl.conf"

changes=$(grep -c '^[a-z]' "$work/sysctl.conf" || true)
echo
if [ "$changes" = 0 ]; then
  echo "# every kernel limit is already enough: nothing to change"
fi
if [ "$dry_run" = 1 ]; then
  echo "# dry run: nothing changed ($changes sysctl line(s) would be applied)"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "must run as root (or use --dry-run)" >&2
  exit 1
fi

if [ "$changes" != 0 ]; then
  echo "# applying $changes line(s) with sysctl -p:"
  if ! sysctl -p "$work/sysctl.conf"; then
    echo "some lines could not be applied (a read-only /proc/sys, as in a container: set them on the host)" >&2
    exit 1
  fi
fi
if [ -n "${HERALD_PID:-}" ]; then
  # -1000 exempts the primary from the OOM killer: it holds the admin API and respawns workers,
  # so under memory pressure the kernel kills a worker, whose clients reconnect to the others.
  echo -1000 > "/proc/$HERALD_PID/oom_score_adj"
  echo "# oom_score_adj of herald's primary (pid $HERALD_PID) set to -1000"
fi

if [ "$persist" = 1 ]; then
  if [ "$changes" != 0 ]; then
    install -m 0644 "$work/sysctl.conf" /etc/sysctl.d/90-herald.conf
    echo "# wrote /etc/sysctl.d/90-herald.conf (applied at every boot)"
  fi
  if [ -s "$work/limits.conf" ]; then
    install -m 0644 "$work/limits.conf" /etc/security/limits.d/90-herald.conf
    echo "# wrote /etc/security/limits.d/90-herald.conf (new login sessions; systemd units use LimitNOFILE)"
  fi
elif [ "$changes" != 0 ]; then
  echo "# applied until reboot; rerun with --persist to keep them"
fi
