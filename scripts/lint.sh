#!/usr/bin/env bash
# The project's lint: ruff's rules (pyproject.toml's [tool.ruff.lint]: pycodestyle, pyflakes, import order,
# bugbear) and ruff's format, both checked, changing nothing, over every Python file of the project but those
# pyproject.toml excludes (notebooks/, results/, data/, book/_build/). Both always run; the exit is 1 if either
# finds something. One line per finding (`ruff format --diff FILE` shows a file's reformatting). The ruff is
# the venv's, at the version requirements.lock pins and .pre-commit-config.yaml's hooks use. `make lint` runs
# it; to fix what it finds: `.venv/bin/ruff check --fix . && .venv/bin/ruff format .`
# (or `.venv/bin/pre-commit run --all-files`).
set -euo pipefail
cd "$(dirname "$0")/.."
RUFF="${RUFF:-.venv/bin/ruff}"
status=0
echo "== ruff check ($("$RUFF" --version))"
"$RUFF" check --output-format concise . || status=1
echo "== ruff format --check"
"$RUFF" format --check --output-format concise . || status=1
exit $status
