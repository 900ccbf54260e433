#!/usr/bin/env bash
# Build the Jupyter Book end to end, offline:
#   1. install MathJax into book/_static/mathjax (scripts/install_mathjax.sh; skipped if present),
#   2. execute every notebooks/[0-9][0-9]_*.ipynb that book/_toc.yml lists IN PLACE with papermill
#      (skip: OGM_SKIP_EXECUTE=1),
#   3. copy the executed notebooks into book/notebooks/ (git-ignored; Jupyter Book 1.x only builds
#      sources under book/, so a toc entry "../notebooks/x" does not work), tagging papermill's
#      injected-parameters cell `remove-cell` so that the reader sees the parameters cell only,
#   4. jupyter-book build book -W -n --keep-going   (any warning fails the build).
#
# Environment:
#   OGM_PROFILE        papermill parameter `profile` (default: converged, the notebooks' own)
#   OGM_DEVICE         papermill parameter `device`  (default: not passed; the notebook's default)
#   OGM_PAPERMILL_ARGS extra papermill arguments, e.g. "-p seeds 3" (word-split)
#   OGM_NOTEBOOKS      space-separated notebook names to execute (default: all); the others are
#                      still copied into the book as they are
#   OGM_SKIP_EXECUTE=1 do not execute; build from the notebooks as stored (already executed)
#   OGM_KERNEL         kernel name for papermill (default: python3)
#   PYTHON             interpreter with papermill and jupyter-book (default: .venv/bin/python if
#                      present, else python3)
#
# Failure reports: for each executed notebook, papermill's output notebook and log are written to
# book/_build/reports/ (<name>.ipynb, <name>.log). A notebook that fails is left untouched in
# notebooks/ and the script exits non-zero after trying all of them.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x "$ROOT/.venv/bin/python" ]]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi
PROFILE="${OGM_PROFILE:-converged}"
KERNEL="${OGM_KERNEL:-python3}"
REPORTS="$ROOT/book/_build/reports"
START=$(date +%s)

echo "== 1/4 MathJax"
"$ROOT/scripts/install_mathjax.sh"

shopt -s nullglob
NOTEBOOKS=(notebooks/[0-9][0-9]_*.ipynb)
shopt -u nullglob

echo "== 2/4 Execute notebooks (profile=$PROFILE)"
if [[ ${#NOTEBOOKS[@]} -eq 0 ]]; then
    echo "no notebooks/[0-9][0-9]_*.ipynb yet: building the book from its markdown pages only"
elif [[ "${OGM_SKIP_EXECUTE:-0}" == "1" ]]; then
    echo "OGM_SKIP_EXECUTE=1: using the notebooks as stored"
else
    mkdir -p "$REPORTS"
    params=(-p profile "$PROFILE")
    [[ -n "${OGM_DEVICE:-}" ]] && params+=(-p device "$OGM_DEVICE")
    # shellcheck disable=SC2206
    extra=(${OGM_PAPERMILL_ARGS:-})
    failed=()
    for nb in "${NOTEBOOKS[@]}"; do
        name="$(basename "$nb" .ipynb)"
        if [[ -n "${OGM_NOTEBOOKS:-}" && " $OGM_NOTEBOOKS " != *" $name "* \
              && " $OGM_NOTEBOOKS " != *" $name.ipynb "* ]]; then
            continue
        fi
        # a notebook the book does not show (not in book/_toc.yml yet, e.g. one whose runs are not trained
        # and committed) is not executed: executing it would train its runs for a page nobody sees
        if ! grep -q "notebooks/$name\b" "$ROOT/book/_toc.yml"; then
            echo "-- $nb: not in book/_toc.yml, not executed"
            continue
        fi
        out="$REPORTS/$name.ipynb"
        log="$REPORTS/$name.log"
        t0=$(date +%s)
        echo "-- $nb"
        # Execute into the report folder first; copy back only on success, so a failing run never
        # replaces a good executed notebook.
        if "$PYTHON" -m papermill "$nb" "$out" -k "$KERNEL" --cwd "$ROOT/notebooks" \
                "${params[@]}" "${extra[@]}" --log-output >"$log" 2>&1; then
            cp "$out" "$nb"
            echo "   ok ($(( $(date +%s) - t0 )) s)"
        else
            failed+=("$nb")
            echo "   FAILED ($(( $(date +%s) - t0 )) s): see $out and $log"
            tail -n 20 "$log" | sed 's/^/   | /'
        fi
    done
    if [[ ${#failed[@]} -gt 0 ]]; then
        echo "error: ${#failed[@]} notebook(s) failed: ${failed[*]}" >&2
        echo "       reports in book/_build/reports/" >&2
        exit 1
    fi
fi

echo "== 3/4 Copy notebooks into book/notebooks/"
rm -rf "$ROOT/book/notebooks"
mkdir -p "$ROOT/book/notebooks"
# a generated folder: keep it out of git even where the root .gitignore does not list it
printf '*\n' > "$ROOT/book/notebooks/.gitignore"
"$PYTHON" - "${NOTEBOOKS[@]}" <<'PY'
import json, sys
from pathlib import Path
for src in sys.argv[1:]:
    nb = json.loads(Path(src).read_text())
    for cell in nb["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
    Path("book/notebooks", Path(src).name).write_text(json.dumps(nb, indent=1, ensure_ascii=False))
PY
# Anything the notebooks read relative to themselves (figures, small tables) lives in
# notebooks/assets/ and travels with them.
if [[ -d "$ROOT/notebooks/assets" ]]; then
    cp -R "$ROOT/notebooks/assets" "$ROOT/book/notebooks/assets"
fi

echo "== 4/4 jupyter-book build book -W -n --keep-going"
JB="$(dirname "$PYTHON")/jupyter-book"
[[ -x "$JB" ]] || JB=jupyter-book
"$JB" build "$ROOT/book" -W -n --keep-going
echo "Book built in $(( $(date +%s) - START )) s: $ROOT/book/_build/html/index.html"
