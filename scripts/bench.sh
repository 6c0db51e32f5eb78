#!/usr/bin/env bash
# Reproduces the README's concurrency figures: the example server with a fixed latency, then
# `iching bench`, the bare reqwest loop and (when installed) Python's openai SDK and aiohttp, on the
# same server in the same run, in JSON and SSE modes, with peak RSS from /usr/bin/time when present.
# Usage: scripts/bench.sh [REQUESTS] [CONCURRENCY] [LATENCY_MS]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-4000}; C=${2:-256}; L=${3:-100}
cargo build --release --quiet --features examples --examples --bins
log=$(mktemp)
./target/release/examples/fake_openai --latency-ms "$L" >"$log" 2>/dev/null &
server=$!
trap 'kill $server 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 50); do grep -q listening "$log" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$log")
echo "server: $url, latency ${L} ms; ideal ceil($N/$C) x $L ms = $(python3 -c "import math;print(math.ceil($N/$C)*$L/1000)") s"
timer=()
[ -x /usr/bin/time ] && timer=(/usr/bin/time -f "  peak RSS %M KB")
export OPENAI_API_KEY=sk-bench
for mode in --no-stream --stream; do
  echo "== ${mode#--} =="
  "${timer[@]}" ./target/release/iching bench --base-url "$url" --requests "$N" --concurrency "$C" \
      $mode --latency-ms "$L" --home "$(mktemp -d)"
  bare_stream=""; [ "$mode" = --stream ] && bare_stream=--stream
  "${timer[@]}" ./target/release/examples/bare_loop --base-url "$url" --requests "$N" --concurrency "$C" $bare_stream
  if python3 -c "import openai, aiohttp" 2>/dev/null; then
    py_stream=""; [ "$mode" = --stream ] && py_stream=--stream
    python3 scripts/bench_python.py --base-url "$url" --requests "$N" --concurrency "$C" $py_stream
  else
    echo "  (python openai/aiohttp not installed: pip install openai aiohttp)"
  fi
done
