#!/usr/bin/env bash
# Create mini-swe-agent's own venv (default: .venv-mini at the repository root) and install
# mini-swe-agent 2.4.6 in it; its dependencies (litellm, datasets, ...) stay out of .venv.
# Idempotent: does nothing when that venv already has the pinned version.
#   benchmarks/mini_swe/setup.sh [VENV_DIR]
# MINI_SWE_WHEEL=path/to/mini_swe_agent-2.4.6-py3-none-any.whl installs from a local wheel
# (its dependencies still come from PyPI).
set -euo pipefail
VERSION=2.4.6
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${1:-$ROOT/.venv-mini}"
PY="${MINI_SWE_PYTHON:-python3}"

if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" - "$VERSION" <<'PYEOF' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if version("mini-swe-agent") == sys.argv[1] else 1)
PYEOF
then
  echo "mini-swe-agent $VERSION already in $VENV"
  exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
if [ -n "${MINI_SWE_WHEEL:-}" ]; then
  "$VENV/bin/python" -m pip install --quiet "$MINI_SWE_WHEEL"
else
  "$VENV/bin/python" -m pip install --quiet "mini-swe-agent==$VERSION"
fi
"$VENV/bin/python" -c "import minisweagent; print('mini-swe-agent', minisweagent.__version__, 'in', '$VENV')"
