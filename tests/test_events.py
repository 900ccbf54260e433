"""Event localisation (the paper's Table 5): the event sequences (data/events.py), AVE's segment-level accuracy,
the AVGA and PSP localisation models (models/localisation.py), and the evaluation of segment labels."""

import pytest
import torch
import torch.nn.functional as F

from ogm_lib.method.config import make_config
from ogm_lib.method.data.common import AVSplits, AVTensorDataset
from ogm_lib.method.data.events import event_sequences, make_events, segment_accuracy
from ogm_lib.method.metrics import evaluate
from ogm_lib.method.models import build_model
from ogm_lib.method.models.localisation import LocalisationModel
from ogm_lib.method.modulation import GradientModulator


def test_segment_accuracy_on_a_hand_made_example():
    # two sequences of four segments; 0 = background, k = event class k
    labels = torch.tensor([[0, 3, 3, 0], [5, 5, 0, 0]])
    pred = torch.tensor(
        [
            [0, 3, 2, 0],  # 3 of 4 right
            [5, 0, 0, 1],
        ]
    )  # 2 of 4 right
    assert segment_accuracy(pred, labels) == pytest.approx(5 / 8)
    logits = F.one_hot(pred, 6).float().transpose(1, 2) * 4.0  # (N, classes, S): argmax = pred
    assert segment_accuracy(logits, labels) == pytest.approx(5 / 8)

    # the evaluation of a model's per-segment logits gives the same number (as its `acc`)
    class Fixed(torch.nn.Module):
        def forward(self, audio, visual):
            from ogm_lib.method.models import ModelOutput

            return ModelOutput(logits, logits, logits, None, None)

    metrics = evaluate(Fixed(), [(torch.zeros(2), torch.zeros(2), labels)], num_classes=6)
    assert metrics["acc"] == pytest.approx(5 / 8) and metrics["acc_audio"] == pytest.approx(5 / 8)


def _toy_clips(n=60, classes=4):
    """Clips whose audio and visual carry their label as a constant value (label + 1), to trace composition."""
    labels = torch.arange(n) % classes
    audio = (labels.float() + 1).view(n, 1, 1, 1).expand(n, 1, 3, 5).clone()
    visual = (labels.float() + 1).view(n, 1, 1, 1, 1).expand(n, 3, 2, 4, 4).clone()
    return AVTensorDataset(audio, visual, labels, [str(c) for c in range(classes)])


def test_event_sequences_event_where_the_modalities_agree():
    ds = _toy_clips()
    g = torch.Generator().manual_seed(0)
    audio, visual, labels, index = event_sequences(ds, 200, 6, g)
    assert audio.shape == (200, 1, 3, 30) and visual.shape == (200, 3, 6, 4, 4) and labels.shape == (200, 6)
    heard = audio[:, 0, 0].view(200, 6, 5)[..., 0] - 1  # the digit heard in each segment
    seen = visual[:, 0, :, 0, 0] - 1  # the digit seen
    event = labels > 0
    assert torch.equal(heard[event], labels[event].float() - 1) and torch.equal(seen[event], heard[event])
    assert (heard[~event] != seen[~event]).all()  # background: the modalities disagree
    for i in range(200):  # one event digit, in one contiguous span
        seg = torch.nonzero(event[i]).flatten()
        assert len(seg) >= 1 and torch.equal(seg, torch.arange(int(seg[0]), int(seg[-1]) + 1))
        d = labels[i, seg[0]] - 1
        assert ((heard[i][~event[i]] == d) | (seen[i][~event[i]] == d)).all()  # d in one modality of background
        assert (labels[i][event[i]] == d + 1).all()
    assert torch.equal(index[..., 0][event], index[..., 1][event])  # an event segment is one clip
    assert 0.3 < float(event.float().mean()) < 0.8


def test_event_splits_test_side_is_fixed():
    base = AVSplits(_toy_clips(40), _toy_clips(12), _toy_clips(20), ["0", "1", "2", "3"])
    base.__class__ = type("S", (AVSplits,), {"split_hash": property(lambda self: "x")})
    a, b = make_events(base, seed=0), make_events(base, seed=1)
    assert a.class_names == ["background", "0", "1", "2", "3"] and len(a.train) == 20 and len(a.test) == 10
    assert torch.equal(a.test.labels, b.test.labels) and not torch.equal(a.train.labels, b.train.labels)
    assert a.split_hash != b.split_hash


