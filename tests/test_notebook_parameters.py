"""Every notebook's `parameters` cell is its chapter's parameters in the registry (`recipe/chapters.py`).

A notebook's parameters are what a reader changes (papermill `-p`); the runs the book lists (`runs.book_runs`)
are the registry's chapters at their parameters' defaults, which the registry reads from the library (each row
function's keyword defaults, the recipe's constants: seeds, headline seeds, regime, profile, alpha). If a cell
disagreed, the notebook would train or read other runs than the ones committed, or a partner row would get
other seeds. So each cell must hold exactly the registry's parameters, with the same defaults.
"""

from __future__ import annotations

import ast
import inspect
import json
from pathlib import Path

import pytest

from ogm_lib.recipe import adam_lr, book, plugins, regimes
from ogm_lib.recipe.chapters import (
    CHAPTER,
    CHAPTERS,
    ON_EARLIER_REGIME,
    book_seeds,
    plugin_seeds,
    regime_parameters,
)

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


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
    """The defaults the chapter's parameters cell must hold: the registry's."""
    return dict(CHAPTER[chapter].parameters)


def test_every_notebook_is_a_chapter_of_the_registry():
    assert sorted(p.stem for p in NOTEBOOKS.glob("[0-9]*.ipynb")) == sorted(c.name for c in CHAPTERS)


@pytest.mark.parametrize("notebook", sorted(NOTEBOOKS.glob("[0-9]*.ipynb")), ids=lambda p: p.stem)
def test_parameters_cell_matches_the_registry(notebook):
    assert parameters(notebook) == expected(notebook.stem)


def test_the_registry_holds_the_librarys_defaults():
    """The registry's parameters are the row functions' defaults and the recipe's constants; a chapter's regime,
    alpha and headline seeds are its regime's (`chapters.regime_parameters`: the testbed, or the earlier
    paper-like regime for the chapters not yet trained there), the plug-in tables' their own regime's."""
    for ch in CHAPTERS:
        p = ch.parameters
        assert (p["profile"], p["device"], p["workers"], p["results_dir"]) == (book.PROFILE, "cpu", None, None)
        if ch.name in ("11_regimes", "12_when_ogm_ge_helps"):
            assert (p["seeds"], p["calibration_seeds"], p["alpha_seeds"]) == (
                regimes.REGIME_SEEDS,
                list(regimes.CALIBRATION_SEEDS),
                list(regimes.ALPHA_SEEDS),
            )
            continue
        if ch.name == "10_verdicts":  # each chapter judged at its own
            assert (p["regime"], p["seeds"], p["headline_seeds"]) == (None, None, None)
            continue
        assert p["dataset"] == "avdigits"
        own = regime_parameters(ch.name) if ch.per_seed is book_seeds or ch.rows is None else {}
        if ch.per_seed is plugin_seeds:
            assert p["regime"] == plugins.REGIME and p.get("headline_seeds", 10) == plugins.HEADLINE_SEEDS
        else:
            assert p["regime"] == own["regime"] and p.get("alpha", own["alpha"]) == own["alpha"]
            assert (p["regime"] == book.REGIME) == (ch.name not in ON_EARLIER_REGIME)
        if ch.name != "03_sgd_noise":
            assert p["seeds"] == book.SEEDS
            if ch.per_seed is book_seeds:
                assert p["headline_seeds"] == own["headline_seeds"]
        if ch.rows is not None:
            for name, q in inspect.signature(ch.rows).parameters.items():
                if q.default is not inspect.Parameter.empty and name != "device" and name not in own:
                    want = list(q.default) if isinstance(q.default, tuple) else q.default
                    assert p[name] == want, (ch.name, name)
    assert regime_parameters("05_table1") == dict(
        regime=book.REGIME, alpha=book.ALPHA, headline_seeds=book.HEADLINE_SEEDS
    )
    assert book.REGIME == "testbed" and book.ALPHA == regimes.ALPHA["testbed"]
    assert CHAPTER["07_table6"].parameters["adam_lr"] == adam_lr.CHOSEN[book.REGIME]
    assert CHAPTER["13_table3"].rows is plugins.table3_rows and CHAPTER["05_table1"].rows is book.table1_rows


def test_the_check_sees_a_disagreement(tmp_path):
    nb = json.loads((NOTEBOOKS / "05_table1.ipynb").read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    cell["source"] = ["".join(cell["source"]).replace(f"alpha = {book.ALPHA}", "alpha = 0.8")]
    bad = tmp_path / "05_table1.ipynb"
    bad.write_text(json.dumps(nb))
    assert parameters(bad)["alpha"] == 0.8 != expected("05_table1")["alpha"]
    assert parameters(bad) != expected("05_table1")
