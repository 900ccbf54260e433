#!/usr/bin/env bash
# The project's lint: ruff's rules (pyproject.toml's [tool.ruff.lint]: pycodestyle, pyflakes, import order,
# bugbear) and ruff's format, checked and changing nothing, over every Python file of the project but those
# pyproject.toml excludes (notebooks/, results/, data/, book/_build/). The ruff is the venv's, at the
# version requirements.lock pins and .pre-commit-config.yaml's hook uses. `make lint` runs it; to fix what
# it finds: `.venv/bin/ruff check --fix . && .venv/bin/ruff format .` (or `pre-commit run --all-files`).
set -euo pipefail
cd "$(dirname "$0")/.."
RUFF="${RUFF:-.venv/bin/ruff}"
echo "== ruff check ($("$RUFF" --version))"
"$RUFF" check .
echo "== ruff format --check"
"$RUFF" format --check .
