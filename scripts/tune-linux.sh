#!/usr/bin/env bash
# Linux tuning for a herald box holding a million connections (the C1M article's settings,
# with TCP memory sized for idle push connections). Run as root.
#   scripts/tune-linux.sh --dry-run            print what would change, change nothing
#   scripts/tune-linux.sh                      apply now (sysctl -w) and print the persistent lines
#   scripts/tune-linux.sh --persist            also write /etc/sysctl.d/90-herald.conf and /etc/security/limits.d/90-herald.conf
#   CONNECTIONS=2000000 scripts/tune-linux.sh  size the limits for another target
set -euo pipefail

dry_run=0
persist=0
for arg in "$@"; do
  case "$arg" in
    --dry-run) dry_run=1 ;;
    --persist) persist=1 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "unknown option: $arg" >&2; exit 2 ;;
  esac
done

connections=${CONNECTIONS:-1000000}
files=$(( connections * 2 + 100000 ))   # a loopback test holds both ends on one box
# tcp_mem is in pages (4 KiB): pressure at ~4 GiB, hard limit at ~12 GiB for a 1M-connection box.
pages_per_gib=262144
declare -A wanted=(
  [fs.file-max]=$files
  [fs.nr_open]=$files
  [net.core.somaxconn]=65535
  [net.ipv4.tcp_max_syn_backlog]=65535
  [net.core.netdev_max_backlog]=65535
  [net.ipv4.ip_local_port_range]="1024 65535"
  [net.ipv4.tcp_mem]="$(( pages_per_gib * 4 )) $(( pages_per_gib * 8 )) $(( pages_per_gib * 12 ))"
  # Small default buffers: idle push connections never need 87 KB each.
  [net.ipv4.tcp_rmem]="4096 8192 4161536"
  [net.ipv4.tcp_wmem]="4096 8192 4161536"
  [net.ipv4.tcp_tw_reuse]=1
  [vm.overcommit_memory]=1
)

current() { sysctl -n "$1" 2>/dev/null | tr -s '\t ' ' ' || echo "unavailable"; }

changes=()
for key in "${!wanted[@]}"; do
  have=$(current "$key")
  want=${wanted[$key]}
  # Single numbers are floors: never lower a limit that is already higher.
  if [[ "$want" =~ ^[0-9]+$ && "$have" =~ ^[0-9]+$ && "$key" != net.ipv4.tcp_tw_reuse && "$key" != vm.overcommit_memory ]] && [ "$have" -ge "$want" ]; then
    continue
  fi
  if [ "$have" != "$want" ]; then
    changes+=("$key")
    printf '%-32s %-28s -> %s\n' "$key" "$have" "$want"
  fi
done
[ ${#changes[@]} -eq 0 ] && echo "kernel settings already as wanted"

limits_line="* soft nofile $files
* hard nofile $files
root soft nofile $files
root hard nofile $files"
echo
echo "per-process open files now: soft $(ulimit -Sn), hard $(ulimit -Hn); wanted $files"
echo "  (systemd units: LimitNOFILE=$files; containers: --ulimit nofile=$files:$files)"
echo "  where the hard limit cannot be raised, run more workers instead: HERALD_WORKERS=$(( connections / 19000 + 1 ))"

if [ "$dry_run" = 1 ]; then
  echo; echo "dry run: nothing changed"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "must run as root (or use --dry-run)" >&2
  exit 1
fi
for key in "${changes[@]}"; do
  sysctl -q -w "$key=${wanted[$key]}" || echo "could not set $key (read-only here?)" >&2
done
# Keep the OOM killer off the gateway's primary; workers are respawned if one is killed.
if [ -n "${HERALD_PID:-}" ]; then echo -1000 > "/proc/$HERALD_PID/oom_score_adj"; fi

if [ "$persist" = 1 ]; then
  {
    echo "# written by herald scripts/tune-linux.sh"
    for key in "${!wanted[@]}"; do echo "$key = ${wanted[$key]}"; done
  } > /etc/sysctl.d/90-herald.conf
  echo "$limits_line" > /etc/security/limits.d/90-herald.conf
  echo "wrote /etc/sysctl.d/90-herald.conf and /etc/security/limits.d/90-herald.conf"
else
  echo; echo "applied until reboot; to persist, rerun with --persist"
fi
