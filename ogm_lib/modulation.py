r"""On-the-fly Gradient Modulation with Generalisation Enhancement (OGM-GE), the paper in one file.

Peng et al., CVPR 2022, Sec. 3. Each training step of a two-encoder model:

1. **Scores** (Eq. 7-8). For sample i and modality u, the probability the unimodal logits give to the true
   label: :math:`s_i^u = \mathrm{softmax}(W^u \phi^u(x_i^u) + b/2)_{y_i}`, summed over the mini-batch.
2. **Discrepancy ratio** (Eq. 9). :math:`\rho^v = \sum_i s_i^v / \sum_i s_i^a`, :math:`\rho^a = 1/\rho^v`.
   The modality with :math:`\rho > 1` is the dominant one on this batch.
3. **Coefficient** (Eq. 10). :math:`k^u = 1 - \tanh(\alpha \rho^u)` if :math:`\rho^u > 1`, else 1.
   Only the dominant modality is slowed. Note the jump at :math:`\rho = 1`: from 1 to at most
   :math:`1 - \tanh(\alpha)`.
   At exactly :math:`\rho^a = \rho^v = 1` Eq. 10, which we follow, slows neither modality. The official
   code tests only :math:`\rho^v > 1` and computes :math:`k^a = 1 - \tanh(\alpha \rho^a)` in its
   else-branch, so at exactly :math:`\rho = 1` it still slows the audio encoder (to
   :math:`1 - \tanh(\alpha)`). The two agree everywhere else.
4. **OGM** (Eq. 11). The dominant encoder's gradient is multiplied by :math:`k^u` before the SGD step.
5. **GE** (Eq. 13). Gaussian noise is added to the modulated gradient to give back the SGD noise that the
   scaling removed: scaling shrinks the gradient-noise covariance to :math:`k^2 \Sigma_{sgd}`, and adding
   :math:`h \sim N(0, \Sigma_{sgd})` brings it to :math:`(k^2 + 1)\Sigma_{sgd}`.

   The paper's :math:`\Sigma_{sgd}` is the full covariance of per-sample gradients. The official code,
   which produced the paper's numbers, instead adds isotropic noise per parameter tensor,
   :math:`N(0, \sigma^2 I)` with :math:`\sigma` = the std of the tensor's UNSCALED gradient (+1e-8), to both
   encoders (also the one with k = 1). That is our default; notebook 03 measures how the two differ.

Which tensors are modulated: by default the 4-D conv weights of the two encoders (as official; BN and the
fusion/classifier untouched); `modulate="all"` takes every encoder parameter. Modulation happens only in
epochs `start..end` inclusive (official default 0..50, 0-indexed).

Everything here is model-agnostic: `GradientModulator` takes two parameter groups, and `compute` takes
the per-modality logits and labels, so it drops into any training loop between `backward()` and
`optimizer.step()`. It is vectorised over the batch and keeps every quantity on the device: no `.item()`
and no Python branching on tensor values inside a step.
"""
from __future__ import annotations

from typing import Callable, Iterable, NamedTuple

import torch
from torch import nn

MODULATION_METHODS = ("normal", "ogm", "ogm_ge", "ge")

#: official constant added to the gradient's std before drawing noise
NOISE_EPS = 1e-8


class ModulationState(NamedTuple):
    """One step's modulation quantities, all 0-d tensors on the model's device."""
    score_a: torch.Tensor
    score_v: torch.Tensor
    rho_a: torch.Tensor
    rho_v: torch.Tensor
    k_a: torch.Tensor
    k_v: torch.Tensor


def modality_scores(logits_a: torch.Tensor, logits_v: torch.Tensor, labels: torch.Tensor):
    """Eq. 7-8: sum over the batch of each modality's softmax probability of the true label."""
    idx = labels[:, None]
    score_a = torch.softmax(logits_a, dim=1).gather(1, idx).sum()
    score_v = torch.softmax(logits_v, dim=1).gather(1, idx).sum()
    return score_a, score_v


def discrepancy_ratios(score_a: torch.Tensor, score_v: torch.Tensor):
    """Eq. 9: rho^a = sum s^a / sum s^v and rho^v = 1 / rho^a."""
    rho_a = score_a / score_v
    return rho_a, 1.0 / rho_a


