#!/usr/bin/env bash
# Build the Jupyter Book, offline. The book reads the notebooks where they live: book/notebooks is a
# link to ../notebooks (Jupyter Book 1.x builds sources under book/ only; Sphinx follows the link).
#   1. MathJax into book/_static/mathjax (scripts/install_mathjax.sh; skipped if present);
#   2. each notebook book/_toc.yml lists is executed with papermill into book/_build/reports/ and, when
#      it succeeds, written back in place with papermill's injected-parameters cell tagged `remove-cell`
#      (the reader sees the parameters cell only); a notebook that fails is left as it was, its report
#      and log stay in book/_build/reports/, and the script fails after trying them all;
#   3. jupyter-book build book -W -n --keep-going (any warning fails the build).
#
# Environment:
#   OGM_PROFILE        papermill parameter `profile` (default: converged, the notebooks' own)
#   OGM_DEVICE         papermill parameter `device` (default: the notebooks' own)
#   OGM_PAPERMILL_ARGS more papermill arguments, e.g. "-p seeds 3" (word-split)
#   OGM_NOTEBOOKS      execute only these notebooks, e.g. "05_table1 06_table2" (the others as stored)
#   OGM_SKIP_EXECUTE=1 execute nothing: build from the notebooks as stored
#   PYTHON             interpreter with papermill and jupyter-book (default: .venv/bin/python, else python3)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-$([[ -x .venv/bin/python ]] && echo "$ROOT/.venv/bin/python" || echo python3)}"
REPORTS="$ROOT/book/_build/reports"
START=$(date +%s)

echo "== 1/3 MathJax"
scripts/install_mathjax.sh

# the chapters, in the toc's order (a notebook the toc does not list is neither executed nor built)
mapfile -t CHAPTERS < <(grep -o 'notebooks/[0-9][0-9]_[A-Za-z0-9_]*' book/_toc.yml | sed 's|notebooks/||')
echo "== 2/3 Execute ${#CHAPTERS[@]} chapters (profile=${OGM_PROFILE:-converged}; OGM_SKIP_EXECUTE=${OGM_SKIP_EXECUTE:-0})"
params=(-p profile "${OGM_PROFILE:-converged}")
[[ -n "${OGM_DEVICE:-}" ]] && params+=(-p device "$OGM_DEVICE")
# shellcheck disable=SC2206
params+=(${OGM_PAPERMILL_ARGS:-})
[[ "${OGM_SKIP_EXECUTE:-0}" == "1" ]] && CHAPTERS=()
mkdir -p "$REPORTS"
failed=()
for name in "${CHAPTERS[@]}"; do
    [[ -n "${OGM_NOTEBOOKS:-}" && " $OGM_NOTEBOOKS " != *" $name "* && " $OGM_NOTEBOOKS " != *" $name.ipynb "* ]] && continue
    t0=$(date +%s)
    echo "-- $name"
    if "$PYTHON" -m papermill "notebooks/$name.ipynb" "$REPORTS/$name.ipynb" -k python3 --cwd notebooks \
            "${params[@]}" --log-output >"$REPORTS/$name.log" 2>&1; then
        "$PYTHON" -c '
import json, sys
nb = json.load(open(sys.argv[1]))
for cell in nb["cells"]:
    tags = cell.setdefault("metadata", {}).setdefault("tags", [])
    if "injected-parameters" in tags and "remove-cell" not in tags:
        tags.append("remove-cell")
json.dump(nb, open(sys.argv[2], "w"), indent=1, ensure_ascii=False)
' "$REPORTS/$name.ipynb" "notebooks/$name.ipynb"
        echo "   ok ($(( $(date +%s) - t0 )) s)"
    else
        failed+=("$name")
        echo "   FAILED ($(( $(date +%s) - t0 )) s): see $REPORTS/$name.ipynb and .log"
        tail -n 20 "$REPORTS/$name.log" | sed 's/^/   | /'
    fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "error: ${#failed[@]} notebook(s) failed: ${failed[*]} (reports in book/_build/reports/)" >&2
    exit 1
fi

echo "== 3/3 jupyter-book build book -W -n --keep-going"
JB="$(dirname "$PYTHON")/jupyter-book"
[[ -x "$JB" ]] || JB=jupyter-book
"$JB" build book -W -n --keep-going
echo "Book built in $(( $(date +%s) - START )) s: $ROOT/book/_build/html/index.html"
