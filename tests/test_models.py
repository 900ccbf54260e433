"""Encoders, fusions and the classifier (ogm_lib/method/models)."""

import pytest
import torch
import torchvision

from ogm_lib.method.models import AudioEncoder, AVClassifier, VisualEncoder
from ogm_lib.method.models.fusion import FUSION_CLASSES


def n_params(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("encoder, in_ch", [(AudioEncoder, 1), (VisualEncoder, 3)])
def test_paper_width_matches_torchvision_resnet18(encoder, in_ch):
    ref = torchvision.models.resnet18()
    ref.conv1 = torch.nn.Conv2d(in_ch, 64, 7, 2, 3, bias=False)
    expected = n_params(ref) - n_params(ref.fc)
    assert n_params(encoder(64)) == expected


def test_encoder_shapes():
    a = AudioEncoder(4)(torch.randn(2, 1, 65, 40))
    v = VisualEncoder(4)(torch.randn(2, 3, 5, 16, 16))
    assert a.shape == (2, 32) and v.shape == (2, 32)


def test_visual_encoder_averages_frames():
    enc = VisualEncoder(4).eval()
    frame = torch.randn(1, 3, 1, 16, 16)
    same = frame.repeat(1, 1, 4, 1, 1)  # four identical frames = one frame
    assert torch.allclose(enc(frame), enc(same), atol=1e-6)


@pytest.mark.parametrize("fusion", list(FUSION_CLASSES))
def test_fusion_shapes(fusion):
    model = AVClassifier(7, fusion=fusion, width=4)
    out = model(torch.randn(3, 1, 32, 20), torch.randn(3, 3, 2, 16, 16))
    for t in (out.logits, out.logits_a, out.logits_v):
        assert t.shape == (3, 7)
    assert out.feat_a.shape == (3, 32) and out.feat_v.shape == (3, 32)


@pytest.mark.parametrize("fusion", ["concat", "sum"])
def test_per_modality_logits_add_up(fusion):
    model = AVClassifier(5, fusion=fusion, width=4)
    out = model(torch.randn(3, 1, 32, 20), torch.randn(3, 3, 2, 16, 16))
    assert torch.allclose(out.logits_a + out.logits_v, out.logits, atol=1e-5)
    assert not model.score_heads


def test_concat_halves_use_half_bias():
    model = AVClassifier(3, fusion="concat", width=4)
    with torch.no_grad():
        model.fusion.fc.bias.fill_(2.0)
    a, v = torch.zeros(1, 32), torch.zeros(1, 32)
    _, la, lv = model.fusion(a, v)
    assert torch.allclose(la, torch.ones(1, 3)) and torch.allclose(lv, torch.ones(1, 3))


@pytest.mark.parametrize("fusion", ["film", "gated"])
def test_score_heads_do_not_touch_encoders(fusion):
    model = AVClassifier(4, fusion=fusion, width=4)
    assert model.score_heads
    out = model(torch.randn(3, 1, 32, 20), torch.randn(3, 3, 2, 16, 16))
    head_loss = model.training_loss(torch.zeros(()), out, torch.tensor([0, 1, 2]))  # the heads' terms alone
    head_loss.backward()
    enc_grads = [p.grad for p in model.audio_encoder.parameters()] + [p.grad for p in model.visual_encoder.parameters()]
    assert all(g is None for g in enc_grads)
    assert model.fusion.head_a.weight.grad is not None and model.fusion.head_v.weight.grad is not None


@pytest.mark.parametrize(
    "fusion, modalities",
    [("concat", "av"), ("sum", "av"), ("film", "av"), ("gated", "av"), ("film", "audio"), ("gated", "visual")],
)
def test_training_loss_adds_the_score_heads_where_there_are_some(fusion, modalities):
    """The loss the step back-propagates: the strategy's `loss` as it is for concat, sum and a unimodal model
    (whatever its `fusion` field says); plus each detached head's cross-entropy for FiLM and gated fusion."""
    torch.manual_seed(0)
    model = AVClassifier(4, fusion=fusion, width=4, modalities=modalities)
    out = model(torch.randn(3, 1, 32, 20), torch.randn(3, 3, 2, 16, 16))
    labels = torch.tensor([0, 1, 3])
    loss = torch.nn.functional.cross_entropy(out.logits, labels)
    total = model.training_loss(loss, out, labels)
    if modalities == "av" and fusion in ("film", "gated"):
        ce = torch.nn.functional.cross_entropy
        assert torch.equal(total, loss + ce(out.logits_a, labels) + ce(out.logits_v, labels)) and total > loss
    else:
        assert total is loss


def test_keep_mask_zeroes_features():
    model = AVClassifier(4, fusion="concat", width=4)
    keep = torch.tensor([1.0, 0.0])
    out = model(torch.randn(2, 1, 32, 20), torch.randn(2, 3, 2, 16, 16), keep_a=keep)
    assert torch.all(out.feat_a[1] == 0) and torch.any(out.feat_a[0] != 0)


@pytest.mark.parametrize("modalities", ["audio", "visual"])
def test_unimodal_model(modalities):
    model = AVClassifier(4, width=4, modalities=modalities)
    out = model(torch.randn(2, 1, 32, 20), torch.randn(2, 3, 2, 16, 16))
    assert out.logits.shape == (2, 4)
    assert (model.audio_encoder is None) == (modalities == "visual")
    assert (model.visual_encoder is None) == (modalities == "audio")


def test_unknown_fusion_raises():
    with pytest.raises(ValueError, match="concat, sum, film, gated"):
        AVClassifier(4, fusion="late")
