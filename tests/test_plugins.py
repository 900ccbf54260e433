"""The plug-in models of Tables 3 and 4 (models/video.py, models/speech.py, models/plugin.py): shapes and
per-modality logits, TSM's shift, TSN's sampling, and that the modulator drops in unchanged."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from ogm_lib.method.config import AUDIO_MODELS, VIDEO_MODELS, make_config
from ogm_lib.method.models import build_model
from ogm_lib.method.models.plugin import PluginClassifier
from ogm_lib.method.models.speech import IVectorEncoder, XVectorEncoder, filterbank
from ogm_lib.method.models.video import (
    SegmentVisualEncoder,
    TemporalShift,
    audio_windows,
    sample_segments,
    segment_bounds,
    temporal_shift,
)
from ogm_lib.method.modulation import GradientModulator, ge_sigma, select_parameters
from ogm_lib.recipe import runs as run_list

ROOT = Path(__file__).resolve().parents[1]
# the clip classifiers of Tables 3 and 4 (avga localises events: tests/test_events.py)
PLUGINS = [(v, "resnet18") for v in VIDEO_MODELS[1:] if v != "avga"] + [("resnet18", a) for a in AUDIO_MODELS[1:]]
ids = [v if v != "resnet18" else a for v, a in PLUGINS]


def inputs(b=4, frames=6, f=65, t=32):
    g = torch.Generator().manual_seed(0)
    return torch.randn(b, 1, f, t, generator=g), torch.randn(b, 3, frames, 16, 16, generator=g)


@pytest.mark.parametrize("video, audio", PLUGINS, ids=ids)
def test_shapes_and_per_modality_logits(video, audio):
    torch.manual_seed(0)
    model = PluginClassifier(7, width=4, video_model=video, audio_model=audio)
    a, v = inputs()
    out = model(a, v)
    for t in (out.logits, out.logits_a, out.logits_v):
        assert t.shape == (4, 7) and torch.isfinite(t).all()
    assert out.feat_a.shape == (4, 32) and out.feat_v.shape == (4, 32)
    model.eval()  # the probes read the encoders on a whole input
    assert model.audio_encoder(a).shape == (4, 32) and model.visual_encoder(v).shape == (4, 32)
    if video in ("tbn", "psp"):
        # nonlinear fusions: per-modality logits from heads on DETACHED features (never reach the encoders)
        assert model.score_heads
        zero = torch.zeros(())  # the step's loss without the fused term: the heads' alone
        model.training_loss(zero, out, torch.arange(4)).backward()
        assert all(p.grad is None for group in model.encoder_params() for p in group)
        assert model.head_a.weight.grad is not None and model.head_v.weight.grad is not None
    else:
        # concatenation (TSN/TSM over segments, or the book's concat): the two halves add up to the fused logits
        assert not model.score_heads
        loss = F.cross_entropy(out.logits, torch.arange(4))
        assert model.training_loss(loss, out, torch.arange(4)) is loss  # nothing to add
        assert torch.allclose(out.logits_a + out.logits_v, out.logits, atol=1e-5)
        assert not torch.allclose(out.logits_a, out.logits_v)


@pytest.mark.parametrize("video, audio", PLUGINS, ids=ids)
def test_the_audio_logits_depend_on_audio_only(video, audio):
    """Changing the frames leaves the audio logits as they were, and the other way round (eval mode)."""
    torch.manual_seed(0)
    model = PluginClassifier(5, width=4, video_model=video, audio_model=audio).eval()
    a, v = inputs()
    a2, v2 = inputs(b=4)
    v2 = v2 + 1.0
    a2 = a2 * 2.0
    with torch.no_grad():
        base, new_v, new_a = model(a, v), model(a, v2), model(a2, v)
    assert torch.allclose(base.logits_a, new_v.logits_a, atol=1e-5) and not torch.allclose(
        base.logits_v, new_v.logits_v
    )
    assert torch.allclose(base.logits_v, new_a.logits_v, atol=1e-5) and not torch.allclose(
        base.logits_a, new_a.logits_a
    )


def test_temporal_shift_moves_exactly_the_intended_channels_by_one_step():
    # (B=1, T=4, C=16, H=1, W=1): value = 100 * t + c, so every entry says where it came from
    t_, c_ = 4, 16
    x = (100 * torch.arange(t_).view(1, t_, 1, 1, 1) + torch.arange(c_).view(1, 1, c_, 1, 1)).float()
    y = temporal_shift(x, time_dim=1, channel_dim=2, fold_div=8)  # fold = 2
    for t in range(t_):
        for c in range(c_):
            got = y[0, t, c, 0, 0].item()
            if c < 2:  # first fold: takes the next step's value, zero at the last step
                want = 100 * (t + 1) + c if t + 1 < t_ else 0
            elif c < 4:  # second fold: takes the previous step's value, zero at the first step
                want = 100 * (t - 1) + c if t > 0 else 0
            else:  # the rest: unchanged
                want = 100 * t + c
            assert got == want, (t, c, got, want)
    # a narrow stage (C < 8) still shifts one channel each way
    z = temporal_shift(torch.ones(1, 3, 4, 1, 1), 1, 2)
    assert z[0, :, 2].eq(1).all() and z[0, -1, 0].item() == 0 and z[0, 0, 1].item() == 0


def test_tsm_shifts_inside_every_residual_block():
    enc = SegmentVisualEncoder(4, shift=True)
    blocks = [b for layer in (enc.net.layer1, enc.net.layer2, enc.net.layer3, enc.net.layer4) for b in layer]
    assert len(blocks) == 8 and all(isinstance(b.conv1, TemporalShift) for b in blocks)
    assert not any(isinstance(m, TemporalShift) for m in SegmentVisualEncoder(4).modules())
    with pytest.raises(ValueError, match="TSM needs at least 3 frames"):
        enc(torch.randn(2, 3, 2, 16, 16))
    # the shift mixes segments: with it, changing segment 0's frame changes segment 1's features; without, not
    torch.manual_seed(0)
    for shift, mixes in ((True, True), (False, False)):
        enc = SegmentVisualEncoder(4, segments=3, shift=shift).eval()
        v = torch.randn(2, 3, 3, 16, 16)
        v2 = v.clone()
        v2[:, :, 0] += 1.0
        with torch.no_grad():
            f1, f2 = enc.segment_features(v), enc.segment_features(v2)
        assert (not torch.allclose(f1[:, 1], f2[:, 1], atol=1e-6)) == mixes


def test_tsn_sampling_one_frame_per_segment():
    assert segment_bounds(6, 3) == [(0, 2), (2, 4), (4, 6)] and segment_bounds(7, 3) == [(0, 3), (3, 5), (5, 7)]
    v = torch.arange(6).float().view(1, 1, 6, 1, 1).expand(50, 3, 6, 2, 2)  # frame index as the value
    test = sample_segments(v, 3, training=False)[:, 0, :, 0, 0]
    assert (test == torch.tensor([0.0, 2.0, 4.0])).all()  # middle of each 2-frame segment
    torch.manual_seed(0)
    train = sample_segments(v, 3, training=True)[:, 0, :, 0, 0]
    for s, (lo, hi) in enumerate(segment_bounds(6, 3)):
        assert ((train[:, s] >= lo) & (train[:, s] < hi)).all()
        assert set(train[:, s].tolist()) == set(range(lo, hi))  # both frames drawn over 50 clips


def test_audio_windows_cut_time_in_order():
    a = torch.arange(32).float().view(1, 1, 1, 32).expand(2, 1, 3, 32)
    w = audio_windows(a, 3)
    assert w.shape == (2, 3, 1, 3, 10)
    assert w[0, 1, 0, 0].tolist() == list(range(10, 20))


def test_xvector_statistics_pooling_and_filterbank():
    assert filterbank(torch.ones(2, 1, 65, 7)).shape == (2, 1, 32, 7)
    enc = XVectorEncoder(4).eval()
    a = torch.randn(3, 1, 65, 20)
    # the embedding is the segment layer on the mean and std over time of the last frame layer
    h = enc.frames(filterbank(a))
    stats = torch.cat([h.mean(dim=3), h.std(dim=3)], dim=1)
    with torch.no_grad():
        assert torch.allclose(enc(a), F.relu(enc.segment(stats.unsqueeze(3))).flatten(1))
    # its frame layers are conv weights, so the official conv-only modulation covers every weight layer
    assert len(select_parameters(enc.parameters(), "conv")) == 6


def test_ivector_statistics():
    enc = IVectorEncoder(4)
    n, first = enc.statistics(torch.randn(2, 1, 65, 20))
    assert torch.allclose(n.sum(dim=1), torch.full((2,), 20.0), atol=1e-4)  # posteriors sum to 1 per frame
    assert first.shape == (2, 16, 32)
    assert [p.shape for p in select_parameters(enc.parameters(), "conv")] == [enc.total_variability.weight.shape]


def _one_step(video, audio, method):
    """One step as train.py makes it: forward, loss (+ score heads), backward, modulator.compute/apply."""
    torch.manual_seed(0)
    model = PluginClassifier(10, width=4, video_model=video, audio_model=audio)
    gen = torch.Generator().manual_seed(1)
    mod = GradientModulator(*model.encoder_params(), method=method, alpha=0.8, generator=gen)
    assert mod.audio_params and mod.visual_params  # both encoders have conv weights to modulate
    a, v = inputs(b=16)
    labels = torch.arange(16) % 10
    out = model(a, v)
    model.training_loss(F.cross_entropy(out.logits, labels), out, labels).backward()  # as the training step
    before = {id(p): p.grad.clone() for p in mod.audio_params + mod.visual_params}
    state = mod.compute(out.logits_a, out.logits_v, labels)
    mod.apply(state, epoch=0)
    return mod, state, before


@pytest.mark.parametrize("video, audio", PLUGINS, ids=ids)
def test_ogm_scales_the_dominant_encoder_exactly(video, audio):
    mod, state, before = _one_step(video, audio, "ogm")
    assert float(torch.minimum(state.k_a, state.k_v)) < 1 and float(torch.maximum(state.k_a, state.k_v)) == 1
    for params, k in ((mod.audio_params, state.k_a), (mod.visual_params, state.k_v)):
        for p in params:
            assert torch.allclose(p.grad, k * before[id(p)], atol=1e-7)


@pytest.mark.parametrize("video, audio", PLUGINS, ids=ids)
def test_ogm_ge_scales_and_adds_noise_to_both_encoders(video, audio):
    mod, state, before = _one_step(video, audio, "ogm_ge")
    for params, k in ((mod.audio_params, state.k_a), (mod.visual_params, state.k_v)):
        z = torch.cat([((p.grad - k * before[id(p)]) / ge_sigma(before[id(p)])).flatten() for p in params])
        assert z.numel() > 1000 and 0.9 < float(z.std()) < 1.1 and abs(float(z.mean())) < 0.1


@pytest.mark.parametrize("video, audio", PLUGINS, ids=ids)
def test_one_training_step_of_the_real_loop(video, audio, tmp_path):
    from ogm_lib.method.shards import Shard
    from ogm_lib.method.train import Trainer, train_step

    config = make_config(
        "smoke", dataset="synthetic", method="ogm_ge", n_frames=6, quiet=True, video_model=video, audio_model=audio
    )
    trainer = Trainer(config, tmp_path)
    assert isinstance(trainer.model, PluginClassifier) and isinstance(build_model(config, 10), PluginClassifier)
    a, v, y = trainer.data.train.batch(torch.arange(32))
    weights = [p.detach().clone() for group in trainer.model.encoder_params() for p in group]
    row = train_step(trainer.parts, Shard(a, v, y, n_global=len(y), offset=0), epoch=0)
    assert torch.isfinite(row).all() and float(torch.minimum(row[3], row[4])) < 1
    after = [p.detach() for group in trainer.model.encoder_params() for p in group]
    assert all(not torch.equal(w, p) for w, p in zip(weights, after) if p.dim() == 4)


def test_config_fields_keep_every_existing_key():
    base = make_config("cpu")
    assert base.video_model == "resnet18" and base.audio_model == "resnet18"
    assert "video_model" not in base.key() and base.key() == make_config("cpu", video_model="resnet18").key()
    assert make_config("cpu", video_model="tsn").key() != base.key() != make_config("cpu", audio_model="xvector").key()
    with pytest.raises(ValueError, match="tsn, tsm, tbn, psp"):
        make_config("cpu", video_model="slowfast")
    with pytest.raises(ValueError, match="one plug-in at a time"):
        make_config("cpu", video_model="tsn", audio_model="xvector")
    with pytest.raises(ValueError, match="fusion 'concat'"):
        make_config("cpu", video_model="tbn", fusion="sum")
    with pytest.raises(ValueError, match="joint audio-visual model"):
        make_config("cpu", audio_model="xvector", modalities="audio")


def test_book_list_still_finds_every_committed_run():
    """`python -m ogm_lib book list` on the committed results: every run of the book is there (the new fields
    left every existing key as it was)."""
    out = (
        subprocess.run(
            [sys.executable, "-m", "ogm_lib", "book", "list", "--results-dir", str(ROOT / "results")],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        )
        .stdout.strip()
        .splitlines()
    )
    have, _, total = out[-1].split()[:3]
    assert have == total and int(total) > 0 and not any(line.startswith("todo") for line in out)


# ------------------------------------------------------------------------------ rows, runs and claims


def test_table_rows_are_pairs_in_the_regime():
    from ogm_lib.recipe import plugins, regimes

    t3, t4 = plugins.table3_rows(), plugins.table4_rows()
    assert list(t3) == [
        "TSN-AV",
        "TSN-AV+",
        "TSM-AV",
        "TSM-AV+",
        "TBN",
        "TBN+",
        "PSP",
        "PSP+",
        plugins.REFERENCE,
        plugins.REFERENCE + "+",
    ]
    assert list(t4) == [
        "I-vector",
        "I-vector+",
        "X-vector",
        "X-vector+",
        "MWTSM",
        "MWTSM+",
        plugins.REFERENCE,
        plugins.REFERENCE + "+",
    ]
    knobs = regimes.REGIMES[plugins.REGIME]
    for rows, frames in ((t3, plugins.CLIP_FRAMES), (t4, 1)):
        for label, c in rows.items():
            assert c.profile == regimes.PROFILE and c.n_frames == frames and c.fusion == "concat"
            assert (c.audio_snr_db, c.visual_noise) == (knobs["audio_snr_db"], knobs["visual_noise"])
            if label.endswith("+"):
                plain = rows[label[:-1]]
                assert c.method == "ogm_ge" and c.alpha == regimes.ALPHA[plugins.REGIME]
                assert c.replace(method="normal", alpha=plain.alpha).key() == plain.key()
    assert plugins.CLIP_FRAMES >= 3
    t5 = plugins.table5_rows()
    assert list(t5) == ["AVGA", "AVGA+", "PSP", "PSP+"]
    assert all(c.task == "events" and c.probe_every == 0 and c.n_frames == 1 for c in t5.values())
    assert [t3[k].video_model for k in plugins.VIDEO_ROWS] == list(plugins.VIDEO_ROWS.values())
    assert [t4[k].audio_model for k in plugins.AUDIO_ROWS] == list(plugins.AUDIO_ROWS.values())


def test_run_list_and_the_shared_reference_pair():
    from ogm_lib.recipe import book, plugins, regimes

    listed = plugins.runs()
    keys = {c.key() for c in listed}
    # Tables 3 and 4: 7 models, Table 5: 2, each without and with OGM-GE; two reference pairs: Table 3's over
    # `seeds` (its own pair, on six-frame clips), Table 4's over `headline_seeds` (the book's headline pair)
    assert len(keys) == len(listed) == 9 * 2 * book.SEEDS + 2 * book.SEEDS + 2 * plugins.HEADLINE_SEEDS
    # Table 4's reference pair is chapter 12's paper-like headline pair: the same runs, already committed
    head = regimes.regime_rows(plugins.REGIME, regimes.ALPHA[plugins.REGIME])
    ref = plugins.table4_rows()
    assert ref[plugins.REFERENCE].key() == head["Concatenation"].key()
    assert ref[plugins.REFERENCE + "+"].key() == head["Concatenation + OGM-GE"].key()
    assert all(
        (ROOT / "results" / f"{c.replace(seed=s).key()}.json").exists()
        for c in (head["Concatenation"], head["Concatenation + OGM-GE"])
        for s in range(plugins.HEADLINE_SEEDS)
    )
    # the book's run list holds every run of the plug-in chapters; without them it shares only that pair
    assert keys <= {c.key() for c in run_list.book_runs()}
    assert len(keys & {c.key() for c in run_list.book_runs(include_plugins=False)}) == 2 * plugins.HEADLINE_SEEDS
    assert not keys & {c.key() for c in run_list.book_runs(regime="easy audio", include_regimes=False)}
    ref = plugins.REFERENCE
    for rows, n in (
        (plugins.table3_rows(), 5),
        (plugins.table4_rows(), 10),
        (plugins.table4_rows("synthetic", "smoke"), 10),
    ):
        seeds = {label: [c.seed for c in cs] for label, cs in plugins.per_seed(rows, 5, 10).items()}
        assert seeds[ref] == seeds[ref + plugins.PLUS] == list(range(n))
        assert all(s == list(range(5)) for label, s in seeds.items() if not plugins.is_reference(label))


def _fake(acc, seed):
    from ogm_lib.method.results import RunResult

    eps = [{"epoch": 0, "val_acc": 0.1, "test_acc": 0.0}, {"epoch": 1, "val_acc": 0.9, "test_acc": acc}]
    return RunResult(
        key=f"k{seed}{acc}",
        config={"seed": seed},
        epochs=eps,
        best_epoch=1,
        steps={"rho_a": [2.0], "loss": [0.0]},
        wall_time_s=10.0 * (1 + acc),
    )


def test_claims_carry_the_papers_gains_and_are_judged():
    from ogm_lib.recipe import plugins
    from ogm_lib.report import claims as cl
    from ogm_lib.report import plugins as rp

    labels = list(plugins.table4_rows())
    runs = {
        label: [_fake(0.5 + (0.05 + 0.01 * s if label.endswith("+") else 0.0), s) for s in range(5)] for label in labels
    }
    claims = rp.table4_claims(runs)
    assert [c.key for c in claims] == ["i_vector_ge", "x_vector_ge", "mwtsm_ge", "reference_ge"]
    assert claims[0].paper == {"CREMA-D": 1.7} and claims[2].paper == {"CREMA-D": 3.9}
    assert claims[3].paper == {"CREMA-D": 10.2}
    verdicts = cl.judge(claims)
    assert all(v.label == "reproduced" for v in verdicts.values() if not v.referred)
    assert verdicts["reference_ge"].referred  # the headline pair, judged in chapter 05
    assert abs(verdicts["x_vector_ge"].effect - 7.0) < 1e-6
    table = rp.gains_table(claims, verdicts)
    assert list(table.columns) == ["paper: CREMA-D", "ours: gain, 95% CI", "verdict"]
    times = rp.wall_times(runs)
    assert times.loc[plugins.REFERENCE, "× the book's model"] == "1.00"
    t3 = rp.table3_claims({label: runs.get(label, runs["I-vector"]) for label in plugins.table3_rows()})
    assert t3[2].paper == {"Kinetics-Sounds": 2.3, "VGGSound": 1.0} and t3[-1].paper == {"Kinetics-Sounds": 2.5}


def test_the_book_shows_every_plugin_chapter_whose_runs_it_lists():
    """The plug-in chapters (whose runs `runs.book_runs` lists and chapter 10 judges) are all in the toc, in order."""
    from ogm_lib.recipe import chapters as registry
    from ogm_lib.recipe import plugins
    from ogm_lib.report import chapters

    names = [c.name for c in registry.chapters_with(per_seed=registry.plugin_seeds)]
    assert [registry.CHAPTER[n].rows for n in names] == list(plugins.TABLES)
    toc = (ROOT / "book" / "_toc.yml").read_text()
    assert [ch for ch in names if f"notebooks/{ch}" in toc] == names
    assert set(names) <= set(chapters.TITLES)


def _inside_run(seed, fused, visual, audio, steps):
    from ogm_lib.method.results import RunResult

    eps = [
        {"epoch": 0, "val_acc": 0.9, "test_acc": fused, "train_acc": 0.5},
        {"epoch": 1, "val_acc": 0.8, "test_acc": 0.0, "train_acc": 0.9, "probe_visual": visual, "probe_audio": audio},
    ]
    return RunResult(
        key=f"k{seed}{fused}",
        epochs=eps,
        best_epoch=0,
        steps=steps,
        config={"seed": seed, "epochs": 2, "modulation_start": 0, "modulation_end": 0},
    )


def test_inside_table_pairs_seeds_and_reads_the_modulated_steps():
    """OGM-GE minus without per seed, with its 95% CI; rho^a, k^a and k^v averaged over the modulated steps
    only (epoch 0 here: the first 2 of 4 steps); a row without its "+" partner is left out."""
    from ogm_lib.report import plugins as rp

    plain = {"rho_a": [2.0, 2.0, 0.5, 0.5], "k_a": [1.0] * 4, "k_v": [1.0] * 4}
    modulated = {"rho_a": [2.0] * 4, "k_a": [0.5, 0.7, 1.0, 1.0], "k_v": [1.0, 1.0, 0.2, 0.2]}
    runs = {
        "M": [_inside_run(s, 0.6, 0.5 + 0.1 * s, 0.8, plain) for s in range(3)],
        "M+": [_inside_run(s, 0.6 + 0.01 * s, 0.55 + 0.1 * s, 0.7, modulated) for s in range(3)],
        "Alone": [_inside_run(0, 0.5, 0.5, 0.5, plain)],
    }
    table = rp.inside_table(runs)
    assert list(table.index) == ["M"]
    row = table.loc["M"]
    assert row["visual probe"] == "+5.0 (+5.0 to +5.0)" and row["audio probe"] == "-10.0 (-10.0 to -10.0)"
    # fused: +0, +1, +2 points -> mean +1.0, t(2) 97.5% = 4.303, se = 1/sqrt(3): +1.0 -/+ 2.5
    assert row["fused test acc"] == "+1.0 (-1.5 to +3.5)" and row["train acc, last epoch"] == "+0.0 (+0.0 to +0.0)"
    assert (row["mean ρ^a without"], row["mean k^a with OGM-GE"], row["mean k^v with OGM-GE"]) == (
        "2.00",
        "0.60",
        "1.00",
    )
    assert (
        rp.trace_range_text(runs) == "0.60 to 0.60"
        and rp.trace_range_text(runs, "rho_a", with_ge=False) == "2.00 to 2.00"
    )
    no_probes = {k: [_fake(0.5, s) for s in range(2)] for k in ("A", "A+")}
    assert rp.inside_table(no_probes).loc["A", "visual probe"] == "—"
