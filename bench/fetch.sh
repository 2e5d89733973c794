#!/usr/bin/env bash
# Fetch of the real 250 MB Flink tarball from a local HTTP server: flinkup (download + sha512
# verification + cache) against `curl -o` of the same file in the same run, with peak RSS.
# Target: flinkup peak RSS <= 64 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
tgz=$(tests/fixtures/flink-tarball.sh)
dist=$(dirname "$tgz")
bin=$PWD/target/release/flinkup
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$dist" "$port" >/dev/null 2>&1 &
srv=$!
trap 'kill $srv 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
url="http://127.0.0.1:$port/$(basename "$tgz")"
cat > "$work/inv.yaml" <<INV
cluster: bench-fetch
flink:
  version: 1.9.3
  artifact:
    url: $url
jobmanager: 198.18.0.1
taskmanagers: [198.18.0.1]
INV
size=$(stat -c %s "$tgz")

measure() { # label, command...
  local label=$1; shift
  /usr/bin/time -v "$@" 2> "$work/time" >/dev/null
  local secs rss
  secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$work/time")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time")
  awk -v l="$label" -v s="$secs" -v r="$rss" -v b="$size" \
    'BEGIN { printf "%-34s %6.2f s  %7.1f MB/s  peak RSS %6.1f MiB\n", l, s, b/1e6/s, r/1024 }'
  echo "$rss" > "$work/rss.$label"
}

echo "file: $(basename "$tgz") ($((size / 1000000)) MB), served by python3 http.server on 127.0.0.1"
measure "baseline curl -o" curl -sf -o "$work/curl.tgz" "$url"
measure "baseline curl -o + sha512sum" sh -c "curl -sf -o '$work/curl2.tgz' '$url' && sha512sum '$work/curl2.tgz'"
measure "flinkup fetch (cold cache)" "$bin" fetch -i "$work/inv.yaml" --cache-dir "$work/cache" --quiet
measure "flinkup fetch (warm: re-hash)" "$bin" fetch -i "$work/inv.yaml" --cache-dir "$work/cache" --quiet
rss=$(cat "$work/rss.flinkup fetch (cold cache)")
if [ "$rss" -le $((64 * 1024)) ]; then echo "target    peak RSS <= 64 MiB: PASS"; else echo "target    peak RSS <= 64 MiB: FAIL"; exit 1; fi
