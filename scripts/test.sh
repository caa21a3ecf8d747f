#!/usr/bin/env bash
# Installs runtime + test tooling and runs the whole test suite (Python, C++ core, Blender, Maya).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev
.venv/bin/ruff check bridge tests bench engines
.venv/bin/mypy
.venv/bin/lint-imports
exec .venv/bin/python -m pytest -q "$@"
