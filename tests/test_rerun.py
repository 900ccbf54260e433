"""Committed runs: the book's run list, the comparison of a retrained run with its file, the sample check,
and the committed results themselves (they cover every run of the book, with provenance, compactly)."""

import json
from pathlib import Path

import pytest

from ogm_lib.method.config import make_config
from ogm_lib.method.results import RunResult
from ogm_lib.method.train import fit
from ogm_lib.recipe.book import is_headline, row_seeds, seed_list, table1_rows
from ogm_lib.recipe.rerun import compare, save_weights, verify_sample, weights_path
from ogm_lib.recipe.runs import book_runs

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "results"


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    import torch

    folder = tmp_path_factory.mktemp("committed")
    config = make_config("smoke", dataset="synthetic", fusion="concat", method="ogm_ge", quiet=True, seed=3)
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as the book's runs: verify_sample retrains with the recorded thread count
    try:
        return folder, fit(config, folder)
    finally:
        torch.set_num_threads(before)


def test_result_file_is_compact_and_round_trips(smoke_run):
    folder, r = smoke_run
    path = folder / f"{r.key}.json"
    on_disk = json.loads(path.read_text())
    assert on_disk["steps_encoding"] == "float32-shuffle-zlib-base64" and isinstance(on_disk["steps"]["rho_a"], str)
    back = RunResult.load(path)
    assert back.epochs == r.epochs and back.best_epoch == r.best_epoch
    assert back.steps["rho_a"] == pytest.approx(r.steps["rho_a"], rel=1e-6)
    prov = back.provenance
    assert prov["torch"] and prov["cpu"] and prov["threads"] == 1 and prov["date"].endswith("Z")
    assert compare(back, r) == []


def test_compare_names_every_difference(smoke_run):
    _, r = smoke_run
    other = RunResult(**{**r.__dict__, "epochs": [dict(e) for e in r.epochs], "steps": dict(r.steps)})
    other.epochs[0]["test_acc"] += 0.01
    other.steps["rho_a"] = [x * 1.01 for x in r.steps["rho_a"]]
    other.best_epoch = r.best_epoch + 1
    diffs = compare(other, r)
    assert any("epoch 0: test_acc" in d for d in diffs)
    assert any(d.startswith("trace rho_a") for d in diffs) and any(d.startswith("best_epoch") for d in diffs)


def test_verify_sample_retrains_and_catches_a_tampered_file(smoke_run):
    import torch

    folder, r = smoke_run
    weights = save_weights(folder / "checkpoints" / f"{r.key}.pt", r.key, folder)
    lines = []
    assert verify_sample(folder, n=1, seed=0, out=lines.append) == 0
    assert "draw seed 0" in lines[0] and lines[1].startswith("same")
    state = torch.load(weights, weights_only=True)
    name = next(iter(state["model"]))
    state["model"][name] = state["model"][name] + 1e-3
    torch.save(state, weights)
    lines.clear()
    assert verify_sample(folder, n=1, seed=0, out=lines.append) == 1
    assert any("final weights differ" in line for line in lines)
    weights.unlink()
    path = folder / f"{r.key}.json"
    d = json.loads(path.read_text())
    d["epochs"][-1]["val_acc"] += 0.001
    path.write_text(json.dumps(d))
    lines.clear()
    assert verify_sample(folder, n=1, seed=0, out=lines.append) == 1
    assert lines[1].startswith("DIFFERS") and "val_acc" in lines[2]


def test_book_run_list_and_seeds():
    assert len(book_runs()) > len(book_runs(include_regimes=False))
    runs = book_runs(include_regimes=False)
    assert len(runs) == len({c.key() for c in runs})
    head = table1_rows()["Concatenation"]
    assert is_headline(head) and not is_headline(table1_rows()["Summation"])
    assert row_seeds(head) == list(range(20)) and row_seeds(table1_rows()["FiLM"]) == list(range(5))
    from ogm_lib.recipe.chapters import book_seeds, chapters_with

    # the chapters' rows (a rule's runs, Table 6's Adam learning rate, have the rule's own 2 seeds)
    rows = list(
        {c.key(): c for ch in chapters_with(per_seed=book_seeds) for cs in ch.grid().values() for c in cs}.values()
    )
    assert {c.key() for c in rows} <= {c.key() for c in runs}
    per_row = {}
    for c in rows:
        per_row.setdefault(c.replace(seed=0).key(), []).append(c.seed)
    assert min(map(len, per_row.values())) >= 5 and max(map(len, per_row.values())) == 20
    assert seed_list("[0, 2]") == [0, 2] and seed_list(3) == [0, 1, 2]


