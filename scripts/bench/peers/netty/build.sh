#!/usr/bin/env bash
# Compiles the Netty benchmark peer (HeraldPeer.java) against Debian's
# libnetty-java, installing that package first if it is missing. Only the
# benchmark runs this; the regular test suite never needs Java.
#
#   scripts/bench/peers/netty/build.sh [OUT_DIR]
#
# OUT_DIR defaults to dist/scripts/bench/peers/netty (dist/ is gitignored). It
# receives classes/ and classpath.txt, the -cp string netty-server.ts runs with.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
out="${1:-$root/dist/scripts/bench/peers/netty}"
src="$here/HeraldPeer.java"
jars=/usr/share/java

# Only the modules the peer uses (the unversioned names are Debian's symlinks).
modules=(netty-common netty-buffer netty-resolver netty-transport netty-codec netty-codec-http netty-codec-redis netty-handler)

if [ ! -e "$jars/netty-codec-http.jar" ]; then
  echo "[netty build] installing libnetty-java" >&2
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq libnetty-java >&2
fi

cp=""
for m in "${modules[@]}"; do
  [ -e "$jars/$m.jar" ] || { echo "[netty build] missing $jars/$m.jar" >&2; exit 1; }
  cp="$cp${cp:+:}$jars/$m.jar"
done

mkdir -p "$out/classes"
# Recompile only when the source is newer than the class (benchmarks call this every run).
if [ ! -e "$out/classes/HeraldPeer.class" ] || [ "$src" -nt "$out/classes/HeraldPeer.class" ]; then
  echo "[netty build] javac HeraldPeer.java" >&2
  javac -nowarn --release 17 -cp "$cp" -d "$out/classes" "$src"
fi
printf '%s\n' "$out/classes:$cp" > "$out/classpath.txt"
echo "$out/classpath.txt"
