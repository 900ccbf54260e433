"""Raw media -> prepare script -> a chapter under papermill, as a user with a real dataset runs it.

Generated media in the raw layouts (`media_fixtures`: each class a colour and a tone): a CREMA-D
checkout (AudioWAV/ + VideoFlash/ + the official split's csv files) and a Kinetics-Sounds folder (a 3-frame
dataset). Each is prepared by its script from the repository root, without `--out`, into the default data
folder (`$OGM_DATA_DIR`, set here to a temporary folder so that the user's `data/` is never touched); then
chapter 05 (Table 1) runs with `notebooks/` as its working directory at the smoke profile on that dataset
and must find the same store (`paths.dataset_dir`). Its runs must carry the store's fingerprint and the
split manifest's hash. No network. Each chapter trains Table 1's 20 smoke runs (a few CPU seconds each),
so the two tests take minutes, not seconds; the generous subprocess timeout is for a loaded machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("av", reason="PyAV (the `data` extra) makes and decodes the raw media")
pytest.importorskip("papermill", reason="the chapter runs under papermill")

import media_fixtures as mf  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "05_table1.ipynb"


def prepare_from_root(dataset: str, raw: Path, env: dict, *extra: str) -> str:
    """`python data_scripts/prepare_<dataset>.py --raw <raw>` run from the repository root, no `--out`."""
    done = subprocess.run(
        [
            sys.executable,
            f"data_scripts/prepare_{dataset}.py",
            "--raw",
            str(raw),
            "--frame-size",
            "32",
            "--workers",
            "1",
            "--quiet",
            *extra,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def run_chapter(dataset: str, tmp_path: Path, env: dict) -> list[dict]:
    """Chapter 05 at the smoke profile from `notebooks/` (papermill in a kernel that sees `env`); its runs."""
    import papermill

    results = tmp_path / "results"
    out = tmp_path / "05_table1.out.ipynb"
    old = dict(os.environ)
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        papermill.execute_notebook(
            str(NOTEBOOK),
            str(out),
            cwd=str(NOTEBOOK.parent),
            kernel_name="python3",
            parameters=dict(
                dataset=dataset, profile="smoke", seeds=2, headline_seeds=2, workers=1, results_dir=str(results)
            ),
            progress_bar=False,
        )
    finally:
        os.environ.clear()
        os.environ.update(old)
    nb = json.loads(out.read_text())
    errors = [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors[0].get("evalue")
    return [json.loads(p.read_text()) for p in sorted(results.glob("*.json"))]


def environment(data: Path) -> dict:
    """This process's environment with the data folder moved to `data` (the scripts and the kernel see it)."""
    return dict(os.environ, OGM_DATA_DIR=str(data))


def check_runs(runs: list[dict], store: Path, dataset: str) -> None:
    manifest = json.loads((store / "manifest.json").read_text())
    assert len(runs) == 20  # Table 1's ten rows, two seeds each
    assert {r["config"]["dataset"] for r in runs} == {dataset}
    assert {r["config"]["data_fingerprint"] for r in runs} == {manifest["store_fingerprint"]}
    hashes = {r["provenance"]["split_hash"] for r in runs}
    assert len(hashes) == 1 and None not in hashes


def test_cremad_raw_to_table1(tmp_path):
    raw = tmp_path / "CREMA-D"
    mf.make_cremad(raw, actors=("1001", "1002", "1003"), split_files=True)
    data = tmp_path / "data"
    env = environment(data)
    printed = prepare_from_root("cremad", raw, env, "--split-dir", str(raw / "splits"))
    assert str(data / "cremad") in printed
    check_runs(run_chapter("cremad", tmp_path, env), data / "cremad", "cremad")


def test_ksounds_raw_to_table1(tmp_path):
    raw = tmp_path / "kinetics_sounds"
    mf.make_ksounds(
        raw, classes=("playing bagpipes", "dog barking", "playing drums"), train_per_class=4, test_per_class=2
    )
    data = tmp_path / "data"
    env = environment(data)
    prepare_from_root("ksounds", raw, env)
    check_runs(run_chapter("ksounds", tmp_path, env), data / "ksounds", "ksounds")