def test_committed_results_cover_the_book():
    """Every run the book reads at its default parameters is committed, with provenance; at most 60 MB. A joint
    run of the converged profile with its probe traces and test predictions is 60-80 KB of JSON; a testbed run
    (40 epochs, the validation split's predictions kept for the phenomenon's criteria) about 155 KB, and the
    book's chapters moved to the testbed (issue 23): about 250 of those, 39 MB. The limit was 45 MB before that
    move; results/ keeps only what the book reads (the paper-like chapter rows the book stopped reading were
    removed; they remain in the git history)."""
    missing = [c.key() for c in book_runs() if not (COMMITTED / f"{c.key()}.json").exists()]
    assert not missing, f"{len(missing)} runs of the book are not in results/ (make retrain): {missing[:5]}"
    files = sorted(COMMITTED.glob("*.json"))
    committed = [f for f in COMMITTED.rglob("*") if f.is_file() and "checkpoints" not in f.parts]
    assert sum(f.stat().st_size for f in committed) <= 60e6
    for f in files[:: max(1, len(files) // 10)]:
        r = RunResult.load(f)
        assert r.key == f.stem and r.provenance.get("commit") and r.provenance.get("torch")


def test_committed_results_hold_only_what_the_book_reads():
    """No committed result is an orphan: each is a run the book reads (`book_runs`), or a run of a chapter still on
    the earlier regime (`chapters.ON_EARLIER_REGIME`) at the book's regime, trained ahead of that chapter's move."""
    from ogm_lib.recipe import book
    from ogm_lib.recipe.chapters import CHAPTER, ON_EARLIER_REGIME

    read = {c.key() for c in book_runs()}
    ahead = set()
    for name in ON_EARLIER_REGIME:
        ch = CHAPTER[name]
        if ch.rows is not None:
            move = dict(regime=book.REGIME, alpha=book.ALPHA, headline_seeds=book.HEADLINE_SEEDS)
            ahead |= {c.key() for c in ch.runs(**{k: v for k, v in move.items() if k in ch.parameters})}
    orphans = sorted(f.stem for f in COMMITTED.glob("*.json") if f.stem not in read | ahead)
    assert not orphans, f"{len(orphans)} committed results that nothing reads: {orphans[:5]}"


def test_committed_weights_are_the_chapter_03_model():
    """Chapter 03 measures the trained joint model of seed 0: its final weights are committed, so the book does
    not retrain it; CI's sample check compares them with a retrained run when it draws that run."""
    import torch

    from ogm_lib.method.models import build_model
    from ogm_lib.recipe.book import book_config
    from ogm_lib.recipe.chapters import CHAPTER

    config = book_config(regime=CHAPTER["03_sgd_noise"].parameters["regime"], fusion="concat", seed=0)
    path = weights_path(config.key(), COMMITTED)
    assert path.exists() and path.stat().st_size < 3e6
    state = torch.load(path, map_location="cpu", weights_only=True)  # data only: the safe loader reads it
    assert state["key"] == config.key()
    build_model(config, 10).load_state_dict(state["model"])


def test_a_run_from_another_kind_of_cpu_is_checked_against_its_rows_spread(tmp_path):
    """Runs committed on another CPU model cannot be retrained bit for bit here (other kernels, other last
    bits, another SGD path): verify holds them against the spread of their row's seeds instead, and still
    catches a number edited beyond it; a row with too few seeds is not drawn off its machine."""
    import torch

    from ogm_lib.recipe.rerun import ROW_SDS, compare_to_row, same_machine, this_machine

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        runs = [
            fit(make_config("smoke", dataset="synthetic", fusion="concat", quiet=True, seed=s), tmp_path)
            for s in range(3)
        ]
    finally:
        torch.set_num_threads(before)
    assert all(same_machine(r) for r in runs) and not same_machine(
        RunResult(**{**runs[0].__dict__, "provenance": {**runs[0].provenance, "cpu": "Other CPU 9000"}})
    )
    # one model name, another instruction set (an AVX2-only and an AVX-512 "AMD EPYC"): another machine; a result
    # from before provenance recorded the instruction set is never taken for this machine's
    other_isa = "AVX2" if runs[0].provenance["cpu_capability"] != "AVX2" else "AVX512"
    assert not same_machine(
        RunResult(**{**runs[0].__dict__, "provenance": {**runs[0].provenance, "cpu_capability": other_isa}})
    )
    legacy = {k: v for k, v in runs[0].provenance.items() if k != "cpu_capability"}
    assert not same_machine(RunResult(**{**runs[0].__dict__, "provenance": legacy}))
    for r in runs:  # as if committed on another machine (provenance is not in the key)
        path = tmp_path / f"{r.key}.json"
        d = json.loads(path.read_text())
        d["provenance"]["cpu"] = "Other CPU 9000"
        path.write_text(json.dumps(d))
    lines = []
    assert verify_sample(tmp_path, n=1, seed=0, out=lines.append) == 0
    assert "0 made on this kind of machine" in lines[0] and "3 others checkable" in lines[0]
    assert lines[1].startswith("note:") and "Other CPU 9000" in lines[1] and lines[2].startswith("agrees")
    # an edit beyond the row's spread is caught
    old = RunResult.load(tmp_path / f"{runs[0].key}.json")
    edited = RunResult(**{**old.__dict__, "epochs": [dict(e) for e in old.epochs]})
    edited.epochs[edited.best_epoch]["test_acc"] += 0.5
    diffs = compare_to_row(edited, old, runs)
    assert diffs and "test_acc" in diffs[0] and f"{ROW_SDS:g} x the row's SD" in diffs[0]
    assert compare_to_row(old, old, runs) == []
    # with one seed left, the row cannot be checked off its machine: nothing is drawn
    for r in runs[1:]:
        (tmp_path / f"{r.key}.json").unlink()
    with pytest.raises(ValueError, match="can be checked on this machine"):
        verify_sample(tmp_path, n=1, seed=0, out=lines.append)
    assert this_machine()["cpu"]
