"""Speed switches of RunConfig (amp, channels_last, fused_optimizer, compile) change speed, not what is learned.

"The same" has to be read against the noise of training itself: on the small synthetic setting below
(4 epochs, width 4, 16 steps an epoch), four seeds of plain fp32 end at test accuracy 0.33 - 0.46 and
final training loss 1.25 - 1.72, and a 1e-7 nudge of the initial weights already moves later steps by
1e-3. So the tests ask two things of a switch:

- the first steps agree: fused optimiser within 1e-5 (relative) of fp32 on the first three losses
  (same arithmetic up to rounding); bf16 autocast within 2 % on the first loss (bf16 keeps ~3 digits);
- the end agrees within that noise: test accuracy within 0.15 of fp32 and final training loss within
  25 %, far above chance (0.1). Measured on CPU: fp32 0.461 / 1.246, fused 0.480 / 1.357, bf16
  0.412 / 1.402.

channels_last and compile are CUDA switches (RunConfig refuses them on CPU: this torch's oneDNN gets the
NHWC 1x1 stride-2 weight gradient wrong for narrow convs). Their checks, and the check that a modulated
step never synchronises the host (`torch.cuda.set_sync_debug_mode("error")`), run only with CUDA.
"""

import hashlib
import json

import pytest
import torch

from ogm_lib.distributed import DistContext
from ogm_lib.method.config import _KEY_UNLESS_DEFAULT, _NOT_IN_KEY, make_config
from ogm_lib.method.data import build_datasets, iterate_batches
from ogm_lib.method.shards import Shard, SingleProcess
from ogm_lib.method.train import Trainer, fit, train_step

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
SWITCHES = ("amp", "channels_last", "fused_optimizer", "compile", "world_size")


def learning_config(**kw):
    base = dict(
        dataset="synthetic",
        synthetic_size=512,
        epochs=4,
        width=4,
        audio_snr_db=6.0,
        modulation_end=100,
        method="ogm_ge",
        quiet=True,
    )
    base.update(kw)
    return make_config("smoke", **base)


def test_switches_enter_the_key_only_when_set():
    cfg = make_config("smoke", dataset="synthetic", device="cuda")
    # at their defaults the switches are invisible: every earlier run keeps its key (and cached result)
    # (as every field added later with a default that leaves it out of the key: the split rule, the
    # data fingerprint of data that has none)
    old = {
        k: v
        for k, v in cfg.to_dict().items()
        if k not in _NOT_IN_KEY and k not in SWITCHES and k not in _KEY_UNLESS_DEFAULT and k != "data_fingerprint"
    }
    assert cfg.key() == hashlib.sha256(json.dumps(old, sort_keys=True).encode()).hexdigest()[:16]
    for change in (
        dict(amp="bf16"),
        dict(channels_last=True),
        dict(fused_optimizer=True),
        dict(compile=True),
        dict(world_size=2),
    ):
        assert cfg.replace(**change).key() != cfg.key(), change


@pytest.mark.parametrize("switch", ["channels_last", "compile"])
def test_cuda_only_switches_are_refused_on_cpu(switch):
    with pytest.raises(ValueError, match="CUDA switch"):
        make_config("smoke", dataset="synthetic", device="cpu", **{switch: True})
    make_config("smoke", dataset="synthetic", device="cuda", **{switch: True})  # fine where it belongs


def test_bad_amp_mode_raises():
    with pytest.raises(ValueError, match="bf16"):
        make_config("smoke", amp="fp8")


def test_one_process_batches_are_the_plain_shuffled_batches():
    data = build_datasets(make_config("smoke", dataset="synthetic", synthetic_size=96)).train
    plain = list(iterate_batches(data, 32, "cpu", True, torch.Generator().manual_seed(5)))
    one_rank = DistContext(rank=0, world_size=1, device=torch.device("cpu"))
    for ctx in (SingleProcess(), one_rank):
        sharded = list(ctx.train_batches(data, 32, "cpu", torch.Generator().manual_seed(5)))
        assert len(plain) == len(sharded)
        for p, s in zip(plain, sharded):
            assert s.n_global == len(p[2]) and s.offset == 0
            assert all(torch.equal(a, b) for a, b in zip(p, s[:3]))


