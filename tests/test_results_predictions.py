"""Per-clip test predictions stored in a result (`results.encode_predictions`), and the compact encoding of
the trace and the predictions' scores in result files (`results.encode_floats`, `results.reencode`), read
back bit for bit whichever encoding a file has."""

import base64
import json
import shutil
import zlib
from pathlib import Path

import numpy as np
import pytest

from ogm_lib.__main__ import main
from ogm_lib.method.config import make_config
from ogm_lib.method.fileio import DamagedFileError
from ogm_lib.method.results import (
    RAW_ENCODING,
    STEPS_ENCODING,
    RunResult,
    decode_floats,
    decode_predictions,
    decode_probs,
    encode_floats,
    encode_predictions,
    identical,
    in_current_encoding,
    reencode,
    strict_json,
)
from ogm_lib.method.train import fit

COMMITTED = Path(__file__).resolve().parents[1] / "results"


def test_predictions_round_trip():
    probs = np.random.default_rng(0).dirichlet(np.ones(4), size=5)
    labels, back = decode_predictions(encode_predictions(3, [0, 1, 2, 3, 0], probs))
    assert labels.tolist() == [0, 1, 2, 3, 0] and np.allclose(back, probs, atol=1e-7)
    bad = encode_predictions(3, [0, 1], probs)
    with pytest.raises(ValueError):
        decode_predictions(bad)


def test_a_run_stores_the_test_predictions_of_its_validation_chosen_epoch(tmp_path):
    cfg = make_config("smoke", dataset="synthetic", quiet=True, epochs=3)
    r = fit(cfg, tmp_path)
    assert r.predictions["epoch"] == r.best_epoch
    labels, probs = decode_predictions(r.predictions)
    assert np.allclose(probs.sum(1), 1, atol=1e-5)
    assert np.isclose((probs.argmax(1) == labels).mean(), r.best["test_acc"], atol=1e-6)
    again = RunResult.load(tmp_path / f"{r.key}.json")
    assert again.predictions == r.predictions


# ------------------------------------------------------------------------------------------------------
# the compact encoding (float32, byte-shuffled, zlib, base64) and the older raw one
# ------------------------------------------------------------------------------------------------------


def awkward_float32(n: int, seed: int = 0) -> np.ndarray:
    """n float32 values of random bits (every kind: NaNs with payloads, denormals, ...) and the special ones:
    NaN, -NaN, a signalling NaN, +-inf, +-0.0, the smallest and the largest denormal, the largest float."""
    bits = np.random.default_rng(seed).integers(0, 2**32, size=n, dtype=np.uint32)
    special = np.array(
        [
            0x7FC00000,
            0xFFC00000,
            0x7F800001,
            0x7F800000,
            0xFF800000,
            0x00000000,
            0x80000000,
            0x00000001,
            0x007FFFFF,
            0x7F7FFFFF,
        ],
        dtype=np.uint32,
    )
    return np.concatenate([special, bits]).view("<f4")


def committed_files(n: int = 3) -> list[Path]:
    files = sorted(COMMITTED.glob("*.json"))[:n]
    if not files:
        pytest.skip("no committed result files")
    return files


@pytest.fixture
def base(tmp_path) -> RunResult:
    """A committed run (read from a copy, so its config hashes to its key), to build results from."""
    return RunResult.load(shutil.copy(committed_files(1)[0], tmp_path / "base.json"))


def test_floats_round_trip_bit_for_bit_in_both_encodings():
    for x in (awkward_float32(2000), awkward_float32(1, seed=1), np.zeros(0, dtype="<f4")):
        assert decode_floats(encode_floats(x)).tobytes() == x.tobytes()
        raw = base64.b64encode(x.tobytes()).decode("ascii")
        assert decode_floats(raw, RAW_ENCODING).tobytes() == x.tobytes()
    smooth = np.cumsum(np.random.default_rng(2).normal(size=2000)).astype("<f4")
    assert len(encode_floats(smooth)) < 0.8 * len(base64.b64encode(smooth.tobytes()))


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")  # signalling NaNs
def test_a_result_round_trips_its_trace_and_scores_bit_for_bit(base, tmp_path):
    trace = {k: awkward_float32(500, seed=i).astype(float).tolist() for i, k in enumerate(["loss", "rho_a"])}
    probs = awkward_float32(70, seed=3).reshape(8, 10)
    r = RunResult(**{**base.__dict__, "steps": trace, "predictions": encode_predictions(2, range(8), probs)})
    path = r.save(tmp_path)
    on_disk = json.loads(path.read_text())
    assert on_disk["steps_encoding"] == STEPS_ENCODING == on_disk["predictions"]["probs_encoding"]
    back = RunResult.load(path)
    for k, series in trace.items():  # in memory a float list: the stored float32 bits, as float64
        assert np.asarray(back.steps[k]).tobytes() == np.asarray(series).tobytes()
        assert np.asarray(back.steps[k], dtype="<f4").tobytes() == np.asarray(series, dtype="<f4").tobytes()
    assert decode_probs(back.predictions).tobytes() == probs.tobytes()
    assert identical(back, r) and back.epochs == base.epochs and back.config == base.config
    loss = list(trace["loss"])
    assert str(loss[5]) == "0.0"
    loss[5] = -0.0
    assert not identical(RunResult(**{**r.__dict__, "steps": {**trace, "loss": loss}}), r)  # -0.0 is not 0.0


