#!/usr/bin/env bash
# Offline plan of a generated 1,000-TaskManager inventory, against the 2-host seed plan
# measured in the same run. Target: <= 0.5 s for 1,000 TaskManagers.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
bin=target/release/flinkup
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
{
  echo "cluster: bench-1000"
  echo "jobmanager: jm.bench.example"
  echo "taskmanagers:"
  for i in $(seq -w 1 1000); do echo "  - tm-$i.bench.example"; done
  echo "config:"
  echo "  taskmanager.numberOfTaskSlots: 4"
  echo "  rest.port: 8082"
} > "$work/inv.yaml"

# median wall time in ms of N runs of a command
median_ms() {
  local n=$1; shift
  local times=()
  for _ in $(seq "$n"); do
    local t0 t1
    t0=$(date +%s%N)
    "$@" > "$work/out" 2>&1
    t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (n + 1) / 2 ))p"
}

base=$(median_ms 7 "$bin" plan -i inventories/seed.yaml --offline)
big=$(median_ms 7 "$bin" plan -i "$work/inv.yaml" --offline)
json=$(median_ms 7 "$bin" plan -i "$work/inv.yaml" --offline --json)
lines=$("$bin" plan -i "$work/inv.yaml" --offline | wc -l)
echo "baseline  plan --offline, seed (2 hosts):           ${base} ms"
echo "measured  plan --offline, 1000 TaskManagers (text): ${big} ms (${lines} lines)"
echo "measured  plan --offline, 1000 TaskManagers (json): ${json} ms"
status=PASS
[ "$big" -le 500 ] && [ "$json" -le 500 ] || status=FAIL
echo "target    <= 500 ms: $status"
[ "$status" = PASS ]