def coefficient(rho: torch.Tensor, alpha: float) -> torch.Tensor:
    """Eq. 10: k = 1 - tanh(alpha * rho) where rho > 1, else 1 (elementwise)."""
    return torch.where(rho > 1, 1 - torch.tanh(alpha * rho), torch.ones_like(rho))


def ge_sigma(grad: torch.Tensor) -> torch.Tensor:
    """GE noise std for one tensor, official form: the std of its UNSCALED gradient, plus NOISE_EPS."""
    return grad.std() + NOISE_EPS


def select_parameters(params: Iterable[nn.Parameter], modulate: str = "conv") -> list[nn.Parameter]:
    """The tensors OGM scales: 4-D conv weights ("conv", official) or every parameter ("all")."""
    params = [p for p in params if p.requires_grad]
    if modulate == "conv":
        return [p for p in params if p.dim() == 4]
    if modulate == "all":
        return params
    raise ValueError(f"unknown modulate {modulate!r}; valid choices: conv, all")


class GradientModulator:
    """Scales (OGM) and perturbs (GE) two encoders' gradients after `backward()`.

    method: "normal" (nothing), "ogm" (scaling), "ogm_ge" (scaling + noise), "ge" (noise only, k = 1).
    reduce_scores: optional function applied to the stacked (score_a, score_v) before the ratio, e.g. an
        all-reduce sum across data-parallel ranks so every rank computes the same k.
    generator: the noise source; give every data-parallel rank the same seed so the noise is identical.
    """

    def __init__(self, audio_params: Iterable[nn.Parameter], visual_params: Iterable[nn.Parameter],
                 method: str = "ogm_ge", alpha: float = 0.8, modulate: str = "conv",
                 start_epoch: int = 0, end_epoch: int = 50,
                 reduce_scores: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 generator: torch.Generator | None = None):
        if method not in MODULATION_METHODS:
            raise ValueError(f"unknown modulation method {method!r}; valid choices: "
                             f"{', '.join(MODULATION_METHODS)}")
        self.method, self.alpha = method, alpha
        self.scale = method in ("ogm", "ogm_ge")
        self.noise = method in ("ogm_ge", "ge")
        self.audio_params = select_parameters(audio_params, modulate)
        self.visual_params = select_parameters(visual_params, modulate)
        self.start_epoch, self.end_epoch = start_epoch, end_epoch
        self.reduce_scores = reduce_scores
        self.generator = generator

    def active(self, epoch: int) -> bool:
        """Modulation window, inclusive at both ends (official)."""
        return self.method != "normal" and self.start_epoch <= epoch <= self.end_epoch

    def compute(self, logits_a: torch.Tensor, logits_v: torch.Tensor, labels: torch.Tensor) -> ModulationState:
        """Scores, ratios and coefficients of one mini-batch (Eq. 7-10). Logged for every method."""
        with torch.no_grad():
            scores = torch.stack(modality_scores(logits_a, logits_v, labels))
            if self.reduce_scores is not None:
                scores = self.reduce_scores(scores)
            score_a, score_v = scores[0], scores[1]
            rho_a, rho_v = discrepancy_ratios(score_a, score_v)
            k_a, k_v = coefficient(rho_a, self.alpha), coefficient(rho_v, self.alpha)
        return ModulationState(score_a, score_v, rho_a, rho_v, k_a, k_v)

    @torch.no_grad()
    def apply(self, state: ModulationState, epoch: int) -> None:
        """Modify `.grad` in place (Eq. 11 and 13). Call after backward(), before optimizer.step()."""
        if not self.active(epoch):
            return
        for params, k in ((self.audio_params, state.k_a), (self.visual_params, state.k_v)):
            grads = [p.grad for p in params if p.grad is not None]
            if not grads:
                continue
            if self.noise:
                # GE, official form: sigma = std of the unscaled gradient, measured before scaling
                sigmas = [ge_sigma(g) for g in grads]
            if self.scale:
                torch._foreach_mul_(grads, k)                      # g <- k * g   (OGM, Eq. 11)
            if self.noise:
                for g, sigma in zip(grads, sigmas):                # g <- g + N(0, sigma^2)   (GE)
                    g.add_(torch.randn(g.shape, generator=self.generator, device=g.device,
                                       dtype=g.dtype) * sigma)

    def step(self, logits_a, logits_v, labels, epoch: int) -> ModulationState:
        """compute() then apply(): the whole of OGM-GE for a loop that has already called backward()."""
        state = self.compute(logits_a, logits_v, labels)
        self.apply(state, epoch)
        return state
