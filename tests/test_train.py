"""The training loop, results cache, resume, config validation and CLI (on `synthetic` data, seconds)."""

import json
import math

import pytest
import torch

from ogm_lib.method.config import make_config
from ogm_lib.method.results import RunResult
from ogm_lib.method.train import Trainer, fit


def smoke(**kw):
    base = dict(dataset="synthetic", synthetic_size=192, epochs=2, quiet=True, method="ogm_ge")
    base.update(kw)
    return make_config("smoke", **base)


def test_run_logs_steps_and_epochs(tmp_path):
    cfg = smoke(eval_train=True, probe_every=1)
    r = fit(cfg, tmp_path)
    steps_per_epoch = math.ceil(len(Trainer(cfg, tmp_path).data.train) / cfg.batch_size)
    assert len(r.steps["loss"]) == 2 * steps_per_epoch
    assert set(r.steps) == {"loss", "rho_a", "rho_v", "k_a", "k_v"}
    for ra, rv in zip(r.steps["rho_a"], r.steps["rho_v"]):
        assert ra * rv == pytest.approx(1.0, rel=1e-4)
    assert len(r.epochs) == 2
    for split in ("train", "val", "test"):
        for key in ("acc", "acc_audio", "acc_visual", "map", "map_audio", "map_visual"):
            assert 0.0 <= r.epochs[-1][f"{split}_{key}"] <= 1.0
    assert "probe_audio" in r.epochs[0] and "probe_visual" in r.epochs[0]
    # the reported epoch is chosen on validation
    val = [e["val_acc"] for e in r.epochs]
    assert r.best_epoch == val.index(max(val))
    assert (tmp_path / f"{cfg.key()}.json").exists()


def test_same_seed_identical_and_other_seed_differs(tmp_path):
    a = fit(smoke(seed=3), tmp_path / "a")
    b = fit(smoke(seed=3), tmp_path / "b")
    c = fit(smoke(seed=4), tmp_path / "c")
    assert a.epochs == b.epochs and a.steps == b.steps
    assert a.steps["loss"] != c.steps["loss"]


def test_cache_returns_stored_result_without_training(tmp_path, monkeypatch):
    cfg = smoke(epochs=1)
    first = fit(cfg, tmp_path)
    monkeypatch.setattr(Trainer, "run", lambda *a, **k: pytest.fail("retrained a cached run"))
    again = fit(cfg.replace(quiet=False, device="cpu"), tmp_path)  # bookkeeping fields: same key
    assert again.epochs == first.epochs


@pytest.mark.parametrize("method", ["ogm_ge", "grad_blend", "opm"])
def test_resume_after_interruption_matches_uninterrupted(tmp_path, method):
    cfg = smoke(epochs=3, method=method, gb_super_epoch=1)
    full = fit(cfg, tmp_path / "full")
    assert fit(cfg, tmp_path / "cut", stop_after=1) is None  # "interrupted" after epoch 0
    assert (tmp_path / "cut" / "checkpoints" / f"{cfg.key()}.pt").exists()
    resumed = fit(cfg, tmp_path / "cut")
    assert resumed.epochs == full.epochs and resumed.steps == full.steps


def test_nonfinite_loss_stops_and_keeps_checkpoint(tmp_path):
    cfg = smoke(epochs=3, method="normal", lr=1e30, optimizer="sgd", momentum=0.0)
    with pytest.raises(FloatingPointError, match="non-finite"):
        fit(cfg, tmp_path)
    assert not (tmp_path / f"{cfg.key()}.json").exists()


@pytest.mark.parametrize("modalities", ["audio", "visual"])
def test_unimodal_runs(tmp_path, modalities):
    r = fit(smoke(modalities=modalities, method="normal", epochs=1), tmp_path)
    assert 0 <= r.best["test_acc"] <= 1
    assert all(math.isnan(r.steps[k][0]) for k in ("rho_a", "rho_v", "k_a", "k_v"))


def test_a_unimodal_run_gets_the_null_modulator(tmp_path):
    """A one-encoder run has no ratio to measure: its modulator back-propagates, reports NaN and changes no
    gradient (the step then treats every run alike)."""
    from ogm_lib.method.strategies import UnimodalModulator, make_modulator

    trainer = Trainer(smoke(modalities="audio", method="normal", epochs=1), tmp_path)
    mod = trainer.modulator
    assert isinstance(mod, UnimodalModulator) and isinstance(
        make_modulator(trainer.config, trainer.model), UnimodalModulator
    )
    a, v, y = trainer.data.train.batch(torch.arange(8))
    out = trainer.model(a, v)
    loss = torch.nn.functional.cross_entropy(out.logits, y)
    assert mod.backward(loss, out.logits, y, 0) is None
    grads = [p.grad.clone() for p in trainer.model.parameters()]
    state = mod.compute(out.logits_a, out.logits_v, y)
    assert len(state) == 6 and all(t.shape == () and math.isnan(float(t)) for t in state)
    mod.apply(state, 0, None)
    assert all(torch.equal(p.grad, g) for p, g in zip(trainer.model.parameters(), grads))


