"""GE with the paper's noise (modulation.sgd_noise, RunConfig.ge_noise), the temperature argument
(temperature.py) and the update-noise measurement of chapter 03 (noise.update_noise_traces)."""

import math
from contextlib import nullcontext

import pytest
import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from ogm_lib.method.config import make_config
from ogm_lib.method.modulation import GradientModulator, HalfBatch, ModulationState, coefficient, half_size, sgd_noise


class Tiny(nn.Module):
    """Two one-conv encoders and a linear head: no BatchNorm, so per-sample gradients are independent."""

    def __init__(self):
        super().__init__()
        self.enc_a = nn.Conv2d(1, 3, 3)
        self.enc_v = nn.Conv2d(1, 2, 3)
        self.fc = nn.Linear(5, 3)

    def forward(self, xa, xv):
        return self.fc(torch.cat([torch.tanh(self.enc_a(xa)).mean((2, 3)), torch.tanh(self.enc_v(xv)).mean((2, 3))], 1))


def _state(rho_a: float, alpha: float = 0.8) -> ModulationState:
    rho_a = torch.tensor(rho_a)
    return ModulationState(
        rho_a, torch.tensor(1.0), rho_a, 1 / rho_a, coefficient(rho_a, alpha), coefficient(1 / rho_a, alpha)
    )


def _pool(n=400, seed=0):
    g = torch.Generator().manual_seed(seed)
    xa, xv = torch.randn(n, 1, 5, 5, generator=g), torch.randn(n, 1, 5, 5, generator=g)
    y = torch.randint(0, 3, (n,), generator=g)
    return xa, xv, y


def _per_sample_conv_grads(net, xa, xv, y):
    """(N, D): per-sample gradients of the loss w.r.t. the two conv weights, flattened (audio first)."""
    names = ("enc_a.weight", "enc_v.weight")
    params = {n: p.detach() for n, p in net.named_parameters() if n in names}
    others = {n: p.detach() for n, p in net.named_parameters() if n not in names}

    def loss_one(p, a, v, t):
        out = functional_call(net, {**others, **p}, (a[None], v[None]))
        return nn.functional.cross_entropy(out, t[None])

    g = vmap(grad(loss_one), in_dims=(None, 0, 0, 0))(params, xa, xv, y)
    return torch.cat([g[n].reshape(len(y), -1) for n in names], 1)


def _one_step_noise(net, mod, xa, xv, y, state):
    """One training step's modulation as train.py does it: the modulator's backward (the graph kept for the
    half batch), then apply() with the HalfBatch it returned. Returns (g_B, the modulated gradient), flattened
    conv weights."""
    out = net(xa, xv)
    loss = nn.functional.cross_entropy(out, y)
    net.zero_grad(set_to_none=True)
    half = mod.backward(loss, out, y, 0)
    assert half.size == half_size(len(y)) and half.batch_size == len(y)
    ws = (net.enc_a.weight, net.enc_v.weight)
    g_b = torch.cat([w.grad.reshape(-1).clone() for w in ws])
    mod.apply(state, 0, half)
    return g_b, torch.cat([w.grad.reshape(-1).clone() for w in ws])


