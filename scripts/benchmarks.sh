#!/usr/bin/env bash
# The end-to-end figures of BENCHMARKS.md, reproduced: reading overhead, bench and batch
# efficiency against the ideal at C=64 and C=256, peak RSS, Python on the same server, and
# history over 10,000 readings. Needs /usr/bin/time (Debian: apt-get install time) for RSS and,
# optionally, `pip install openai aiohttp` for the Python rows.
# Usage: [RUNS=5] scripts/benchmarks.sh [LATENCY_MS]   (RUNS: batch runs per setting; the median is shown)
set -euo pipefail
cd "$(dirname "$0")/.."
L=${1:-100}
RUNS=${RUNS:-5}
cargo build --release --quiet --features examples --examples --bins
bin=./target/release/iching
work=$(mktemp -d)
log="$work/server.log"
./target/release/examples/fake_openai --latency-ms "$L" >"$log" 2>/dev/null &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 50); do grep -q listening "$log" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$log")
export OPENAI_API_KEY=sk-bench
# Runs a command; prints its peak RSS on stderr after it (when /usr/bin/time is there).
rss() { if [ -x /usr/bin/time ]; then /usr/bin/time -f "%M" -o "$work/rss" "$@"; echo "  peak RSS $(( $(cat "$work/rss") / 1024 )) MB" >&2; else "$@"; fi; }

echo "== 1. overhead of one reading (15 sections, L=$L ms; wall minus slowest section)"
./target/release/examples/reading_overhead --runs 30 --latency-ms "$L"

echo "== 2. bench: 4000 requests at C=64 and C=256 (ideal ceil(N/C) x L)"
for mode in --no-stream --stream; do
  rss "$bin" bench --base-url "$url" --requests 4000 --concurrency 64,256 $mode --latency-ms "$L" --home "$work/bench"
done

echo "== 3. batch: 300 readings, storage on (ideal ceil(requests/C) x L; $RUNS runs each, median)"
for i in $(seq 300); do echo "{\"question\": \"Question $i about the year ahead\", \"method\": \"coins\", \"seed\": $i}"; done >"$work/questions.txt"
for c in 64 256; do
  for mode in --stream --no-stream; do
    : >"$work/runs.txt"
    for r in $(seq "$RUNS"); do
      rm -rf "$work/batch"
      rss "$bin" batch "$work/questions.txt" --base-url "$url" --concurrency "$c" $mode --json --home "$work/batch" >"$work/batch.json" 2>"$work/batch.err"
      echo "$(grep -o 'peak RSS [0-9]* MB' "$work/batch.err" | grep -o '[0-9]*' || echo 0) $(cat "$work/batch.json" | tr -d '\n')" >>"$work/runs.txt"
    done
    python3 - "$work/runs.txt" "$c" "$L" "$mode" <<'PY'
import json, math, statistics, sys
c = int(sys.argv[2]); l = float(sys.argv[3]) / 1000
runs = []
for line in open(sys.argv[1]):
    rss, _, doc = line.partition(" ")
    s = json.loads(doc)
    ideal = math.ceil(s["requests"] / c) * l
    runs.append((100 * ideal / s["wall_s"], s["wall_s"], ideal, int(rss), s))
effs = sorted(r[0] for r in runs)
med = statistics.median(effs)
s = runs[0][4]
print(f"  C={c} {sys.argv[4][2:]}: {s['readings']} readings, {s['requests']} requests, complete {s['complete']}, "
      f"ideal {runs[0][2]:.3f} s; efficiency median {med:.1f}% (runs: {', '.join(f'{e:.1f}' for e in effs)}); "
      f"wall median {statistics.median(r[1] for r in runs):.3f} s; peak RSS max {max(r[3] for r in runs)} MB")
PY
  done
done

echo "== 4. Python asyncio on the same server (4000 requests, C=256)"
if python3 -c "import openai, aiohttp" 2>/dev/null; then
  python3 scripts/bench_python.py --base-url "$url" --requests 4000 --concurrency 256
  python3 scripts/bench_python.py --base-url "$url" --requests 4000 --concurrency 256 --stream
else
  echo "  (skipped: pip install openai aiohttp)"
fi

echo "== 5. history over 10,000 readings (first page of 20; median of 10 runs)"
./target/release/examples/populate --home "$work/history" --readings 10000 >/dev/null
python3 - "$bin" "$work/history" <<'PY'
import subprocess, sys, time
runs = []
for _ in range(10):
    t = time.perf_counter()
    subprocess.run([sys.argv[1], "history", "--limit", "20", "--home", sys.argv[2]], check=True, stdout=subprocess.DEVNULL)
    runs.append((time.perf_counter() - t) * 1000)
runs.sort()
print(f"  history --limit 20 over 10,000 readings: median {runs[5]:.1f} ms, max {runs[-1]:.1f} ms (whole process)")
PY
