#!/usr/bin/env bash
# The README's test command (make test) after set-up:
#   1. unit tests of the library and the data scripts (pytest, not marked `book`);
#   2. every notebook: a `parameters` cell, and a papermill run at the smoke profile (tests/test_notebooks.py);
#   3. the book command itself: execute every notebook at the default profile and build with -W -n;
#   4. nbval over the executed notebooks (--nbval-lax; cells marked NBVAL_CHECK_OUTPUT are compared),
#      reading the runs of step 3 from the results cache;
#   5. the built book in headless Chromium (math rendered, no broken image, nothing fetched online).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export OGM_RESULTS_DIR="${OGM_RESULTS_DIR:-$PWD/results}"
echo "== 1/5 unit tests"
$PY -m pytest -q -m "not book" tests
echo "== 2/5 notebooks under papermill (smoke)"
$PY -m pytest -q tests/test_notebooks.py
echo "== 3/5 the book (execute at the default profile, build with warnings as errors)"
start=$(date +%s)
bash scripts/build_book.sh
echo "book built in $(( $(date +%s) - start )) s"
echo "== 4/5 nbval"
(cd notebooks && ../$PY -m pytest -q -p no:cacheprovider --nbval-lax --rootdir=. [0-9][0-9]_*.ipynb)
echo "== 5/5 the built book in a browser"
OGM_BOOK_PREBUILT=1 $PY -m pytest -q tests/test_book_browser.py