@pytest.mark.parametrize(
    "method, ge_noise, epoch, b, kept",
    [
        ("ogm_ge", "sgd", 0, 8, True),
        ("ge", "sgd", 0, 7, True),
        ("ogm_ge", "sgd_restore", 0, 8, True),
        ("ogm_ge", "sgd", 0, 1, False),  # a batch of one: no half to take, nothing kept
        ("ogm_ge", "sgd", 60, 8, False),  # outside the modulation window
        ("ogm_ge", "official", 0, 8, False),
        ("ogm", "official", 0, 8, False),
        ("normal", "official", 0, 8, False),
    ],
)
def test_backward_keeps_the_graph_only_for_the_sgd_noises(method, ge_noise, epoch, b, kept):
    """`GradientModulator.backward`: the batch's gradient in `.grad` for every method; for the "sgd" GE noises
    (in the window, b >= 2) a HalfBatch whose gradient is the fused loss's on the first m samples, through the
    same graph, which is kept for it (and freed otherwise: a second backward fails). Its loss is built under
    the autocast given (entered once), as the step's own."""
    torch.manual_seed(0)
    net = Tiny()
    xa, xv, y = _pool(b)
    ws = [net.enc_a.weight, net.enc_v.weight]
    mod = GradientModulator([ws[0]], [ws[1]], method=method, ge_noise=ge_noise)
    entered = []
    out = net(xa, xv)
    loss = nn.functional.cross_entropy(out, y)
    half = mod.backward(loss, out, y, epoch, autocast=lambda: entered.append(1) or nullcontext())
    expect = torch.autograd.grad(nn.functional.cross_entropy(net(xa, xv), y), ws)
    assert all(torch.allclose(w.grad, g, atol=1e-7) for w, g in zip(ws, expect))  # g = dL/dtheta
    needs = mod.needs_half_batch(epoch)
    assert (half is not None) == needs and len(entered) == int(needs)
    if needs:
        assert (half.size, half.batch_size) == (half_size(b), b)
    if kept:
        m = half.size
        expect_half = torch.autograd.grad(nn.functional.cross_entropy(net(xa[:m], xv[:m]), y[:m]), ws)
        assert all(torch.allclose(g, e, atol=1e-7) for g, e in zip(half.gradient(ws), expect_half))
    else:
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            loss.backward()


@pytest.mark.parametrize("b", [16, 7])  # even: two halves; odd: 3 and 4 samples, rescaled
def test_sgd_noise_has_the_minibatch_covariance(b, one_thread):
    """Over random mini-batches of a pool, GE's h (noise added with k = 1, method 'ge') has zero mean,
    no correlation with g_B, and trace Cov(h) = tr(Sigma_1) / b, Sigma_1 from per-sample gradients."""
    torch.manual_seed(0)
    net = Tiny()
    xa, xv, y = _pool()
    flat = _per_sample_conv_grads(net, xa, xv, y)
    target = float(flat.var(0, unbiased=True).sum()) / b  # tr(Sigma_1) / b (within-batch: no pool factor)
    mod = GradientModulator([net.enc_a.weight], [net.enc_v.weight], method="ge", ge_noise="sgd")
    gen = torch.Generator().manual_seed(1)
    hs, gbs = [], []
    draws = 3000
    for _ in range(draws):
        idx = torch.randperm(len(y), generator=gen)[:b]
        g_b, g = _one_step_noise(net, mod, xa[idx], xv[idx], y[idx], _state(3.0))
        hs.append(g - g_b)
        gbs.append(g_b)
    h, gb = torch.stack(hs), torch.stack(gbs)
    measured = float(h.var(0, unbiased=True).sum())
    # Monte-Carlo error of a trace of a covariance over 3,000 draws: a few per cent
    assert measured == pytest.approx(target, rel=0.08)
    # zero mean: |mean| within 4 standard errors, coordinate by coordinate (summed as a trace)
    assert float((h.mean(0) ** 2).sum()) < 16 * measured / draws
    # uncorrelated with g_B: the cross-covariance is small against both variances
    cross = ((h - h.mean(0)) * (gb - gb.mean(0))).mean(0).sum()
    assert abs(float(cross)) < 0.1 * math.sqrt(measured * float(gb.var(0).sum()))
    # the mini-batch gradient itself has (about) the same trace: the paper's Sigma_b
    n = len(y)
    assert float(gb.var(0).sum()) == pytest.approx(target * (n - b) / (n - 1), rel=0.08)


