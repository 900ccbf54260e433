"""The SGD-noise measurements (noise.py)."""

import pytest
import torch


def test_minibatch_noise_falls_as_one_over_b():
    from ogm_lib.method.noise import minibatch_noise_trace, noise_trace_formula

    flat = torch.randn(2000, 50, generator=torch.Generator().manual_seed(0))
    for b in (8, 32):
        measured = minibatch_noise_trace(flat, b, draws=2000)
        assert measured == pytest.approx(noise_trace_formula(flat, b), rel=0.1)
    # OGM scales the update by k: the noise covariance by k^2
    assert minibatch_noise_trace(flat, 16, draws=500, scale=0.5) == pytest.approx(
        0.25 * minibatch_noise_trace(flat, 16, draws=500), rel=1e-5
    )


def test_per_sample_gradients_sum_to_batch_gradient():
    from ogm_lib.method.models import AVClassifier
    from ogm_lib.method.noise import per_sample_gradients

    torch.manual_seed(0)
    model = AVClassifier(3, width=4).eval()
    a, v, y = torch.randn(5, 1, 32, 20), torch.randn(5, 3, 2, 16, 16), torch.tensor([0, 1, 2, 0, 1])
    per = per_sample_gradients(model, a, v, y, "visual")
    loss = torch.nn.functional.cross_entropy(model(a, v).logits, y)
    loss.backward()
    for name, p in model.named_parameters():
        if name in per:
            assert torch.allclose(per[name].mean(0), p.grad, atol=1e-5), name
    assert all(n.startswith("visual_encoder.") and per[n].dim() == 5 for n in per)


def test_compare_to_theory_words():
    from ogm_lib.method.noise import compare_to_theory

    assert compare_to_theory({"audio": 0.5, "visual": 0.7}) == "smaller than the theory's for every encoder"
    assert compare_to_theory({"audio": 1.05, "visual": 0.4}) == (
        "about equal to the theory's for the audio encoder and smaller than the theory's for the visual encoder"
    )
    assert compare_to_theory({"audio": 2.0, "visual": 1.5}).startswith("larger than")
