r"""Measuring SGD gradient noise on our model: the argument of the paper's Sec. 3.3, in numbers.

The mini-batch gradient is an unbiased estimate of the full gradient with covariance
(Jastrzebski et al. 2017; paper Eq. 12)

.. math:: \Sigma_b \approx \frac{1}{b}\Big[\frac{1}{N}\sum_i g_i g_i^\top - \bar g \bar g^\top\Big]
          = \frac{1}{b}\,\Sigma_1,

so an SGD step :math:`-\eta\, g_B` carries noise of covariance :math:`\eta^2 \Sigma_1 / b`; in the SDE view
its "temperature" is :math:`\eta / b`. We need only traces (total variance), which are sums of
per-coordinate variances, so no D x D matrix is ever formed:

- `per_sample_gradients`: one gradient per sample (torch.func: vmap over grad), BatchNorm in eval mode
  (running statistics), so each sample's gradient depends on that sample alone;
- `minibatch_noise_trace`: trace of the covariance of the mini-batch mean gradient, measured by drawing
  many mini-batches of size b from a pool of per-sample gradients (it should fall as 1/b);
- under OGM the step uses :math:`k\,g_B`, so the covariance becomes :math:`k^2\Sigma_b`;
- GE (paper) adds :math:`h \sim N(0, \Sigma_b)`: total :math:`(k^2 + 1)\Sigma_b`;
- GE (official code) adds isotropic noise per tensor with :math:`\sigma_t` = std of the unscaled mini-batch
  gradient tensor: its trace is :math:`\sum_t n_t \sigma_t^2` (`official_ge_noise_trace`), a quantity of
  the gradient itself (its spread across coordinates), not of its sampling noise;
- GE with the paper's noise (`ge_noise="sgd"`, `modulation.sgd_noise`) estimates :math:`h` from the two
  halves of the batch: `sgd_ge_noise_trace` draws it from the pool, to be compared with
  :math:`\mathrm{tr}\,\Sigma_1/b` (no finite-pool factor: the estimator uses the within-batch spread);
- Theorem 1's learning-rate half, on the real update: `update_noise_traces` draws mini-batches from the
  training data, takes one plain SGD step :math:`\Delta\theta = -\eta\,g_B` from the trained weights per
  draw and learning rate, and measures the trace of :math:`\mathrm{Cov}(\Delta\theta)`; the prediction
  is :math:`\eta^2\,\mathrm{tr}\,\Sigma_1/b` from the pool's per-sample gradients.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap

from .modulation import ge_sigma, half_size, select_parameters, sgd_noise, sgd_noise_scale


def per_sample_gradients(model, audio, visual, labels, modality: str = "audio", modulate: str = "conv"):
    """{name: (N, *shape)} per-sample gradients of the fused cross-entropy w.r.t. one encoder's tensors."""
    model.eval()
    encoder = model.audio_encoder if modality == "audio" else model.visual_encoder
    prefix = "audio_encoder." if modality == "audio" else "visual_encoder."
    chosen = {id(p) for p in select_parameters(encoder.parameters(), modulate)}
    params = {n: p.detach() for n, p in model.named_parameters() if id(p) in chosen}
    buffers = {n: b.detach() for n, b in model.named_buffers()}
    others = {n: p.detach() for n, p in model.named_parameters() if n not in params}

    def loss_one(p, a, v, y):
        out = functional_call(model, ({**others, **p}, buffers), (a[None], v[None]))
        return F.cross_entropy(out.logits, y[None])

    grads = vmap(grad(loss_one), in_dims=(None, 0, 0, 0))(params, audio, visual, labels)
    assert all(n.startswith(prefix) for n in grads)
    return grads


def flatten(per_sample: dict) -> torch.Tensor:
    """(N, D): per-sample gradients with all tensors concatenated."""
    return torch.cat([g.reshape(g.shape[0], -1) for g in per_sample.values()], dim=1)


def noise_trace_formula(flat: torch.Tensor, batch_size: int, population: int | None = None) -> float:
    """trace(Sigma_1) / b from per-sample gradients (the right side of Eq. 12), with the finite-population
    factor (N - b) / (N - 1) of drawing b of N samples without replacement: N = the pool's size by
    default, `population` when the batches come from a larger set (the training split), 0: no factor."""
    n = flat.shape[0] if population is None else population
    factor = (n - batch_size) / (n - 1) if n else 1.0
    return float(flat.var(dim=0, unbiased=True).sum() / batch_size * factor)


def minibatch_noise_trace(
    flat: torch.Tensor, batch_size: int, draws: int = 200, scale: float = 1.0, seed: int = 0
) -> float:
    """Measured trace of Cov(scale * mean of a random mini-batch of `batch_size` per-sample gradients)."""
    gen = torch.Generator().manual_seed(seed)
    n = flat.shape[0]
    means = torch.stack([flat[torch.randperm(n, generator=gen)[:batch_size]].mean(0) for _ in range(draws)])
    return float((scale * means).var(dim=0, unbiased=True).sum())