def test_sgd_noise_factor_unequal_parts():
    """h = sqrt(m / (b - m)) (g_H - g_B); for m = b/2 it is (g_H - g_H')/2."""
    gh, gh2 = torch.tensor([1.0, 3.0]), torch.tensor([3.0, -1.0])
    gb = (gh + gh2) / 2
    (h,) = sgd_noise([gh], [gb], 4, 8)
    assert torch.allclose(h, (gh - gh2) / 2)
    gb_odd = (3 * gh + 4 * gh2) / 7
    (h,) = sgd_noise([gh], [gb_odd], 3, 7)
    assert torch.allclose(h, math.sqrt(3 / 4) * (gh - gb_odd))
    assert half_size(1) == 0 and half_size(7) == 3 and half_size(64) == 32


@pytest.mark.parametrize(
    "ge_noise, scale",
    [("sgd", lambda k: 1.0), ("sgd_k", lambda k: k), ("sgd_restore", lambda k: math.sqrt(k * (1 - k)))],
)
def test_ogm_ge_sgd_variants_scale_g_and_h(ge_noise, scale):
    """OGM-GE: the dominant encoder gets k g_B + s h, the other (k = 1) g_B + s(1) h; h from the UNSCALED g_B."""
    torch.manual_seed(0)
    net = Tiny()
    xa, xv, y = _pool(12)
    state = _state(3.0)  # audio dominant
    k = float(state.k_a)
    mod = GradientModulator([net.enc_a.weight], [net.enc_v.weight], method="ogm_ge", ge_noise=ge_noise)
    g_b, g = _one_step_noise(net, mod, xa, xv, y, state)
    out = net(xa, xv)
    half = torch.autograd.grad(nn.functional.cross_entropy(out[:6], y[:6]), [net.enc_a.weight, net.enc_v.weight])
    g_h = torch.cat([t.reshape(-1) for t in half])
    h = g_h - g_b
    na = net.enc_a.weight.numel()
    assert torch.allclose(g[:na], k * g_b[:na] + scale(k) * h[:na], atol=1e-6)
    assert torch.allclose(g[na:], g_b[na:] + scale(1.0) * h[na:], atol=1e-6)


def test_sgd_noise_needs_the_half_batch_and_skips_a_batch_of_one():
    w, v = nn.Parameter(torch.zeros(2, 1, 3, 3)), nn.Parameter(torch.zeros(2, 1, 3, 3))
    w.grad, v.grad = torch.ones_like(w), torch.ones_like(v)
    mod = GradientModulator([w], [v], method="ogm_ge", ge_noise="sgd")
    assert mod.needs_half_batch(0) and not mod.needs_half_batch(60)
    with pytest.raises(ValueError, match="half"):
        mod.apply(_state(3.0), 0)
    mod.apply(_state(3.0), 0, HalfBatch(None, 0, 1))  # batch of one: scaled, no noise
    assert torch.allclose(w.grad, torch.full_like(w, float(_state(3.0).k_a))) and torch.equal(
        v.grad, torch.ones_like(v)
    )
    assert not GradientModulator([w], [v], method="ogm_ge").needs_half_batch(0)  # official: no
    with pytest.raises(ValueError, match="official, sgd, sgd_k, sgd_restore"):
        GradientModulator([w], [v], method="ogm_ge", ge_noise="paper")


def test_official_noise_unchanged():
    """The default GE (official) draws exactly the numbers of the code before ge_noise existed."""
    torch.manual_seed(0)
    w, v = nn.Parameter(torch.zeros(8, 3, 3, 3)), nn.Parameter(torch.zeros(4, 3, 3, 3))
    gw, gv = torch.randn(w.shape), torch.randn(v.shape)
    w.grad, v.grad = gw.clone(), gv.clone()
    state = _state(2.0)
    GradientModulator([w], [v], method="ogm_ge", generator=torch.Generator().manual_seed(5)).apply(state, 0)
    gen = torch.Generator().manual_seed(5)  # the former apply(), written out
    expect = []
    for g, k in ((gw, state.k_a), (gv, state.k_v)):
        sigma = g.std() + 1e-8
        expect.append(g * k + torch.randn(g.shape, generator=gen) * sigma)
    assert torch.equal(w.grad, expect[0]) and torch.equal(v.grad, expect[1])