def test_older_encodings_still_load_to_the_same_values(base, tmp_path):
    new = json.loads(base.save(tmp_path / "new").read_text())
    raw = {k: base64.b64encode(np.asarray(v, dtype="<f4").tobytes()).decode("ascii") for k, v in base.steps.items()}
    probs = decode_probs(new["predictions"])
    old_predictions = {k: v for k, v in new["predictions"].items() if k != "probs_encoding"}
    old_predictions["probs"] = base64.b64encode(probs.tobytes()).decode("ascii")
    for name, steps, encoding in (("raw", raw, RAW_ENCODING), ("lists", base.steps, None)):
        d = {**new, "steps": steps, "predictions": old_predictions}
        if encoding is None:
            del d["steps_encoding"]
        else:
            d["steps_encoding"] = encoding
        (tmp_path / name).mkdir()
        # strict JSON, as every file is (NaN as null: a NaN literal is damage, test_untrusted_files.py)
        (tmp_path / name / f"{base.key}.json").write_text(json.dumps(strict_json(d), allow_nan=False))
        old = RunResult.load(tmp_path / name / f"{base.key}.json")
        assert identical(old, base) and decode_probs(old.predictions).tobytes() == probs.tobytes()
        assert decode_predictions(old.predictions)[1].tolist() == decode_predictions(base.predictions)[1].tolist()


def _bad_stream(how: str) -> str:
    good = zlib.compress(b"\0" * 40, 9)
    data = {
        "not base64": None,
        "not zlib": b"not a zlib stream",
        "cut short": good[:-3],
        "trailing bytes": good + b"xx",
        "not whole float32": zlib.compress(b"\0" * 41, 9),
    }[how]
    return "not base64!" if data is None else base64.b64encode(data).decode("ascii")


@pytest.mark.parametrize("how", ["not base64", "not zlib", "cut short", "trailing bytes", "not whole float32"])
@pytest.mark.parametrize("where", ["steps", "probs"])
def test_a_damaged_compact_stream_is_a_damaged_file(base, tmp_path, how, where):
    path = base.save(tmp_path)
    d = json.loads(path.read_text())
    if where == "steps":
        d["steps"]["loss"] = _bad_stream(how)
    else:
        d["predictions"]["probs"] = _bad_stream(how)
    path.write_text(json.dumps(d))
    expected = "the per-step trace does not decode" if where == "steps" else "predictions do not decode"
    with pytest.raises(DamagedFileError, match=expected):
        RunResult.load(path)


def test_scores_of_the_wrong_count_are_a_damaged_file(base, tmp_path):
    path = base.save(tmp_path)
    d = json.loads(path.read_text())
    n, c = d["predictions"]["shape"]
    d["predictions"]["shape"] = [n + 1, c]
    path.write_text(json.dumps(d))
    with pytest.raises(DamagedFileError, match="predictions do not decode"):
        RunResult.load(path)


def _in_raw_encoding(path: Path) -> None:
    """Rewrite a result file as files were written before the compact encoding: the trace and the scores
    as base64 of their raw float32 bytes (`RAW_ENCODING`), no `probs_encoding`."""
    d = json.loads(path.read_text())
    r = RunResult.load(path)
    d["steps"] = {k: base64.b64encode(np.asarray(v, dtype="<f4").tobytes()).decode() for k, v in r.steps.items()}
    d["steps_encoding"] = RAW_ENCODING
    if d.get("predictions"):
        d["predictions"]["probs"] = base64.b64encode(decode_probs(r.predictions).tobytes()).decode()
        del d["predictions"]["probs_encoding"]
    path.write_text(json.dumps(d, indent=1))


def test_reencode_committed_files_losslessly_and_once(tmp_path, capsys):
    """On copies of committed files (the repository's are never touched), first written back in the older
    raw encoding: re-encoded, they hold the same values in smaller files; a second pass (the command
    line's) leaves them as they are, as it leaves the committed files, which are all in the current one."""
    committed = committed_files(3)
    copies = [Path(shutil.copy(f, tmp_path / f.name)) for f in committed]
    for path, original in zip(copies, committed):
        assert in_current_encoding(json.loads(original.read_text()))  # every committed file
        _in_raw_encoding(path)
        before = RunResult.load(path)
        assert identical(before, RunResult.load(original))
        size, new_size = reencode(path)
        assert new_size == path.stat().st_size < size and new_size == original.stat().st_size
        d = json.loads(path.read_text())
        assert d["steps_encoding"] == STEPS_ENCODING == d["predictions"]["probs_encoding"]
        after = RunResult.load(path)
        assert identical(after, before)
        assert decode_probs(after.predictions).tobytes() == decode_probs(before.predictions).tobytes()
        assert all(
            np.asarray(after.steps[k], dtype="<f4").tobytes() == np.asarray(v, dtype="<f4").tobytes()
            for k, v in before.steps.items()
        )
        assert path.read_bytes() == original.read_bytes()
    content = [p.read_bytes() for p in copies]
    assert main(["book", "reencode", "--results-dir", str(tmp_path)]) == 0
    assert [p.read_bytes() for p in copies] == content
    out = capsys.readouterr().out
    assert f"already {STEPS_ENCODING}" in out and "3 already in the current encoding" in out


def test_reencode_refuses_to_lose_precision(base, tmp_path):
    """The oldest files hold the trace as JSON numbers; one that float32 cannot hold is left as it is."""
    path = base.save(tmp_path)
    d = json.loads(path.read_text())
    del d["steps_encoding"]
    d["steps"] = {"loss": [0.1, 0.2]}
    path.write_text(json.dumps(d))
    content = path.read_bytes()
    with pytest.raises(ValueError, match="would not read back the same"):
        reencode(path)
    assert path.read_bytes() == content
