#!/usr/bin/env bash
# The HTML export in a real browser: casts a reading (offline, lines 9,8,7,7,6,8: 55 Feng
# changing to 31 Xian), exports it, renders the page with headless Chromium to a PDF and a PNG,
# and checks the rendered text for the hexagram figures' names, the Chinese names and the
# hexagram signs. Needs Debian's chromium, fonts-noto-cjk and poppler-utils (`apt-get install
# chromium fonts-noto-cjk poppler-utils`). The check that runs with the tests is
# tests/browser.rs (the figures read from the browser's layout, the fonts it drew with); this
# script leaves a PDF and a PNG to look at.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in chromium pdftotext; do
  command -v "$tool" >/dev/null || { echo "needs $tool: apt-get install chromium fonts-noto-cjk poppler-utils" >&2; exit 2; }
done
cargo build --quiet
work=$(mktemp -d)
bin=target/debug/iching
"$bin" --home "$work" cast "Should I move?" --lines 9,8,7,7,6,8 --provider offline >/dev/null 2>&1
"$bin" --home "$work" show 1 --format html >"$work/reading.html"
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
  --disable-component-update --disable-sync --user-data-dir="$work/profile")
chromium "${flags[@]}" --print-to-pdf="$work/reading.pdf" --no-pdf-header-footer "file://$work/reading.html" 2>/dev/null
chromium "${flags[@]}" --screenshot="$work/reading.png" --window-size=900,700 "file://$work/reading.html" 2>/dev/null
text=$(pdftotext "$work/reading.pdf" -)
fail=0
for want in "䷶ 55 Feng" "豐" "䷞ 31 Xian" "咸" "Abundance" "Influence / Mutual Attraction" "Zhen over Li" "Dui over Gen"; do
  if grep -qF "$want" <<<"$text"; then echo "rendered: $want"; else echo "MISSING: $want"; fail=1; fi
done
echo "page: $work/reading.html  pdf: $work/reading.pdf  screenshot: $work/reading.png"
exit $fail