# numbers of a smoke run made with the code before `ge_noise` existed (commit ea2b711, one thread): the default
# is unchanged. Per CPU model and instruction set torch uses on it (`results.cpu_capability`): other processors
# pick other kernels, whose last bits send SGD elsewhere (`rerun.py`); one model name covers both an AVX2-only and
# an AVX-512 "AMD EPYC". To add a machine, run commit ea2b711's `fit` on it (2026-12-04: the AVX-512 EPYC's).
BEFORE = {
    ("AMD EPYC", "AVX2"): {
        "ogm_ge": ("a138ee9f1f6f6893", [0.13725490868091583, 0.1568627506494522]),
        "ge": ("0591b0a22ec33374", [0.09803921729326248, 0.05882352963089943]),
    },
    ("AMD EPYC", "AVX512"): {
        "ogm_ge": ("a138ee9f1f6f6893", [0.13725490868091583, 0.1568627506494522]),
        "ge": ("0591b0a22ec33374", [0.11764705926179886, 0.1568627506494522]),
    },
    ("Intel(R) Xeon(R) Processor", "AVX512"): {
        "ogm_ge": ("a138ee9f1f6f6893", [0.09803921729326248, 0.09803921729326248]),
        "ge": ("0591b0a22ec33374", [0.13725490868091583, 0.1568627506494522]),
    },
}


@pytest.mark.parametrize("method", ["ogm_ge", "ge"])
def test_default_smoke_run_as_before(method, tmp_path, one_thread):
    from ogm_lib.method.results import _cpu_name, cpu_capability
    from ogm_lib.method.train import fit

    cfg = make_config("smoke", dataset="synthetic", method=method, quiet=True)
    machine = (_cpu_name(), cpu_capability())
    if machine not in BEFORE:
        pytest.skip(f"no numbers of commit ea2b711 for this CPU ({machine}); run it here to add them")
    key, test_acc = BEFORE[machine][method]
    assert cfg.key() == key and cfg.replace(ge_noise="official").key() == key
    result = fit(cfg, tmp_path)
    assert [e["test_acc"] for e in result.epochs] == pytest.approx(test_acc, abs=1e-6)


@pytest.mark.parametrize(
    "method, ge_noise", [("ogm_ge", "sgd"), ("ogm_ge", "sgd_k"), ("ogm_ge", "sgd_restore"), ("ge", "sgd")]
)
def test_variants_train(method, ge_noise, tmp_path, one_thread):
    from ogm_lib.method.train import fit

    cfg = make_config(
        "smoke", dataset="synthetic", method=method, ge_noise=ge_noise, quiet=True, epochs=1, modulation_end=0
    )
    assert cfg.key() != cfg.replace(ge_noise="official").key()
    result = fit(cfg, tmp_path)
    assert math.isfinite(result.epochs[-1]["train_loss"]) and result.config["ge_noise"] == ge_noise


def test_ge_noise_config_checks():
    with pytest.raises(ValueError, match="valid choices: official, sgd, sgd_k, sgd_restore"):
        make_config("smoke", method="ogm_ge", ge_noise="paper")
    with pytest.raises(ValueError, match="needs method 'ogm_ge' or 'ge'"):
        make_config("smoke", method="ogm", ge_noise="sgd")
    with pytest.raises(ValueError, match="adds no noise"):
        make_config("smoke", method="ge", ge_noise="sgd_restore")
    with pytest.raises(ValueError, match="is 'sgd'"):
        make_config("smoke", method="ge", ge_noise="sgd_k")
    with pytest.raises(ValueError, match="single-process"):
        make_config("smoke", method="ogm_ge", ge_noise="sgd", world_size=2)
    # the default stays out of the key: a config dict without the field (a result file written before it
    # existed) has the same key
    from ogm_lib.method.config import config_key

    cfg = make_config("cpu", method="ogm_ge")
    d = cfg.to_dict()
    d.pop("ge_noise")
    assert config_key(d) == cfg.key()


