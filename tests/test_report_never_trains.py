"""The report wing reads runs and trains none: training stays in the recipe (or the notebook, which calls it).

Two checks. Over the source: the functions of the recipe and method wings that train (call `grid.run_grid`,
`grid.train_grid`, `train.fit` or the `Trainer`, directly or through another such function) are found from the
code itself, and no module under `ogm_lib/report` imports one or calls one through an imported module. At run
time: with the trainer and the grid runner made to fail, the report's functions that the closing chapter,
chapter 03 and the findings box call still give their numbers from the committed runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ogm_lib"
ROOT = PACKAGE.parent
#: what trains, at the bottom: the grid runner, the one training function and the training loop
TRAINS = {"run_grid", "train_grid", "fit", "Trainer"}


def module_of(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def called_names(fn: ast.AST) -> set[str]:
    """The names a function calls: `f(...)` and `m.f(...)` (the attribute's name)."""
    out = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name):
                out.add(f.id)
            elif isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
                out.add(f.attr)
    return out


def trainers() -> dict[str, set[str]]:
    """module -> its functions that train, for the recipe and method wings (a fixed point over who calls whom)."""
    functions = {}
    for wing in ("recipe", "method"):
        for path in sorted((PACKAGE / wing).rglob("*.py")):
            tree = ast.parse(path.read_text())
            for node in tree.body:
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    functions[module_of(path), node.name] = called_names(node)
    names, found = set(TRAINS), set()
    while True:
        new = {key for key, calls in functions.items() if calls & names and key not in found}
        if not new:
            return {m: {n for mm, n in found if mm == m} for m, _ in found}
        found |= new
        names |= {name for _, name in new}


def resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")[: -node.level]
    return ".".join(base + ([node.module] if node.module else []))


def references(path: Path, module: str | None = None) -> list[tuple[str, str]]:
    """(module, name) of every function of the project a report module imports, or calls on a module it imports
    (`module`: its name, default from its path)."""
    module = module or module_of(path)
    tree = ast.parse(path.read_text())
    aliases, out = {}, []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            mod = resolve(module, node)
            for a in node.names:
                if (PACKAGE / Path(*f"{mod}.{a.name}".split(".")[1:])).with_suffix(".py").exists():
                    aliases[a.asname or a.name] = f"{mod}.{a.name}"  # a module: `from ..recipe import regimes`
                else:
                    out.append((mod, a.name))
        elif isinstance(node, ast.Import):
            for a in node.names:
                aliases[a.asname or a.name] = a.name
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            out.append((aliases[node.value.id], node.attr))
    return out


def test_the_trainers_are_found():
    found = trainers()
    assert {"train_seeds"} <= found["ogm_lib.recipe.book"]
    assert {"sweep_alpha", "calibrate", "train_regime", "train_explained"} <= found["ogm_lib.recipe.regimes"]
    assert {"train"} <= found["ogm_lib.recipe.verdict_runs"] and {"train"} <= found["ogm_lib.recipe.noise_model"]
    assert {"load_trained_model", "retrain"} <= found["ogm_lib.recipe.rerun"]
    assert {"fit", "Trainer"} <= found["ogm_lib.method.train"]
    assert "regime_rows" not in found["ogm_lib.recipe.regimes"]


@pytest.mark.parametrize("path", sorted((PACKAGE / "report").glob("*.py")), ids=lambda p: p.stem)
def test_no_report_module_calls_a_trainer(path):
    found = trainers()
    bad = [f"{m}.{n}" for m, n in references(path) if n in found.get(m, set())]
    assert not bad, f"{path.name} trains: {bad}"


def test_the_check_sees_a_trainer(tmp_path):
    bad = tmp_path / "would_train.py"
    bad.write_text(
        "from ..recipe import regimes\nfrom ..recipe.book import train_seeds\n\n\n"
        "def f():\n    return regimes.sweep_alpha('paper-like')\n"
    )
    found, refs = trainers(), references(bad, "ogm_lib.report.would_train")
    assert [f"{m}.{n}" for m, n in refs if n in found.get(m, set())] == [
        "ogm_lib.recipe.book.train_seeds",
        "ogm_lib.recipe.regimes.sweep_alpha",
    ]


@pytest.fixture(scope="module")
def committed():
    """The committed runs the report reads, read back (through the cache) before training is made to fail."""
    from ogm_lib.recipe import book, noise_model, regimes, verdict_runs

    results = ROOT / "results"
    return dict(
        book=verdict_runs.train(results_dir=results),
        regime=regimes.train_regime(book.REGIME, results_dir=results),
        noise=noise_model.train("avdigits", "converged", "cpu", "paper-like", 0, 0.6, 1, results, headline_seeds=10),
    )


def test_the_report_gives_its_numbers_with_training_made_to_fail(committed, monkeypatch):
    import ogm_lib.method.train as train
    import ogm_lib.recipe.executors as executors
    import ogm_lib.recipe.grid as grid
    from ogm_lib.report import chapters, findings, sgd_noise

    def refuse(*args, **kwargs):
        raise AssertionError("the report trained")

    for module, name in (
        (train, "fit"),
        (train, "Trainer"),
        (grid, "run_grid"),
        (grid, "train_grid"),
        (executors, "run"),
    ):
        monkeypatch.setattr(module, name, refuse)
    book = chapters.book_claims(committed["book"])
    assert list(book) == list(chapters.TITLES)
    assert book["05_table1"][1]["concat_ge"].n == 20
    assert findings.regime_checks(committed["regime"])
    s = sgd_noise.setup(committed["noise"], 0.6, 16, [4, 8], [1.0], [4], 2, [0.1])
    assert s.runs_k.shape == (10,) and s.flat["audio"].shape[0] == 16
