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
  the gradient itself (its spread across coordinates), not of its sampling noise.
"""
from __future__ import annotations


import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap

from .config import RunConfig
from .models import build_model
from .modulation import ge_sigma, select_parameters


def load_trained_model(config: RunConfig, num_classes: int, results_dir=None):
    """The model at the end of a finished run, from its checkpoint (`rerun.checkpoint_of`: retrained and
    checked against its committed result when the results folder has no checkpoint)."""
    import warnings

    from .fileio import set_aside
    from .rerun import checkpoint_of
    path = checkpoint_of(config, results_dir)
    try:
        model = build_model(config, num_classes)
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=False)["model"])
    except Exception as err:     # a damaged checkpoint: set aside, retrained (and checked) by checkpoint_of
        aside = set_aside(path)
        warnings.warn(f"damaged checkpoint {path}: unreadable ({type(err).__name__}: {str(err).splitlines()[0]}); "
                      f"set aside as {aside.name}; retraining run {config.key()} for its weights",
                      RuntimeWarning, stacklevel=2)
        path = checkpoint_of(config, results_dir)
        model = build_model(config, num_classes)
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=False)["model"])
    return model.eval()


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


def noise_trace_formula(flat: torch.Tensor, batch_size: int) -> float:
    """trace(Sigma_1) / b from per-sample gradients (the right side of Eq. 12), with the finite-population
    factor (N - b) / (N - 1) of drawing b of the N pooled samples without replacement."""
    n = flat.shape[0]
    return float(flat.var(dim=0, unbiased=True).sum() / batch_size * (n - batch_size) / (n - 1))


def minibatch_noise_trace(flat: torch.Tensor, batch_size: int, draws: int = 200, scale: float = 1.0,
                          seed: int = 0) -> float:
    """Measured trace of Cov(scale * mean of a random mini-batch of `batch_size` per-sample gradients)."""
    gen = torch.Generator().manual_seed(seed)
    n = flat.shape[0]
    means = torch.stack([flat[torch.randperm(n, generator=gen)[:batch_size]].mean(0) for _ in range(draws)])
    return float((scale * means).var(dim=0, unbiased=True).sum())


def official_ge_noise_trace(per_sample: dict, batch_size: int, seed: int = 0) -> float:
    """Trace of the official GE noise for one mini-batch: sum over tensors of numel * std(grad)^2."""
    gen = torch.Generator().manual_seed(seed)
    n = next(iter(per_sample.values())).shape[0]
    idx = torch.randperm(n, generator=gen)[:batch_size]
    batch_grads = [g[idx].mean(0) for g in per_sample.values()]   # the mini-batch gradient, per tensor
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
