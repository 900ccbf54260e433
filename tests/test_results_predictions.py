"""Per-clip test predictions stored in a result (`results.encode_predictions`)."""
import numpy as np
import pytest

from ogm_lib.config import make_config
from ogm_lib.results import RunResult, decode_predictions, encode_predictions
from ogm_lib.train import fit


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
