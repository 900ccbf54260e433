"""OGM-GE as the paper and the official code define it (ogm_lib/method/modulation.py)."""

import math

import pytest
import torch
from torch import nn

from ogm_lib.method.modulation import (
    GradientModulator,
    coefficient,
    discrepancy_ratios,
    modality_scores,
    select_parameters,
)


@pytest.mark.parametrize(
    "rho, alpha, expected",
    [
        (0.5, 0.8, 1.0),  # not dominant: untouched
        (1.0, 0.8, 1.0),  # rho = 1 exactly: not > 1, untouched
        (1.0 + 1e-6, 0.8, 1 - math.tanh(0.8)),  # just above 1: the jump of Eq. 10
        (2.0, 0.8, 1 - math.tanh(1.6)),
        (9.0, 0.1, 1 - math.tanh(0.9)),
    ],
)
def test_coefficient_eq10(rho, alpha, expected):
    k = coefficient(torch.tensor(rho, dtype=torch.float64), alpha)
    assert float(k) == pytest.approx(expected, abs=1e-5)


def test_coefficient_jump_at_one():
    k = coefficient(torch.tensor([0.999, 1.001]), 0.5)
    assert float(k[0]) == 1.0 and float(k[1]) < 1 - math.tanh(0.5) + 1e-3


def test_ratio_matches_hand_computation():
    logits_a = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    logits_v = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 3.0]])
    labels = torch.tensor([0, 1, 0])
    sa, sv = modality_scores(logits_a, logits_v, labels)
    sig = lambda x: 1 / (1 + math.exp(-x))  # softmax of 2 classes = sigmoid of the difference
    hand_a = sig(2.0) + sig(1.0) + 0.5
    hand_v = 0.5 + sig(-1.0) + sig(-3.0)
    assert float(sa) == pytest.approx(hand_a, rel=1e-6)
    assert float(sv) == pytest.approx(hand_v, rel=1e-6)
    rho_a, rho_v = discrepancy_ratios(sa, sv)
    assert float(rho_a) == pytest.approx(hand_a / hand_v, rel=1e-6)
    assert float(rho_v) == pytest.approx(hand_v / hand_a, rel=1e-6)


class TwoEncoders(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc_a = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4))
        self.enc_v = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
        self.fc = nn.Linear(8, 2)

    def fill_grads(self, seed=0):
        g = torch.Generator().manual_seed(seed)
        for p in self.parameters():
            p.grad = torch.randn(p.shape, generator=g)


def _state(mod, rho_a):
    """A ModulationState with a chosen rho_a (logits crafted so the scores have that ratio)."""
    from ogm_lib.method.modulation import ModulationState

    rho_a = torch.tensor(rho_a)
    return ModulationState(
        rho_a, torch.tensor(1.0), rho_a, 1 / rho_a, coefficient(rho_a, mod.alpha), coefficient(1 / rho_a, mod.alpha)
    )


def test_ogm_scales_exactly_conv_weights_of_dominant_encoder():
    net = TwoEncoders()
    net.fill_grads()
    before = {n: p.grad.clone() for n, p in net.named_parameters()}
    mod = GradientModulator(net.enc_a.parameters(), net.enc_v.parameters(), method="ogm", alpha=0.8)
    state = _state(mod, 3.0)  # audio dominant
    mod.apply(state, epoch=0)
    k = 1 - math.tanh(0.8 * 3.0)
    for n, p in net.named_parameters():
        if n == "enc_a.0.weight":
            assert torch.allclose(p.grad, before[n] * k)
        else:  # conv bias, BN, visual encoder (k=1), fusion: untouched
            assert torch.equal(p.grad, before[n]), n


def test_modulate_all_scales_every_encoder_tensor():
    net = TwoEncoders()
    net.fill_grads()
    before = {n: p.grad.clone() for n, p in net.named_parameters()}
    mod = GradientModulator(net.enc_a.parameters(), net.enc_v.parameters(), method="ogm", modulate="all")
    mod.apply(_state(mod, 0.25), epoch=0)  # visual dominant: rho_v = 4
    k = 1 - math.tanh(0.8 * 4.0)
    for n, p in net.named_parameters():
        expect = before[n] * k if n.startswith("enc_v") else before[n]
        assert torch.allclose(p.grad, expect), n


def test_window_is_inclusive_and_normal_does_nothing():
    net = TwoEncoders()
    mod = GradientModulator(net.enc_a.parameters(), net.enc_v.parameters(), method="ogm", start_epoch=2, end_epoch=4)
    assert [mod.active(e) for e in range(6)] == [False, False, True, True, True, False]
    normal = GradientModulator(net.enc_a.parameters(), net.enc_v.parameters(), method="normal")
    net.fill_grads()
    before = [p.grad.clone() for p in net.parameters()]
    normal.apply(_state(normal, 5.0), epoch=0)
    assert all(torch.equal(a, p.grad) for a, p in zip(before, net.parameters()))


