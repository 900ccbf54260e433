r"""The comparison methods of the paper's Table 2, and OPM from the authors' journal extension.

A strategy changes what the training loop does around the forward pass and the loss:

- **Modality dropout** (`mdrop_audio` / `mdrop_visual`, Neverova et al.'s ModDrop as used in the paper's
  Table 2): each training sample loses that modality's features (set to zero) with probability `drop_prob`.
- **Gradient blending** (`grad_blend`, Wang, Tran & Feiszli, CVPR 2020): the loss is a weighted sum of the
  fused loss and of unimodal auxiliary heads' losses,
  :math:`L = \sum_m w_m L_m` for m in {fused, audio, visual}. Every `gb_super_epoch` epochs the weights are
  re-estimated from the overfitting-to-generalisation ratio measured on held-out (validation) data:
  with :math:`O = L^{val} - L^{train}` and the change between two measurements :math:`\Delta O`, and the
  generalisation gain :math:`\Delta G = L^{val}_{before} - L^{val}_{now}`,
  :math:`w_m \propto \Delta G_m / \Delta O_m^2`, normalised to sum to 1 (a head that stopped improving on
  held-out data, :math:`\Delta G \le 0`, gets weight 0). Until the first estimate the weights are equal.
- **OPM** (`opm`, On-the-fly Prediction Modulation, Wei, Hu et al., TPAMI 2024): in the forward pass the
  dominant modality u (:math:`\rho^u > 1`) has its features dropped per sample with probability
  :math:`q = q_{base}(1 + \lambda \tanh(\rho^u - 1))`, the whole step being modulated with probability
  `p_exe`. The ratio used is the one measured on the previous mini-batch (our choice: it avoids a second
  forward pass; at the first step nothing is dropped).

OGM, OGM-GE and GE alone are gradient modulations: see `modulation.py`; `make_modulator` builds one for
every two-modality run (for the other methods it only measures rho and k, which Figure 3 plots), and a
`UnimodalModulator` for a one-encoder run (no ratio to measure: NaN logged, gradients untouched).

What the training loop asks of a strategy, and nothing more (the loop names no method):

- `keep_masks(n, device)`: per-sample 0/1 masks on each modality's features for the next global batch;
- `loss(out, labels, model)`: the training loss of the step (the fused cross-entropy, or a blend);
- `observe(state)`: each step's `ModulationState` (rho, k), after backward;
- `eval_losses(out, labels, model)`: extra losses to measure in evaluation, summed over the batch;
- `eval_splits()`: the splits evaluated after each epoch: validation, test, and train with `eval_train` or
  when `end_epoch` reads it (`needs_train_metrics`: gradient blending);
- `end_epoch(epoch, evals)`: the epoch's metrics per split; returns what to add to the epoch's log;
- `state_dict()` / `load_state_dict(state)`: what a checkpoint must keep (besides `generator`).
"""

from __future__ import annotations

import math
from contextlib import AbstractContextManager, nullcontext
from typing import Callable

import torch
import torch.nn.functional as F

from .modulation import MODULATION_METHODS, GradientModulator, ModulationState


class Strategy:
    """Default: plain joint training (cross-entropy on the fused logits)."""

    #: `end_epoch` reads the training split's metrics (the loop then evaluates it every epoch)
    needs_train_metrics = False
    #: attributes that change during training, kept in checkpoints
    state_fields: tuple[str, ...] = ()

    def __init__(self, config, generator: torch.Generator):
        self.config, self.generator = config, generator

    def keep_masks(self, batch_size: int, device) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        return None, None

    def loss(self, out, labels: torch.Tensor, model) -> torch.Tensor:
        return F.cross_entropy(out.logits, labels)

    def observe(self, state) -> None:
        """Called with each step's ModulationState (OPM keeps the ratio)."""

    def eval_losses(self, out, labels: torch.Tensor, model) -> dict[str, torch.Tensor]:
        """Extra losses of one evaluation batch, summed over its samples (logged as `loss_<name>`)."""
        return {}

    def eval_splits(self) -> tuple[str, ...]:
        """The splits evaluated after each epoch, in this order: validation (which chooses the reported
        epoch), test, and the training split (`Trainer.train_eval_split`) with `eval_train` or when
        `end_epoch` reads it (`needs_train_metrics`)."""
        train = ("train",) if self.config.eval_train or self.needs_train_metrics else ()
        return ("val", "test") + train

    def end_epoch(self, epoch: int, evals: dict[str, dict]) -> dict[str, float]:
        """Called after each epoch's evaluation with the metrics of each split; returns metrics to log."""
        return {}

    def state_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.state_fields}

    def load_state_dict(self, state: dict) -> None:
        for name in self.state_fields:
            setattr(self, name, state[name])

    def _bernoulli_keep(self, batch_size: int, drop_prob, device) -> torch.Tensor:
        u = torch.rand(batch_size, generator=self.generator).to(device)
        return (u >= drop_prob).float()


class ModalityDropout(Strategy):
    def __init__(self, config, generator, modality: str):
        super().__init__(config, generator)
        self.modality = modality

    def keep_masks(self, batch_size, device):
        keep = self._bernoulli_keep(batch_size, self.config.drop_prob, device)
        return (keep, None) if self.modality == "audio" else (None, keep)