def test_two_ranks_shards_put_together_are_the_global_batches():
    """Rank 0's and rank 1's shards, side by side, are the one-process batches (no process group needed:
    each rank cuts the same permutation alone); 86 clips, batch 25: 25, 25, 25 and 11, every shard pair
    unequal (13 / 12 and 6 / 5)."""
    data = build_datasets(make_config("smoke", dataset="synthetic", synthetic_size=96)).train
    plain = list(iterate_batches(data, 25, "cpu", True, torch.Generator().manual_seed(5)))
    ranks = [
        list(
            DistContext(rank=r, world_size=2, device=torch.device("cpu")).train_batches(
                data, 25, "cpu", torch.Generator().manual_seed(5)
            )
        )
        for r in range(2)
    ]
    assert [len(p[2]) for p in plain] == [25, 25, 25, 11]
    assert len(ranks[0]) == len(ranks[1]) == len(plain)
    for p, s0, s1 in zip(plain, *ranks):
        assert s0.n_global == s1.n_global == len(p[2]) and s0.offset == 0 and s1.offset == len(s0.labels)
        assert len(s0.labels) == len(s1.labels) + 1
        for i in range(3):
            assert torch.equal(torch.cat([s0[i], s1[i]]), p[i])


def _assert_learns_the_same(base, variant, name, first_rel):
    assert variant.steps["loss"][0] == pytest.approx(base.steps["loss"][0], rel=first_rel), name
    b, v = base.final, variant.final
    assert abs(v["test_acc"] - b["test_acc"]) <= 0.15, (name, v["test_acc"], b["test_acc"])
    assert v["test_acc"] > 0.25, name
    assert variant.epochs[-1]["train_loss"] == pytest.approx(base.epochs[-1]["train_loss"], rel=0.25), name


def test_bf16_autocast_and_fused_optimizer_learn_the_same_on_cpu(tmp_path, one_thread):
    fp32 = fit(learning_config(), tmp_path)
    fused = fit(learning_config(fused_optimizer=True), tmp_path)
    try:
        bf16 = fit(learning_config(amp="bf16"), tmp_path)
    except FloatingPointError:
        # oneDNN's bf16 convolution backward gives non-finite weight gradients within a few steps on CPUs with
        # AMX / AVX512-BF16 (seen on an Intel Xeon here, not on the AMD EPYC the book's runs were made on);
        # without oneDNN the same code must learn the same
        import torch

        with torch.backends.mkldnn.flags(enabled=False):
            bf16 = fit(learning_config(amp="bf16"), tmp_path / "without-onednn")
    assert len({fp32.key, fused.key, bf16.key}) == 3  # cached apart
    assert fused.steps["loss"][:3] == pytest.approx(fp32.steps["loss"][:3], rel=1e-5)
    _assert_learns_the_same(fp32, fused, "fused", 1e-6)
    _assert_learns_the_same(fp32, bf16, "bf16", 2e-2)
    assert fp32.final["test_acc"] > 0.25


# ----- CUDA only: unmeasured in a build without a GPU -----


@cuda
def test_speed_switches_learn_the_same_on_gpu(tmp_path):
    base = fit(learning_config(device="cuda"), tmp_path)
    # first-loss tolerances: other conv algorithms (NHWC, compiled) round differently, and PyTorch runs
    # fp32 convs in TF32 (10-bit mantissa) on recent GPUs by default
    for name, kw, first_rel in (
        ("channels_last", dict(channels_last=True), 5e-3),
        ("fused", dict(fused_optimizer=True), 1e-5),
        ("bf16", dict(amp="bf16"), 2e-2),
        ("all", dict(amp="bf16", channels_last=True, fused_optimizer=True), 2e-2),
        ("compile", dict(compile=True), 5e-3),
    ):
        _assert_learns_the_same(base, fit(learning_config(device="cuda", **kw), tmp_path), name, first_rel)


@cuda
@pytest.mark.parametrize(
    "switches",
    [{}, dict(amp="bf16", channels_last=True, fused_optimizer=True)],
    ids=["fp32", "bf16+channels_last+fused"],
)
@pytest.mark.parametrize("method", ["ogm_ge", "normal"])
def test_modulated_step_never_syncs_the_host(tmp_path, method, switches):
    """`set_sync_debug_mode("error")` turns any host synchronisation (`.item()`, a device-to-host copy,
    a data-dependent shape) into an error. Steps run warm first: allocation and autotuning may sync."""
    cfg = make_config(
        "smoke", dataset="synthetic", synthetic_size=128, method=method, device="cuda", quiet=True, **switches
    )
    trainer = Trainer(cfg, tmp_path)
    trainer.model.train()
    batch = tuple(t.to("cuda") for t in trainer.data.train.batch(torch.arange(32)))
    shard = Shard(*batch, n_global=32, offset=0)
    for _ in range(2):
        train_step(trainer.parts, shard, epoch=0)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        rows = [train_step(trainer.parts, shard, epoch=0) for _ in range(2)]  # modulation window: epoch 0
        trace = torch.stack(rows)
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert trace.shape == (2, 5) and trace.is_cuda
    if method == "ogm_ge":
        assert bool(torch.isfinite(trace).all())
