"""What a restructuring must not change, as one JSON file: every run key of the book and every glued value.

    python scripts/book_snapshot.py write before.json          # the book as it stands
    ... restructure, execute the chapters again (scripts/build_book.sh) ...
    python scripts/book_snapshot.py write after.json
    python scripts/book_snapshot.py compare before.json after.json

`runs`: the key of every run `book_runs()` lists (the book's whole run list at the notebooks' defaults),
and whether its result file is committed. `glue`: notebook -> {glued name: its text/plain value}, read from
the executed notebooks under `notebooks/` (the values the book's prose shows). `compare` prints every key
or value that was added, removed or changed, and exits 1 if there is any.
"""

from __future__ import annotations

import glob
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GLUE_PREFIX = "application/papermill.record/"


def glued_values(notebook: Path) -> dict[str, str]:
    """{name: text/plain} of every value the notebook glues (myst-nb's scrapbook outputs)."""
    out = {}
    for cell in json.loads(notebook.read_text())["cells"]:
        for output in cell.get("outputs", []):
            book = output.get("metadata", {}).get("scrapbook")
            if book:
                data = output.get("data", {})
                out[book["name"]] = data.get(GLUE_PREFIX + "text/plain", data.get("text/plain"))
    return out


def snapshot() -> dict:
    sys.path.insert(0, str(ROOT))
    try:  # the layout of issue 27 (three wings)
        from ogm_lib.method.results import result_path, results_folder
        from ogm_lib.recipe.runs import book_runs
    except ImportError:  # the layout before it (to snapshot the book before the move)
        from ogm_lib.method.results import result_path, results_folder
        from ogm_lib.recipe.runs import book_runs
    runs = {c.key(): result_path(c, results_folder(c, ROOT / "results")).exists() for c in book_runs()}
    glue = {Path(f).name: glued_values(Path(f)) for f in sorted(glob.glob(str(ROOT / "notebooks" / "*.ipynb")))}
    return {"runs": runs, "glue": glue}


def compare(before: dict, after: dict) -> list[str]:
    out = []
    for key in sorted(set(before["runs"]) | set(after["runs"])):
        if key not in after["runs"]:
            out.append(f"run {key}: removed from book_runs")
        elif key not in before["runs"]:
            out.append(f"run {key}: added to book_runs")
        elif before["runs"][key] != after["runs"][key]:
            out.append(f"run {key}: committed {before['runs'][key]} -> {after['runs'][key]}")
    for nb in sorted(set(before["glue"]) | set(after["glue"])):
        b, a = before["glue"].get(nb, {}), after["glue"].get(nb, {})
        for name in sorted(set(b) | set(a)):
            if b.get(name) != a.get(name):
                out.append(f"{nb} {name}: {b.get(name)!r} -> {a.get(name)!r}")
    return out


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "write":
        Path(argv[1]).write_text(json.dumps(snapshot(), indent=1, sort_keys=True))
        return 0
    if len(argv) == 3 and argv[0] == "compare":
        before, after = (json.loads(Path(p).read_text()) for p in argv[1:])
        diffs = compare(before, after)
        print(
            "\n".join(diffs)
            if diffs
            else f"identical: {len(after['runs'])} run keys, "
            f"{sum(len(v) for v in after['glue'].values())} glued values in {len(after['glue'])} notebooks"
        )
        return 1 if diffs else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
