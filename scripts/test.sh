#!/usr/bin/env bash
# One command: set up .venv, lint, and run every package's test suite.
#   bash scripts/test.sh            # everything
#   bash scripts/test.sh -k buffer  # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/python -m pytest "$@"