@pytest.mark.parametrize(
    "method, eval_train, splits",
    [
        ("normal", False, ("val", "test")),
        ("normal", True, ("val", "test", "train")),
        ("grad_blend", False, ("val", "test", "train")),
    ],
)  # gradient blending's weights read the train losses
def test_the_strategy_names_the_evaluated_splits(tmp_path, method, eval_train, splits):
    from ogm_lib.method.strategies import make_strategy

    cfg = smoke(method=method, eval_train=eval_train, epochs=1)
    assert make_strategy(cfg, torch.Generator()).eval_splits() == splits
    logged = fit(cfg, tmp_path).epochs[0]
    assert all((f"{s}_acc" in logged) == (s in splits) for s in ("val", "test", "train"))


def plain_sgd(cfg, data):
    """Paper Algorithm 1 with the modulation removed, written out here independently of the Trainer: the
    same initial weights (seed), batch order (shuffle generator) and optimiser; forward, cross-entropy on
    the fused logits, backward, step; StepLR once per epoch. Returns the final parameters."""
    from ogm_lib.method.data import iterate_batches
    from ogm_lib.method.models import build_model
    from ogm_lib.method.train import make_optimizer

    torch.manual_seed(cfg.seed)
    model = build_model(cfg, data.num_classes)
    optimizer, scheduler = make_optimizer(cfg, model)
    shuffle = torch.Generator().manual_seed(cfg.seed)
    for _ in range(cfg.epochs):
        model.train()
        for audio, visual, labels in iterate_batches(data.train, cfg.batch_size, "cpu", True, shuffle):
            optimizer.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(model(audio, visual).logits, labels).backward()
            optimizer.step()
        scheduler.step()
    return model.state_dict()


@pytest.mark.parametrize("method, equal", [("normal", True), ("ogm", False), ("ge", False)])
def test_normal_is_training_without_the_modulator(tmp_path, method, equal):
    """`normal` measures rho and k at every step (Figure 3 plots them) but must change no gradient: its
    weights equal, bit for bit, those of the plain loop above. OGM (k < 1 on the dominant encoder) and GE
    (noise) must not: that shows the comparison sees a modulation when there is one."""
    cfg = smoke(method=method, epochs=2)
    trainer = Trainer(cfg, tmp_path)
    trainer.run()
    reference = plain_sgd(cfg, trainer.data)
    same = [torch.equal(value, reference[name]) for name, value in trainer.model.state_dict().items()]
    assert all(same) if equal else not all(same)
    if method == "ogm":  # the difference comes from the scaling: some step slowed a modality
        assert min(trainer.result.steps["k_a"] + trainer.result.steps["k_v"]) < 1


@pytest.mark.parametrize(
    "bad, match",
    [
        (dict(dataset="cifar"), "avdigits"),
        (dict(fusion="late"), "concat"),
        (dict(method="ogm-ge"), "ogm_ge"),
        (dict(optimizer="rmsprop"), "adam"),
        (dict(modalities="audio", method="ogm_ge"), "unimodal"),
        (dict(nonsense=1), "unknown RunConfig"),
    ],
)
def test_bad_names_raise_before_work(bad, match):
    with pytest.raises(ValueError, match=match):
        make_config("smoke", **bad)


def test_unknown_profile_raises():
    from ogm_lib.method.config import PROFILES

    with pytest.raises(ValueError, match="valid choices: " + ", ".join(PROFILES)):
        make_config("no-such-profile")


def test_key_ignores_bookkeeping_only():
    cfg = smoke()
    assert cfg.key() == cfg.replace(device="cuda", quiet=False, num_workers=4).key()
    assert cfg.key() != cfg.replace(alpha=0.5).key()


def test_cli_train_writes_result(tmp_path, capsys):
    from ogm_lib.__main__ import main

    rc = main(
        [
            "train",
            "--profile",
            "smoke",
            "--dataset",
            "synthetic",
            "--synthetic-size",
            "128",
            "--epochs",
            "1",
            "--method",
            "ogm_ge",
            "--alpha",
            "0.8",
            "--quiet",
            "true",
            "--results-dir",
            str(tmp_path),
            "--json",
        ]
    )
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert 0 <= out["test_acc"] <= 1
    assert RunResult.load(tmp_path / f"{out['key']}.json").best_epoch == out["best_epoch"]


def test_cli_rejects_bad_choice(capsys):
    from ogm_lib.__main__ import main

    with pytest.raises(SystemExit):
        main(["train", "--method", "magic"])
    assert "invalid choice" in capsys.readouterr().err
