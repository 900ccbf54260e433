"""Every notebook is a papermill-parameterised chapter that runs end to end at the smoke profile.

Marked `book` so the fast unit-test pass skips it; `scripts/run_tests.sh` runs it on its own.
"""

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.book
ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
REQUIRED = {"dataset", "profile", "device", "results_dir"}


def parameters_cell(path):
    nb = json.loads(path.read_text())
    cells = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"{path.name}: expected one cell tagged 'parameters', found {len(cells)}"
    return "".join(cells[0]["source"])


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 10


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_are_documented(path):
    import papermill

    params = papermill.inspect_notebook(str(path))
    assert REQUIRED <= set(params), f"{path.name} lacks {REQUIRED - set(params)}"
    for name, info in params.items():
        assert info["help"], f"{path.name}: parameter {name} has no comment"


@pytest.fixture(scope="module")
def shared_results(tmp_path_factory):
    """One results cache for all notebooks, as in the book: later chapters reuse earlier runs."""
    return tmp_path_factory.mktemp("results")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_under_papermill_at_smoke(path, tmp_path, shared_results):
    import papermill

    out = tmp_path / path.name
    papermill.execute_notebook(
        str(path),
        str(out),
        cwd=str(path.parent),
        kernel_name="python3",
        parameters=dict(
            profile="smoke", dataset="synthetic", seeds=2, headline_seeds=3, workers=1, results_dir=str(shared_results)
        ),
        progress_bar=False,
    )
    nb = json.loads(out.read_text())
    errors = [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
