"""`ScoreHeadLoss`: the loss a model back-propagates, the strategy's loss plus its score heads' own.

Where a fusion mixes the modalities so that no part of the classifier belongs to one of them (FiLM and gated
fusion, `fusion.py`; TBN and PSP, `video.py`; AVGA and PSP localisation, `localisation.py`), OGM's
per-modality logits come from linear heads on the DETACHED encoder features (`score_heads = True`). Those
heads learn from their own cross-entropy, added here to the step's loss; the features being detached, the
added terms reach the heads only, never the encoders (`tests/test_models.py` checks it). For every other
model the per-modality logits are part of the fused classifier (paper Eq. 5) and the loss is left as it is.

Every model of the project (`AVClassifier`, `PluginClassifier`, `LocalisationModel`) takes this mixin, so
the training step calls `model.training_loss(loss, out, labels)` and asks nothing about the fusion.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .output import ModelOutput


class ScoreHeadLoss:
    """Mixin for a model with a `score_heads` attribute or property (True: detached per-modality heads)."""

    score_heads: bool

    def training_loss(self, loss: torch.Tensor, out: ModelOutput, labels: torch.Tensor) -> torch.Tensor:
        """`loss` (the strategy's, on the fused logits) plus, with score heads, each head's cross-entropy:
        L + CE(logits_a, y) + CE(logits_v, y). Call it where the loss was computed (under autocast)."""
        if not self.score_heads:
            return loss
        return loss + F.cross_entropy(out.logits_a, labels) + F.cross_entropy(out.logits_v, labels)
