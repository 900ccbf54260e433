"""Every notebook's `parameters` cell agrees with the library's defaults.

A notebook's parameters are what a reader changes (papermill `-p`); the rows the book lists (`runs.book_runs`)
are made from the library's defaults. If the two disagreed, the notebook would train or read other runs than
the ones committed, or a partner row would get other seeds. For each chapter, every parameter that its row
function takes (`ROWS`) must default to the function's own default, and the shared parameters (`SHARED`)
to the recipe's constants.
"""
from __future__ import annotations

import ast
import inspect
import json
from pathlib import Path

import pytest

from ogm_lib.recipe import book, plugins, regimes

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

#: chapter -> the row function whose keyword defaults the notebook's parameters must equal
ROWS = {"01_imbalance": book.imbalance_rows, "02_ogm": book.ogm_rows, "04_ge": book.ge_rows,
        "05_table1": book.table1_rows, "06_table2": book.table2_rows, "07_table6": book.table6_rows,
        "08_table7": book.table7_rows, "09_figure3": book.figure3_rows, "13_table3": plugins.table3_rows,
        "14_table4": plugins.table4_rows, "15_table5": plugins.table5_rows}
#: the regime chapters' seeds (`regimes.py`)
REGIME_CHAPTERS = ("11_regimes", "12_when_ogm_ge_helps")


def parameters(notebook: Path) -> dict:
    """name -> literal value of the notebook's `parameters` cell."""
    nb = json.loads(notebook.read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    out = {}
    for node in ast.parse("".join(cell["source"])).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            out[node.targets[0].id] = ast.literal_eval(node.value)
    return out


def expected(chapter: str) -> dict:
    """The defaults the chapter's parameters cell must hold."""
    want = {"profile": book.PROFILE, "device": "cpu", "workers": None, "results_dir": None}
    if chapter in REGIME_CHAPTERS:
        want.update(seeds=regimes.REGIME_SEEDS, calibration_seeds=list(regimes.CALIBRATION_SEEDS),
                    alpha_seeds=list(regimes.ALPHA_SEEDS))
        return want
    want.update(seeds=book.SEEDS, headline_seeds=book.HEADLINE_SEEDS, regime=book.REGIME, dataset="avdigits")
    if chapter in ("03_sgd_noise",):
        want.update(alpha=book.ALPHA)
    fn = ROWS.get(chapter)
    if fn is not None:
        for name, p in inspect.signature(fn).parameters.items():
            if p.default is not inspect.Parameter.empty and name not in ("device",):
                value = p.default
                want[name] = list(value) if isinstance(value, tuple) else value
    return want


@pytest.mark.parametrize("notebook", sorted(NOTEBOOKS.glob("[0-9]*.ipynb")), ids=lambda p: p.stem)
def test_parameters_cell_matches_the_library(notebook):
    got = parameters(notebook)
    want = {k: v for k, v in expected(notebook.stem).items() if k in got}
    assert {k: got[k] for k in want} == want


def test_the_check_sees_a_disagreement(tmp_path):
    nb = json.loads((NOTEBOOKS / "05_table1.ipynb").read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    cell["source"] = ["".join(cell["source"]).replace(f"alpha = {book.ALPHA}", "alpha = 0.8")]
    bad = tmp_path / "05_table1.ipynb"
    bad.write_text(json.dumps(nb))
    assert parameters(bad)["alpha"] == 0.8 != expected("05_table1")["alpha"]