class GradientBlending(Strategy):
    HEADS = ("fused", "audio", "visual")
    needs_train_metrics = True  # the weights compare train and held-out losses
    state_fields = ("weights", "_previous")

    def __init__(self, config, generator):
        super().__init__(config, generator)
        self.weights = {h: 1.0 / 3 for h in self.HEADS}
        self._previous: dict | None = None  # (train, val) losses at the last estimate

    def loss(self, out, labels, model):
        losses = {
            "fused": F.cross_entropy(out.logits, labels),
            "audio": F.cross_entropy(model.aux_a(out.feat_a), labels),
            "visual": F.cross_entropy(model.aux_v(out.feat_v), labels),
        }
        return sum(self.weights[h] * losses[h] for h in self.HEADS)  # L = sum_m w_m L_m

    def eval_losses(self, out, labels, model):
        """The auxiliary heads' losses (`loss_aux_audio`, `loss_aux_visual` in the log)."""
        return {
            "aux_audio": F.cross_entropy(model.aux_a(out.feat_a), labels, reduction="sum"),
            "aux_visual": F.cross_entropy(model.aux_v(out.feat_v), labels, reduction="sum"),
        }

    def end_epoch(self, epoch, evals):
        if (epoch + 1) % self.config.gb_super_epoch == 0:
            heads = lambda m: {"fused": m["loss"], "audio": m["loss_aux_audio"], "visual": m["loss_aux_visual"]}
            train, val = heads(evals["train"]), heads(evals["val"])
            current = {h: (train[h], val[h]) for h in self.HEADS}
            if self._previous is not None:
                self.weights = blending_weights(self._previous, current)
            self._previous = current
        return {f"gb_weight_{h}": w for h, w in self.weights.items()}


def blending_weights(before: dict, now: dict) -> dict:
    """Wang et al. 2020: w_m proportional to Delta G / Delta O^2 from (train, val) losses at two times."""
    raw = {}
    for head, (train_now, val_now) in now.items():
        train_before, val_before = before[head]
        gain = val_before - val_now  # Delta G: held-out loss went down
        d_overfit = (val_now - train_now) - (val_before - train_before)  # Delta O
        raw[head] = max(gain, 0.0) / max(d_overfit**2, 1e-12)
    total = sum(raw.values())
    if total <= 0:  # no head generalises better than before: keep equal weights
        return {h: 1.0 / len(raw) for h in raw}
    return {h: r / total for h, r in raw.items()}


class OPM(Strategy):
    state_fields = ("rho_a",)

    def __init__(self, config, generator):
        super().__init__(config, generator)
        self.rho_a: torch.Tensor | None = None

    def observe(self, state):
        self.rho_a = state.rho_a.detach()

    def keep_masks(self, batch_size, device):
        if self.rho_a is None:
            return None, None
        c = self.config
        rho_a, rho_v = self.rho_a.to(device), 1.0 / self.rho_a.to(device)
        execute = torch.rand((), generator=self.generator).to(device) < c.opm_p_exe

        def keep(rho):
            q = c.opm_q_base * (1 + c.opm_lambda * torch.tanh(rho - 1))
            drop = self._bernoulli_keep(batch_size, q, device)
            return torch.where(execute & (rho > 1), drop, torch.ones_like(drop))

        return keep(rho_a), keep(rho_v)


def make_strategy(config, generator: torch.Generator) -> Strategy:
    if config.method == "mdrop_audio":
        return ModalityDropout(config, generator, "audio")
    if config.method == "mdrop_visual":
        return ModalityDropout(config, generator, "visual")
    if config.method == "grad_blend":
        return GradientBlending(config, generator)
    if config.method == "opm":
        return OPM(config, generator)
    return Strategy(config, generator)


class UnimodalModulator:
    """The modulator of a one-encoder run, with `GradientModulator`'s step interface: a plain backward pass,
    no ratio to measure (every quantity NaN in the trace) and no gradient changed."""

    def backward(
        self,
        total: torch.Tensor,
        logits: torch.Tensor,
        labels: torch.Tensor,
        epoch: int,
        autocast: Callable[[], AbstractContextManager] = nullcontext,
    ) -> None:
        total.backward()  # g = dL/dtheta

    def compute(self, logits_a, logits_v, labels: torch.Tensor) -> ModulationState:
        nan = torch.full((), math.nan, device=labels.device)
        return ModulationState(nan, nan, nan, nan, nan, nan)

    def apply(self, state: ModulationState, epoch: int, half=None) -> None:
        """Nothing to scale or perturb."""


def make_modulator(
    config, model, reduce_scores=None, generator: torch.Generator | None = None
) -> GradientModulator | UnimodalModulator:
    """The run's `GradientModulator` (a `UnimodalModulator` for a unimodal model). Methods other than OGM,
    OGM-GE and GE get one with method "normal": it measures the scores, rho and k of every step and changes
    nothing."""
    if config.modalities != "av":
        return UnimodalModulator()
    audio_params, visual_params = model.encoder_params()
    return GradientModulator(
        audio_params,
        visual_params,
        method=config.method if config.method in MODULATION_METHODS else "normal",
        alpha=config.alpha,
        modulate=config.modulate,
        start_epoch=config.modulation_start,
        end_epoch=config.modulation_end,
        reduce_scores=reduce_scores,
        generator=generator,
        ge_noise=config.ge_noise,
    )
