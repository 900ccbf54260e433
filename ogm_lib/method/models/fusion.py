"""The four fusion modules of the paper's Table 1, each with its per-modality logits.

OGM needs, for every sample, a score per modality: how well modality u alone predicts the label. The paper
defines it through the part of the fused classifier that belongs to u (Sec. 3.2):

    s_i^u = softmax(W^u . phi^u(x_i^u) + b/2)[y_i]

Every fusion here returns `(fused_logits, logits_a, logits_v)` and says how the per-modality logits come:

- Concat: `fused = W [a; v] + b`; the per-modality logits are `W[:, :d] a + b/2` and `W[:, d:] v + b/2`,
  which add up exactly to the fused logits (paper Eq. 5, official code).
- Sum: `fused = fc_a(a) + fc_v(v)`; each branch's own output is its modality's logits (they add up to the
  fused logits). The official code uses the full bias in training and b/2 at test time; we use the branch
  output in both, so training and evaluation measure the same thing.
- FiLM (Perez et al. 2018) and Gated (Kiela et al. 2018) mix the modalities multiplicatively, so no part
  of the classifier belongs to one modality; the official training step crashes for both. Our choice: a
  linear head per modality on the DETACHED encoder features, trained alongside with its own cross-entropy.
  Its softmax gives the unimodal score, and since the features are detached the heads never change the
  encoders: they only measure what each encoder already knows (`score_heads = True`; the model's
  `training_loss`, `score_heads.py`, adds their loss).
"""

from __future__ import annotations

import torch
from torch import nn


class ConcatFusion(nn.Module):
    score_heads = False

    def __init__(self, dim: int, num_classes: int):
        super().__init__()
        self.fc = nn.Linear(2 * dim, num_classes)  # audio features first, as official
        self.dim = dim

    def forward(self, a: torch.Tensor, v: torch.Tensor):
        fused = self.fc(torch.cat([a, v], dim=1))
        w, b = self.fc.weight, self.fc.bias
        logits_a = a @ w[:, : self.dim].T + b / 2  # W^a phi^a + b/2
        logits_v = v @ w[:, self.dim :].T + b / 2  # W^v phi^v + b/2
        return fused, logits_a, logits_v


class SumFusion(nn.Module):
    score_heads = False

    def __init__(self, dim: int, num_classes: int):
        super().__init__()
        self.fc_a = nn.Linear(dim, num_classes)
        self.fc_v = nn.Linear(dim, num_classes)

    def forward(self, a: torch.Tensor, v: torch.Tensor):
        logits_a, logits_v = self.fc_a(a), self.fc_v(v)
        return logits_a + logits_v, logits_a, logits_v


class _DetachedScoreHeads(nn.Module):
    """Linear heads on detached features: per-modality logits for fusions with no separable classifier."""

    score_heads = True

    def __init__(self, dim: int, num_classes: int):
        super().__init__()
        self.head_a = nn.Linear(dim, num_classes)
        self.head_v = nn.Linear(dim, num_classes)

    def unimodal_logits(self, a: torch.Tensor, v: torch.Tensor):
        return self.head_a(a.detach()), self.head_v(v.detach())


class FiLMFusion(_DetachedScoreHeads):
    """Audio predicts a per-channel scale and shift of the visual features: `fc(gamma * v + beta)`."""

    def __init__(self, dim: int, num_classes: int):
        super().__init__(dim, num_classes)
        self.film = nn.Linear(dim, 2 * dim)
        self.fc = nn.Linear(dim, num_classes)

    def forward(self, a: torch.Tensor, v: torch.Tensor):
        gamma, beta = self.film(a).chunk(2, dim=1)
        return (self.fc(gamma * v + beta), *self.unimodal_logits(a, v))


class GatedFusion(_DetachedScoreHeads):
    """Audio gates the visual features: `fc(sigmoid(fc_a(a)) * fc_v(v))` (the paper's "baseline")."""

    def __init__(self, dim: int, num_classes: int):
        super().__init__(dim, num_classes)
        self.fc_a = nn.Linear(dim, dim)
        self.fc_v = nn.Linear(dim, dim)
        self.fc = nn.Linear(dim, num_classes)

    def forward(self, a: torch.Tensor, v: torch.Tensor):
        gate = torch.sigmoid(self.fc_a(a))
        return (self.fc(gate * self.fc_v(v)), *self.unimodal_logits(a, v))


FUSION_CLASSES = {"concat": ConcatFusion, "sum": SumFusion, "film": FiLMFusion, "gated": GatedFusion}
