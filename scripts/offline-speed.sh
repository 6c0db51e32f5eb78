#!/usr/bin/env bash
# The offline path's speed (issue #29, item 1): a whole offline `cast` process against `history`
# on the same store, side by side (ROUNDS rounds, each a cast then a history, medians printed),
# and the terminal app's first frame (time from start until a pty shows its first screen).
# Usage: scripts/offline-speed.sh [BINARY] [ROUNDS]
# BINARY defaults to the release build (${CARGO_TARGET_DIR:-target}/release/iching).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-${CARGO_TARGET_DIR:-target}/release/iching}
rounds=${2:-5}
[ -x "$bin" ] || { echo "no binary at $bin: cargo build --release first" >&2; exit 2; }
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
# Nothing from the environment chooses a model: every cast is offline.
unset OPENAI_API_KEY OPENAI_BASE_URL ICHING_PROVIDER ICHING_HOME
# A store of 20 readings, as a journal of a few weeks holds.
for i in $(seq 20); do
  "$bin" --home "$home" cast "Question $i" --seed "$i" >/dev/null 2>&1
done
ms() { # the wall time of one run of "$@", in ms to 0.1
  local t0 t1
  t0=$(date +%s%N)
  "$@" >/dev/null 2>&1
  t1=$(date +%s%N)
  echo "scale=1; ($t1 - $t0) / 1000000" | bc
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
casts=(); lists=()
for i in $(seq "$rounds"); do
  casts+=("$(ms "$bin" --home "$home" cast "Round $i" --seed "$((100 + i))")")
  lists+=("$(ms "$bin" --home "$home" history)")
done
c=$(printf '%s\n' "${casts[@]}" | median)
h=$(printf '%s\n' "${lists[@]}" | median)
echo "offline cast, ms:  ${casts[*]}  (median $c)"
echo "history, ms:       ${lists[*]}  (median $h)"
echo "cast / history:    $(echo "scale=2; $c / $h" | bc)"
# The first frame: from spawning the app in an 80x24 pty to the first screen naming the provider.
frames=()
for _ in $(seq "$rounds"); do
  frames+=("$(python3 - "$bin" "$home" <<'EOF'
import os, pty, select, struct, sys, time, fcntl, termios, signal
binary, home = sys.argv[1], sys.argv[2]
start = time.monotonic()
pid, fd = pty.fork()
if pid == 0:
    os.environ["TERM"] = "xterm-256color"
    os.execv(binary, [binary, "--home", home])
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
seen = b""
while time.monotonic() - start < 10:
    r, _, _ = select.select([fd], [], [], 0.01)
    if r:
        try:
            seen += os.read(fd, 65536)
        except OSError:
            break
        if b"offline" in seen:
            break
print(f"{(time.monotonic() - start) * 1000:.1f}")
os.kill(pid, signal.SIGKILL)
os.waitpid(pid, 0)
EOF
)")
done
echo "first frame, ms:   ${frames[*]}  (median $(printf '%s\n' "${frames[@]}" | median))"