def test_ge_noise_has_std_of_unscaled_gradient():
    torch.manual_seed(0)
    w = nn.Parameter(torch.zeros(64, 64, 3, 3))  # 36,864 elements: a tight std estimate
    v = nn.Parameter(torch.zeros(8, 3, 3, 3))
    grad = torch.randn(w.shape) * 0.37
    gen = torch.Generator().manual_seed(1)
    mod = GradientModulator([w], [v], method="ogm_ge", alpha=0.8, generator=gen)
    w.grad, v.grad = grad.clone(), torch.zeros(v.shape)
    state = _state(mod, 2.0)
    mod.apply(state, epoch=0)
    noise = w.grad - float(state.k_a) * grad
    assert float(noise.mean()) == pytest.approx(0.0, abs=0.01)
    assert float(noise.std()) == pytest.approx(float(grad.std()), rel=0.02)
    # GE also perturbs the non-dominant encoder (official): its zero gradient gets sigma = 1e-8 noise
    assert float(v.grad.abs().max()) < 1e-6 and float(v.grad.abs().max()) > 0


def test_ge_alone_does_not_scale():
    w = nn.Parameter(torch.zeros(16, 16, 3, 3))
    v = nn.Parameter(torch.zeros(4, 3, 3, 3))
    w.grad = torch.randn(w.shape)
    v.grad = torch.randn(v.shape)
    g0 = w.grad.clone()
    mod = GradientModulator([w], [v], method="ge", generator=torch.Generator().manual_seed(0))
    mod.apply(_state(mod, 10.0), epoch=0)
    noise = w.grad - g0  # k is ignored: g + N(0, std(g)^2)
    assert float(noise.std()) == pytest.approx(float(g0.std()), rel=0.05)


def test_normal_equals_plain_sgd_step():
    torch.manual_seed(0)
    net1, net2 = TwoEncoders(), TwoEncoders()
    net2.load_state_dict(net1.state_dict())
    x_a, x_v = torch.randn(4, 1, 5, 5), torch.randn(4, 3, 5, 5)
    y = torch.tensor([0, 1, 1, 0])
    outs = []
    for net, modulate in ((net1, True), (net2, False)):
        opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
        mod = GradientModulator(net.enc_a.parameters(), net.enc_v.parameters(), method="normal")
        fa, fv = net.enc_a(x_a).mean((2, 3)), net.enc_v(x_v).mean((2, 3))
        logits = net.fc(torch.cat([fa, fv], 1))
        loss = nn.functional.cross_entropy(logits, y)
        opt.zero_grad()
        loss.backward()
        if modulate:
            w = net.fc.weight
            mod.step(fa @ w[:, :4].T, fv @ w[:, 4:].T, y, epoch=0)
        opt.step()
        outs.append([p.detach().clone() for p in net.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*outs))


def test_reduce_scores_hook_sees_both_scores():
    seen = []
    mod = GradientModulator([], [], method="ogm", reduce_scores=lambda s: seen.append(s.clone()) or s * 2)
    st = mod.compute(torch.zeros(2, 3), torch.zeros(2, 3), torch.tensor([0, 1]))
    assert seen[0].shape == (2,) and float(st.score_a) == pytest.approx(2 * 2 / 3)
    assert float(st.rho_a) == pytest.approx(1.0)


def test_scores_from_bf16_logits_are_computed_in_fp32():
    """Under autocast the logits come in bf16: `compute` casts them to fp32 before the scores (a ratio of
    sums over the batch), so rho and k are what fp32 gives on the same (rounded) logits; fp32 is unchanged."""
    g = torch.Generator().manual_seed(0)
    la, lv, y = torch.randn(64, 10, generator=g), torch.randn(64, 10, generator=g), torch.arange(64) % 10
    w, v = nn.Parameter(torch.zeros(2, 1, 3, 3)), nn.Parameter(torch.zeros(2, 1, 3, 3))
    mod = GradientModulator([w], [v], method="ogm")
    low = mod.compute(la.bfloat16(), lv.bfloat16(), y)
    ref = mod.compute(la.bfloat16().float(), lv.bfloat16().float(), y)
    assert all(t.dtype == torch.float32 for t in low)
    assert all(torch.equal(a, b) for a, b in zip(low, ref))
    assert mod.compute(la.double(), lv.double(), y).rho_a.dtype == torch.float64  # never cast down


def test_bad_names_raise():
    with pytest.raises(ValueError, match="ogm_ge"):
        GradientModulator([], [], method="ogmm")
    with pytest.raises(ValueError, match="conv, all"):
        select_parameters([], "some")
