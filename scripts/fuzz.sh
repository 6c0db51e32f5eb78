#!/usr/bin/env bash
# Runs every cargo-fuzz target (fuzz/fuzz_targets/) for SECONDS each, one after another, and
# prints per target the executions, exec/s and corpus size libFuzzer reached. Exits non-zero
# if any target crashes (or hangs, or runs out of memory), naming the input it saved.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]     (default 60 s, all targets)
#   FUZZ_ARGS   more libFuzzer flags, e.g. FUZZ_ARGS=-runs=10000000 scripts/fuzz.sh 0 sse
#               (SECONDS 0 = no time limit)
#   FUZZ_TOOLCHAIN  the nightly toolchain to use (default nightly)
#   FUZZ_SANITIZER  cargo-fuzz's --sanitizer (default none: the crate forbids unsafe code, and
#               AddressSanitizer made the targets 2-4x slower; address checks the dependencies'
#               unsafe code too). Debug assertions and overflow checks stay on either way.
# Each target starts from its seeds in fuzz/corpus/TARGET (kept in git, never written to) and a
# working corpus in fuzz/work/TARGET (git-ignored, kept between runs); crashes go to
# fuzz/artifacts/TARGET; the libFuzzer logs to fuzz/work/TARGET.log.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
toolchain=${FUZZ_TOOLCHAIN:-nightly}
sanitizer=${FUZZ_SANITIZER:-none}
read -r -a extra <<<"${FUZZ_ARGS:-}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in fuzz/fuzz_targets/*.rs; do
    t=${f##*/}
    targets+=("${t%.rs}")
  done
fi

echo "== building ${targets[*]} ($(rustc "+$toolchain" -V), sanitizer $sanitizer)"
start=$(date +%s)
if [ $# -eq 0 ]; then
  cargo "+$toolchain" fuzz build --sanitizer "$sanitizer"
else
  for t in "${targets[@]}"; do cargo "+$toolchain" fuzz build --sanitizer "$sanitizer" "$t"; done
fi
echo "   built in $(($(date +%s) - start)) s"

failed=()
summary=()
for t in "${targets[@]}"; do
  work=fuzz/work/$t
  log=fuzz/work/$t.log
  mkdir -p "$work" "fuzz/artifacts/$t"
  flags=(-max_total_time="$secs" -print_final_stats=1 -timeout=20)
  [ -f "fuzz/dicts/$t.dict" ] && flags+=(-dict="fuzz/dicts/$t.dict")
  flags+=("${extra[@]}")
  echo "== $t: ${flags[*]}"
  start=$(date +%s)
  status=0
  cargo "+$toolchain" fuzz run --sanitizer "$sanitizer" "$t" "$work" "fuzz/corpus/$t" -- "${flags[@]}" >"$log" 2>&1 || status=$?
  took=$(($(date +%s) - start))
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  corpus=$(sed -n 's/.* corp: \([0-9]*\)\/\([^ ]*\) .*/\1 inputs, \2/p' "$log" | tail -n 1)
  line="$t: ${runs:-?} executions in ${took} s (${rate:-?} exec/s), corpus ${corpus:-?}"
  if [ "$status" -ne 0 ]; then
    artifact=$(sed -n 's/.*Test unit written to \([^ ]*\).*/\1/p' "$log" | tail -n 1)
    {
      echo "-- $t failed (the whole output is in $log):"
      grep -m 1 -A 1 'panicked at' "$log" || true
      grep -m 1 -E '^==[0-9]+== ERROR' "$log" || true
    } >&2
    line="$line: FAILED (exit $status); input saved as ${artifact:-(none: see $log)}"
    [ -n "$artifact" ] && line="$line; reproduce with: cargo +$toolchain fuzz run --sanitizer $sanitizer $t $artifact"
    failed+=("$t")
  fi
  echo "   $line"
  summary+=("$line")
done

echo "== fuzzing summary"
printf '   %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FUZZING FAILED: ${failed[*]}" >&2
  exit 1
fi
