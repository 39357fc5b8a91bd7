#!/usr/bin/env bash
# Compiles the C reference load client (ws-client.c) with the system cc.
# Benchmarks call this before every run; nothing is downloaded.
#
#   scripts/bench/peers/c-client/build.sh [OUT_DIR]
#
# OUT_DIR defaults to dist/scripts/bench/peers/c-client (dist/ is gitignored).
# Prints the path of the binary.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
out="${1:-$root/dist/scripts/bench/peers/c-client}"
src="$here/ws-client.c"
bin="$out/ws-client"

mkdir -p "$out"
# Recompile only when the source is newer than the binary.
if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ]; then
  echo "[c-client build] cc ws-client.c" >&2
  cc -O2 -Wall -Wextra -o "$bin" "$src" -lm
fi
echo "$bin"
