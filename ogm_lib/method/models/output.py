"""What every model of the project returns (`ModelOutput`), and modality dropout's feature mask.

A model's forward gives the fused logits (the only ones the main loss sees) and, for OGM's scores (Eq. 9),
each modality's own logits and features; plug-in and localisation models (`plugin.py`,
`localisation.py`) return the same tuple, so training treats every model alike.
"""

from __future__ import annotations

from typing import NamedTuple

import torch


class ModelOutput(NamedTuple):
    logits: torch.Tensor  # fused logits (B, C)
    logits_a: torch.Tensor | None  # audio-only logits (B, C), None for a visual-only model
    logits_v: torch.Tensor | None  # visual-only logits (B, C), None for an audio-only model
    feat_a: torch.Tensor | None  # encoder features (B, D)
    feat_v: torch.Tensor | None


def keep_features(feat: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
    """Modality dropout's per-sample mask: `feat` (B, ...) times `keep` (B,) 0/1, broadcast over the rest
    (`None`: unchanged)."""
    return feat if keep is None else feat * keep.reshape(-1, *[1] * (feat.dim() - 1))