def sgd_ge_noise_trace(
    flat: torch.Tensor, batch_size: int, draws: int = 200, k: float = 1.0, ge_noise: str = "sgd", seed: int = 0
) -> float:
    """Measured trace of Cov(k g_B + s h) over random mini-batches of the pool: the dominant encoder's step
    noise under OGM-GE with the paper's noise, h computed as training computes it (`modulation.sgd_noise`
    on the batch's first half and the whole batch), s from `ge_noise` ("sgd": 1, "sgd_k": k,
    "sgd_restore": sqrt(k (1 - k))). k = 1 with "sgd": GE alone. Prediction: (k^2 + s^2) tr(Sigma_1) / b."""
    gen = torch.Generator().manual_seed(seed)
    n, m = flat.shape[0], half_size(batch_size)
    s = sgd_noise_scale(torch.tensor(k, dtype=flat.dtype), ge_noise)
    steps = []
    for _ in range(draws):
        batch = flat[torch.randperm(n, generator=gen)[:batch_size]]  # a batch, in random order
        g_b, g_h = batch.mean(0), batch[:m].mean(0)  # g_B and its first half's g_H
        (h,) = sgd_noise([g_h], [g_b], m, batch_size)  # h = sqrt(m / (b - m)) (g_H - g_B)
        steps.append(k * g_b + s * h)
    return float(torch.stack(steps).var(dim=0, unbiased=True).sum())


def update_noise_traces(
    model, dataset, lrs, batch_sizes, draws: int = 100, modulate: str = "conv", seed: int = 0
) -> list[dict]:
    """Trace of Cov(Delta theta) of one plain SGD step Delta theta = -lr g_B, per encoder, learning rate and
    batch size, measured on the real model: each draw takes `batch_size` distinct training samples, runs the
    forward and backward pass (BatchNorm in eval mode, as `per_sample_gradients`), steps a plain SGD
    optimiser (no momentum, no weight decay) from the trained weights at each lr, records theta' - theta
    and puts the weights back. The covariance is accumulated on the fly (sums in float64), so memory does
    not grow with `draws`. Rows: {"encoder", "lr", "batch size", "measured"}."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    groups = {
        "audio": select_parameters(model.audio_encoder.parameters(), modulate),
        "visual": select_parameters(model.visual_encoder.parameters(), modulate),
    }
    start = {name: [p.detach().clone() for p in params] for name, params in groups.items()}
    everything = [p for params in groups.values() for p in params]
    sums = {}  # (encoder, lr, b) -> [sum of delta, sum of delta^2]
    for b in batch_sizes:
        for _ in range(draws):
            audio, visual, labels = dataset.batch(torch.randperm(len(dataset), generator=gen)[:b])
            model.zero_grad(set_to_none=True)
            F.cross_entropy(model(audio, visual).logits, labels).backward()
            for lr in lrs:
                torch.optim.SGD(everything, lr=lr, momentum=0.0, weight_decay=0.0).step()  # the real step
                with torch.no_grad():
                    for name, params in groups.items():
                        delta = torch.cat([(p - p0).reshape(-1) for p, p0 in zip(params, start[name])]).double()
                        acc = sums.setdefault((name, lr, b), [torch.zeros_like(delta), torch.zeros_like(delta)])
                        acc[0] += delta
                        acc[1] += delta**2
                        for p, p0 in zip(params, start[name]):
                            p.copy_(p0)  # back to the weights
    model.zero_grad(set_to_none=True)
    return [
        {"encoder": name, "lr": lr, "batch size": b, "measured": float(((sq - total**2 / draws) / (draws - 1)).sum())}
        for (name, lr, b), (total, sq) in sums.items()
    ]


def official_ge_noise_trace(per_sample: dict, batch_size: int, seed: int = 0) -> float:
    """Trace of the official GE noise for one mini-batch: sum over tensors of numel * std(grad)^2."""
    gen = torch.Generator().manual_seed(seed)
    n = next(iter(per_sample.values())).shape[0]
    idx = torch.randperm(n, generator=gen)[:batch_size]
    batch_grads = [g[idx].mean(0) for g in per_sample.values()]  # the mini-batch gradient, per tensor
    return float(sum(g.numel() * ge_sigma(g) ** 2 for g in batch_grads))


def compare_to_theory(ratios: dict[str, float], tolerance: float = 0.1) -> str:
    """Words for each encoder's "official GE noise / paper GE noise" ratio, e.g. {"audio": 1.02, "visual": 0.4}
    -> "about equal to the theory's for the audio encoder and smaller than the theory's for the visual
    encoder". A ratio within `tolerance` of 1 counts as about equal."""

    def word(r: float) -> str:
        return "smaller than" if r < 1 - tolerance else "larger than" if r > 1 + tolerance else "about equal to"

    words = {name: word(r) for name, r in ratios.items()}
    if len(set(words.values())) == 1:
        return f"{next(iter(words.values()))} the theory's for every encoder"
    parts = [f"{w} the theory's for the {name} encoder" for name, w in words.items()]
    return ", ".join(parts[:-1]) + " and " + parts[-1]
