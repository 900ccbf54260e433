#!/usr/bin/env bash
# The README's test command (make test) after set-up:
#   0. lint: ruff check and ruff format --check (scripts/lint.sh, the configuration in pyproject.toml);
#   1. unit tests of the library and the data scripts (pytest, not marked `book`);
#   1b. the GPU check (scripts/gpu_check.sh --dry): its three phases on the CPU at tiny shapes (~1 minute), so
#      that the script a lent GPU runs cannot rot;
#   2. every notebook: a `parameters` cell, and a papermill run at the smoke profile (tests/test_notebooks.py);
#   3. the committed runs: retrain a random sample of results/ and compare every metric with its file
#      (python -m ogm_lib book verify; the draw's seed is printed, OGM_VERIFY_SEED repeats a draw);
#   4. the book command itself: execute every notebook at the default profile, reading the committed
#      runs from results/, and build with -W -n;
#   5. nbval over the executed notebooks that book/_toc.yml lists (--nbval-lax; cells tagged
#      nbval-check-output are compared);
#   6. the built book in headless Chromium (math rendered, no broken image, nothing fetched online).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export OGM_RESULTS_DIR="${OGM_RESULTS_DIR:-$PWD/results}"
echo "== 0/6 lint (ruff check, ruff format --check: scripts/lint.sh)"
bash scripts/lint.sh
echo "== 1/6 unit tests"
$PY -m pytest -q -m "not book" tests
echo "== 1b/6 the GPU check in its CPU dry mode"
PY="$PY" bash scripts/gpu_check.sh --dry
echo "== 2/6 notebooks under papermill (smoke)"
$PY -m pytest -q tests/test_notebooks.py
echo "== 3/6 committed runs: retrain a random sample and compare"
$PY -m ogm_lib book verify --sample "${OGM_VERIFY_SAMPLE:-3}" ${OGM_VERIFY_SEED:+--draw-seed "$OGM_VERIFY_SEED"}
echo "== 4/6 the book (execute at the default profile from the committed runs, build with warnings as errors)"
start=$(date +%s)
bash scripts/build_book.sh
echo "book built in $(( $(date +%s) - start )) s"
echo "== 5/6 nbval"
# the notebooks the book shows (book/_toc.yml): one not listed yet has no committed runs, and nbval would train them
shown=$(grep -o 'notebooks/[0-9][0-9]_[A-Za-z0-9_]*' book/_toc.yml | sed 's|notebooks/||; s|$|.ipynb|')
# shellcheck disable=SC2086
(cd notebooks && ../$PY -m pytest -q -p no:cacheprovider --nbval-lax --rootdir=. $shown)
echo "== 6/6 the built book in a browser"
OGM_BOOK_PREBUILT=1 $PY -m pytest -q tests/test_book_browser.py