@pytest.mark.parametrize("model", ["avga", "psp"])
def test_localisation_models_give_per_segment_logits_and_modulate(model):
    torch.manual_seed(0)
    net = LocalisationModel(11, width=4, model=model, segments=6)
    audio, visual = torch.randn(8, 1, 65, 6 * 32), torch.randn(8, 3, 6, 16, 16)
    labels = torch.randint(11, (8, 6))
    out = net(audio, visual)
    for t in (out.logits, out.logits_a, out.logits_v):
        assert t.shape == (8, 11, 6)
    assert out.feat_a.shape == (8, 32) and out.feat_v.shape == (8, 32) and net.score_heads
    # the per-modality heads read detached features: their loss, which `training_loss` adds to the step's,
    # never reaches the encoders
    head_loss = net.training_loss(torch.zeros(()), out, labels)
    assert torch.equal(head_loss, F.cross_entropy(out.logits_a, labels) + F.cross_entropy(out.logits_v, labels))
    head_loss.backward(retain_graph=True)
    assert all(p.grad is None for group in net.encoder_params() for p in group)
    # the fused loss does; OGM scales the dominant encoder's conv weights (modulator unchanged)
    mod = GradientModulator(*net.encoder_params(), method="ogm", alpha=0.8)
    net.zero_grad()
    F.cross_entropy(out.logits, labels).backward()
    before = {id(p): p.grad.clone() for p in mod.audio_params + mod.visual_params}
    state = mod.compute(out.logits_a, out.logits_v, labels)
    mod.apply(state, 0)
    assert float(torch.minimum(state.k_a, state.k_v)) < 1
    for params, k in ((mod.audio_params, state.k_a), (mod.visual_params, state.k_v)):
        assert params and all(torch.allclose(p.grad, k * before[id(p)], atol=1e-7) for p in params)


def test_avga_attention_follows_the_audio():
    """Changing a segment's audio changes where that segment's frame is attended (audio-guided attention)."""
    torch.manual_seed(0)
    net = LocalisationModel(5, width=4, model="avga", segments=2).eval()
    maps = torch.randn(1, 2, 32, 3, 3)
    a = torch.randn(1, 2, 32)
    _, w1 = net.attention(maps, a)
    _, w2 = net.attention(maps, a + torch.randn(1, 2, 32))
    assert torch.allclose(w1.sum(2), torch.ones(1, 2)) and not torch.allclose(w1, w2)


def test_events_config_and_a_training_step(tmp_path):
    from ogm_lib.method.shards import Shard
    from ogm_lib.method.train import Trainer, train_step

    config = make_config(
        "smoke",
        dataset="synthetic",
        task="events",
        video_model="psp",
        n_frames=1,
        method="ogm_ge",
        quiet=True,
        synthetic_size=120,
    )
    assert config.key() != make_config("smoke", dataset="synthetic", n_frames=1, video_model="psp").key()
    trainer = Trainer(config, tmp_path)
    assert isinstance(trainer.model, LocalisationModel) and trainer.num_classes == 11
    a, v, y = trainer.data.train.batch(torch.arange(16))
    assert y.shape == (16, 6)
    row = train_step(trainer.parts, Shard(a, v, y, n_global=len(y), offset=0), epoch=0)
    assert torch.isfinite(row).all()
    m = trainer.evaluate_split("test")
    assert 0 <= m["acc"] <= 1 and "acc_audio" in m
    for bad, match in (
        (dict(video_model="tsn"), "video_model 'avga' or 'psp'"),
        (dict(n_frames=3), "n_frames 1"),
        (dict(probe_every=1), "probe_every 0"),
        (dict(dataset="cremad"), "dataset among"),
    ):
        with pytest.raises(ValueError, match=match):
            make_config("smoke", **{**dict(dataset="synthetic", task="events", video_model="avga", n_frames=1), **bad})
    with pytest.raises(ValueError, match="needs task 'events'"):
        make_config("smoke", video_model="avga")
    assert isinstance(build_model(config, 11), LocalisationModel)