def test_cli_lists_ge_noise():
    from ogm_lib.__main__ import build_parser

    text = build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    assert "--ge-noise" in text and "sgd_restore" in text


def test_temperature_factors():
    from ogm_lib.method.temperature import temperature_factor, temperature_table

    assert temperature_factor(0.1, "sgd") == pytest.approx((1 + 0.01) / 0.1)
    assert temperature_factor(0.03, "sgd") == pytest.approx(33.363, abs=1e-3)
    assert temperature_factor(0.2, "sgd") == pytest.approx(5.2)
    assert temperature_factor(0.1, "ogm") == pytest.approx(0.1)
    assert temperature_factor(0.1, "sgd_k") == pytest.approx(0.2)
    assert temperature_factor(0.1, "official", official_ratio=0.8) == pytest.approx((0.01 + 0.8) / 0.1)
    assert temperature_factor([0.03, 0.2, 1.0], "sgd_restore") == pytest.approx([1, 1, 1])
    assert temperature_factor(1.0, "sgd") == pytest.approx(2.0)  # the non-dominant encoder
    table = temperature_table((0.03, 0.2))
    assert list(table.index) == [0.03, 0.2] and table.shape == (2, 5)
    with pytest.raises(ValueError, match="0 < k <= 1"):
        temperature_factor(0.0)
    with pytest.raises(ValueError, match="valid choices"):
        temperature_factor(0.5, "paper")


def test_temperature_matches_a_simulated_sde():
    """On a quadratic L = x^2 / 2 with additive gradient noise, the stationary variance of x is set by the
    temperature: plain SGD at lr eta gives eta * s2 / (2 - eta); OGM-GE with k and noise s h behaves as
    SGD at lr k eta with temperature (k^2 + s^2) / k times SGD's."""
    from ogm_lib.method.temperature import noise_scale_squared, temperature_factor

    gen = torch.Generator().manual_seed(0)
    eta, k, chains, steps = 0.05, 0.2, 20000, 2000
    variances = {}
    for form in ("ogm", "sgd", "sgd_k", "sgd_restore"):
        s = math.sqrt(float(noise_scale_squared(k, form)))
        x = torch.zeros(chains, dtype=torch.float64)
        for _ in range(steps):
            xi = torch.randn(chains, generator=gen, dtype=torch.float64)
            h = torch.randn(chains, generator=gen, dtype=torch.float64)
            x = x - eta * (k * (x + xi) + s * h)
        variances[form] = float(x.var())
    # stationary variance of x <- x - a x - eta sqrt(k^2 + s^2) z, a = k eta: eta^2 (k^2 + s^2) / (a (2 - a))
    # ~ eta T / 2 with T = temperature_factor * plain SGD's; compare ratios to the plain-SGD value eta / (2 - eta)
    plain = eta / (2 - eta)
    for form, var in variances.items():
        a = k * eta
        exact = eta**2 * (k**2 + float(noise_scale_squared(k, form))) / (a * (2 - a))
        assert var == pytest.approx(exact, rel=0.06), form
        assert var / plain == pytest.approx(temperature_factor(k, form), rel=0.07), form


def test_ge_variant_rows():
    from ogm_lib.recipe.ge_variants import GE_VARIANTS, ge_variant_rows

    base = make_config("smoke", dataset="synthetic", alpha=0.8)
    rows = ge_variant_rows(base, alpha=0.4)
    assert list(rows)[0] == "Joint training" and len(rows) == len(GE_VARIANTS) + 1
    assert rows["OGM-GE (official)"].key() == base.replace(method="ogm_ge", alpha=0.4).key()
    assert rows["OGM-GE (SGD temperature)"].ge_noise == "sgd_restore" and rows["GE alone (official)"].alpha == 0.8
    assert len({c.key() for c in rows.values()}) == len(rows)
    with pytest.raises(ValueError, match="plain joint config"):
        ge_variant_rows(base.replace(method="ogm"))
