#!/usr/bin/env bash
# The tests, as the README runs them: `cargo test --locked` (any arguments are passed on), after
# making sure the one test that needs more than Rust can run. tests/browser.rs renders the HTML
# export in a real browser; it needs Chromium and the Noto CJK fonts, installed here from
# Debian's packages (apt-get, as root or through sudo) when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
if [[ -z "${CHROMIUM:-}" ]] && ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
  need+=(chromium)
fi
# (Read whole, not piped into `grep -q`: with pipefail, grep leaving early can fail the pipe.)
fonts=$(fc-list 2>/dev/null || true)
if ! grep -q 'CJK' <<<"$fonts"; then
  need+=(fonts-noto-cjk)
fi
if ! grep -q 'DejaVu Sans' <<<"$fonts"; then
  need+=(fonts-dejavu-core)
fi
if ((${#need[@]})); then
  if ! command -v apt-get >/dev/null; then
    echo "scripts/test.sh: the browser test needs ${need[*]}; install them (or set CHROMIUM to a Chromium binary) and run again" >&2
    exit 2
  fi
  sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  echo "scripts/test.sh: installing ${need[*]} from Debian's packages for the browser test" >&2
  "${sudo[@]}" apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${need[@]}" >/dev/null
fi
# A whole run from a clean clone gains nothing from the incremental cache: it costs CPU on a cold
# build and half of target/ (BENCHMARKS.md, "Cold build"). `cargo test` run by hand keeps it, for
# the edit-and-test loop.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
exec cargo test --locked "$@"
