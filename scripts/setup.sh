#!/usr/bin/env bash
# Create .venv (if needed) and install every package of the monorepo, editable, in one
# pip command, with torch pinned to the CPU build by constraints.txt.
# Usage: source-free; run as `bash scripts/setup.sh`. Re-running is cheap (pip no-ops).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv with $($PY --version 2>&1)" >&2
    "$PY" -m venv .venv
fi
STAMP=.venv/.installed-stamp
# Reinstall only when a pyproject or the constraints changed since the last install.
if [ ! -f "$STAMP" ] || [ -n "$(find constraints.txt ./*/pyproject.toml -newer "$STAMP" 2>/dev/null)" ]; then
    echo "setup: installing packages into .venv (about a minute the first time)" >&2
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -c constraints.txt \
        -e "./parametrize-tests[test]" \
        -e "./signal-processing[test]" \
        -e "./data-fetcher[test]" \
        -e "./feature-extraction[test]" \
        -e "./model[test]" \
        -e "./finance-demo[test]" \
        -e "./stock-analyzer[test]" \
        "ruff>=0.6"
    # No sibling may come from PyPI (some names belong to unrelated projects there).
    strangers=$(.venv/bin/python -m pip list --exclude-editable --format=freeze | grep -iE \
        '^(parametrize-tests|signal-processing|data-fetcher|feature-extraction|model|finance-demo|stock-analyzer)==' || true)
    if [ -n "$strangers" ]; then
        echo "setup: a sibling package was installed from an index, not from its folder: $strangers" >&2
        exit 1
    fi
    touch "$STAMP"
fi
