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
   encoders (also the one with k = 1). That is our default (`ge_noise="official"`); notebook 03 measures
   how the two differ. `ge_noise="sgd"` adds noise with the paper's covariance instead, estimated from the
   two halves of the mini-batch (`sgd_noise`, one extra backward pass); `"sgd_k"` scales it by k, and
   `"sgd_restore"` by :math:`\sqrt{k(1-k)}`, the one scale that gives the dominant encoder plain SGD's
   temperature per unit of effective learning rate (`temperature.py`, notebook 03).

Which tensors are modulated: by default the 4-D conv weights of the two encoders (as official; BN and the
fusion/classifier untouched); `modulate="all"` takes every encoder parameter. Modulation happens only in
epochs `start..end` inclusive (official default 0..50, 0-indexed).

Everything here is model-agnostic: `GradientModulator` takes two parameter groups, and `compute` takes
the per-modality logits and labels, so it drops into any training loop between `backward()` and
`optimizer.step()`; its `backward` is that loop's backward pass, keeping what the "sgd" GE noises need of
it. It is vectorised over the batch and keeps every quantity on the device: no `.item()` and no Python
branching on tensor values inside a step.
"""
from __future__ import annotations

import math
from contextlib import AbstractContextManager, nullcontext
from typing import Callable, Iterable, NamedTuple, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .config import GE_NOISES

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


def at_least_fp32(t: torch.Tensor) -> torch.Tensor:
    """bf16/fp16 -> fp32; fp32 and fp64 unchanged (a no-op without autocast)."""
    return t.to(torch.promote_types(t.dtype, torch.float32))


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


class HalfBatch(NamedTuple):
    """What the "sgd" GE noises need of the step's backward pass (`GradientModulator.backward`).

    gradient: parameters -> the gradient of the fused loss averaged over the batch's first `size` samples,
        through the forward pass already made (`torch.autograd.grad` on a retained graph);
    size: m, the samples in that part (`half_size(batch_size)`; 0: the batch cannot be split, no noise);
    batch_size: b, the samples of the whole batch, whose mean-loss gradient is in `.grad`.
    """
    gradient: Callable[[Sequence[nn.Parameter]], Sequence[torch.Tensor]]
    size: int
    batch_size: int


def half_size(batch_size: int) -> int:
    """m = floor(b / 2) samples in the first part; 0 when b < 2 (a batch of one has no spread to measure)."""
    return batch_size // 2 if batch_size >= 2 else 0


def sgd_noise(half_grads: Sequence[torch.Tensor], batch_grads: Sequence[torch.Tensor], m: int,
              b: int) -> list[torch.Tensor]:
    r"""The paper's GE noise, one draw per step: zero mean and covariance :math:`\Sigma_{sgd} = \Sigma_1/b`,
    the covariance of the mini-batch gradient itself, from the batch the step already has.

    Let the batch :math:`B` (b samples, in random order) be cut into its first :math:`m` samples :math:`H`
    and the rest :math:`H'`, with mean-loss gradients :math:`g_H, g_{H'}` and :math:`g_B`:

    .. math:: h = \sqrt{\tfrac{m}{b - m}}\,(g_H - g_B)

    * **Zero mean, uncorrelated with** :math:`g_B`. Given the batch, :math:`H` is a random subset of it, so
      :math:`E[g_H \mid B] = g_B`: :math:`E[h \mid B] = 0`, hence :math:`E[h] = 0` and
      :math:`\mathrm{Cov}(h, g_B) = 0`. This holds exactly, even with BatchNorm coupling the samples
      (both gradients come from the same forward pass, so the batch statistics are the same).
      The step's total noise is then :math:`k^2\Sigma_b + \mathrm{Cov}(h)`, as the paper adds it.
    * **Covariance** :math:`\Sigma_1 / b`. Given the batch, :math:`g_H` is the mean of :math:`m` of the
      batch's :math:`b` per-sample gradients drawn without replacement:
      :math:`\mathrm{Cov}(g_H - g_B \mid B) = \frac{S_B}{m}\frac{b - m}{b}`, with :math:`S_B` the
      within-batch sample covariance (divisor :math:`b - 1`). Times :math:`\frac{m}{b - m}`:
      :math:`\mathrm{Cov}(h \mid B) = S_B / b`, and :math:`E[S_B] = \Sigma_1` for independent samples:
      :math:`\mathrm{Cov}(h) = \Sigma_1 / b`, the mini-batch noise of Eq. 12, for any :math:`m`. For even
      :math:`b` and :math:`m = b/2`: :math:`h = g_H - g_B = (g_H - g_{H'})/2`, covariance
      :math:`\frac14(\frac{2\Sigma_1}{b} + \frac{2\Sigma_1}{b}) = \Sigma_1/b`.
    * **Not Gaussian**: it has the paper's first two moments (as SGD's own noise, which is not Gaussian
      either). With k = 1 (GE alone) and m = b/2, :math:`g_B + h = g_H`: GE alone with this noise is an SGD
      step on half the batch, whose noise is :math:`2\Sigma_1/b`, the paper's :math:`(1 + 1)\Sigma_b`.
    * **Cost**: one more backward pass of the fused loss on the first part, through the graph the step
      already built (no extra forward, no BatchNorm statistics updated twice), and only for the modulated
      tensors (`torch.autograd.grad` skips the weight gradients of everything else); memory: the graph is
      kept until then. Per-sample gradients would give :math:`\Sigma_1` itself but cost b times the
      memory of one gradient.
    """
    c = math.sqrt(m / (b - m))                                   # sqrt(m / (b - m))
    h = torch._foreach_sub(list(half_grads), list(batch_grads))  # g_H - g_B
    torch._foreach_mul_(h, c)                                    # h = sqrt(m / (b - m)) (g_H - g_B)
    return h


def sgd_noise_scale(k: torch.Tensor, ge_noise: str) -> torch.Tensor | float:
    r"""What multiplies :math:`h` (covariance :math:`\Sigma_b`) for each GE noise. The dominant encoder's
    step is :math:`k g_B + s h`, noise covariance :math:`(k^2 + s^2)\Sigma_b`; per unit of its effective
    learning rate :math:`k\eta` its SGD temperature is :math:`(k^2 + s^2)/k` times plain SGD's:

    - "sgd" (paper): :math:`s = 1`, temperature :math:`(1 + k^2)/k`;
    - "sgd_k": :math:`s = k`, temperature :math:`2k`;
    - "sgd_restore": :math:`s = \sqrt{k(1 - k)}`, temperature exactly 1 (0 noise where k = 1).
    """
    if ge_noise == "sgd":
        return 1.0
    if ge_noise == "sgd_k":
        return k
    if ge_noise == "sgd_restore":
        return torch.sqrt((k * (1 - k)).clamp_min(0))
    raise ValueError(f"no sgd noise scale for ge_noise {ge_noise!r}; valid: sgd, sgd_k, sgd_restore")


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
    ge_noise: the GE noise, "official" (default) or "sgd" / "sgd_k" / "sgd_restore" (`sgd_noise`; these
        need `apply(..., half=HalfBatch(...))`, which `backward` returns).
    reduce_scores: optional function applied to the stacked (score_a, score_v) before the ratio, e.g. an
        all-reduce sum across data-parallel ranks so every rank computes the same k.
    generator: the noise source; give every data-parallel rank the same seed so the noise is identical.
    """

    def __init__(self, audio_params: Iterable[nn.Parameter], visual_params: Iterable[nn.Parameter],
                 method: str = "ogm_ge", alpha: float = 0.8, modulate: str = "conv",
                 start_epoch: int = 0, end_epoch: int = 50,
                 reduce_scores: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 generator: torch.Generator | None = None, ge_noise: str = "official"):
        if method not in MODULATION_METHODS:
            raise ValueError(f"unknown modulation method {method!r}; valid choices: "
                             f"{', '.join(MODULATION_METHODS)}")
        if ge_noise not in GE_NOISES:
            raise ValueError(f"unknown ge_noise {ge_noise!r}; valid choices: {', '.join(GE_NOISES)}")
        self.method, self.alpha, self.ge_noise = method, alpha, ge_noise
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

    def needs_half_batch(self, epoch: int) -> bool:
        """Whether `apply` at this epoch needs a `HalfBatch` (which `backward` returns, keeping the graph)."""
        return self.noise and self.ge_noise != "official" and self.active(epoch)

    def backward(self, total: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor, epoch: int,
                 autocast: Callable[[], AbstractContextManager] = nullcontext) -> HalfBatch | None:
        """The step's backward pass, g = dL/dtheta into `.grad`; returns what `apply` needs of it.

        total: the loss to back-propagate; logits, labels: the batch's fused logits and labels. The "sgd" GE
        noises (`needs_half_batch`) need the fused cross-entropy's gradient on the batch's first m samples
        (`sgd_noise`): its loss is built from `logits` under `autocast` (the step's own, as its loss), and
        the graph is kept through this backward for that one extra pass (only when m > 0). Returns that
        `HalfBatch`, or None when `apply` needs none."""
        half = None
        if self.needs_half_batch(epoch):
            m = half_size(len(labels))
            with autocast():
                half_loss = F.cross_entropy(logits[:m], labels[:m]) if m else None
            half = HalfBatch(lambda params: torch.autograd.grad(half_loss, params), m, len(labels))
        total.backward(retain_graph=half is not None and half.size > 0)    # g = dL/dtheta
        return half

    def compute(self, logits_a: torch.Tensor, logits_v: torch.Tensor, labels: torch.Tensor) -> ModulationState:
        """Scores, ratios and coefficients of one mini-batch (Eq. 7-10). Logged for every method.

        The scores come from at least fp32 logits (bf16 ones under autocast are cast): rho is a ratio of sums
        over the batch."""
        with torch.no_grad():
            logits_a, logits_v = at_least_fp32(logits_a), at_least_fp32(logits_v)
            scores = torch.stack(modality_scores(logits_a, logits_v, labels))
            if self.reduce_scores is not None:
                scores = self.reduce_scores(scores)
            score_a, score_v = scores[0], scores[1]
            rho_a, rho_v = discrepancy_ratios(score_a, score_v)
            k_a, k_v = coefficient(rho_a, self.alpha), coefficient(rho_v, self.alpha)
        return ModulationState(score_a, score_v, rho_a, rho_v, k_a, k_v)

    @torch.no_grad()
    def apply(self, state: ModulationState, epoch: int, half: HalfBatch | None = None) -> None:
        """Modify `.grad` in place (Eq. 11 and 13). Call after backward(), before optimizer.step().

        half: the first part's gradient, needed by the "sgd" GE noises (`needs_half_batch`)."""
        if not self.active(epoch):
            return
        official = self.noise and self.ge_noise == "official"
        half_grads = None
        if self.noise and not official:
            if half is None:
                raise ValueError(f"ge_noise {self.ge_noise!r} needs the batch's half gradient: "
                                 "apply(state, epoch, half=HalfBatch(...))")
            if half.size > 0:             # one backward for both encoders' modulated tensors
                params = [p for group in (self.audio_params, self.visual_params) for p in group
                          if p.grad is not None]
                with torch.enable_grad():
                    half_grads = dict(zip(map(id, params), half.gradient(params)))
        for params, k in ((self.audio_params, state.k_a), (self.visual_params, state.k_v)):
            params = [p for p in params if p.grad is not None]
            grads = [p.grad for p in params]
            if not grads:
                continue
            if official:
                # GE, official form: sigma = std of the unscaled gradient, measured before scaling
                sigmas = [ge_sigma(g) for g in grads]
            elif half_grads is not None:
                # GE, paper's form: h from the UNSCALED g_B, covariance Sigma_b (`sgd_noise`), times s
                noise = sgd_noise([half_grads[id(p)] for p in params], grads, half.size, half.batch_size)
                s = sgd_noise_scale(k if self.scale else torch.ones_like(k), self.ge_noise)
                if not (isinstance(s, float) and s == 1.0):
                    torch._foreach_mul_(noise, s)                  # s h: s = 1, k or sqrt(k (1 - k))
            if self.scale:
                torch._foreach_mul_(grads, k)                      # g <- k * g   (OGM, Eq. 11)
            if official:
                for g, sigma in zip(grads, sigmas):                # g <- g + N(0, sigma^2)   (GE)
                    g.add_(torch.randn(g.shape, generator=self.generator, device=g.device,
                                       dtype=g.dtype) * sigma)
            elif half_grads is not None:
                torch._foreach_add_(grads, noise)                  # g <- k g + s h   (GE, paper)

    def step(self, logits_a, logits_v, labels, epoch: int, half: HalfBatch | None = None) -> ModulationState:
        """compute() then apply(): the whole of OGM-GE for a loop that has already called backward()
        (`half`: what `backward` returned, for the "sgd" GE noises)."""
        state = self.compute(logits_a, logits_v, labels)
        self.apply(state, epoch, half)
        return state
