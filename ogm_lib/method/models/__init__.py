"""The audio-visual classifier: two ResNet-18 encoders and a fusion module (or one encoder, unimodal).

`AVClassifier.forward` returns a `ModelOutput` holding the fused logits (the only ones the main loss sees),
the per-modality logits that OGM scores (see `fusion.py` for how each fusion obtains them) and the encoder
features. Optional per-sample keep masks zero one modality's features in the forward pass: modality
dropout and OPM (`strategies.py`) use them. `training_loss` (`score_heads.py`, shared by every model) is the
loss the step back-propagates: the strategy's, plus the detached score heads' own where a fusion has them.
"""

from __future__ import annotations

import torch
from torch import nn

from ..config import FUSIONS, MODALITIES, check_choice
from .encoders import AudioEncoder, ResNet18, VisualEncoder
from .fusion import FUSION_CLASSES, ConcatFusion, FiLMFusion, GatedFusion, SumFusion
from .output import ModelOutput, keep_features
from .score_heads import ScoreHeadLoss

__all__ = [
    "AVClassifier",
    "ModelOutput",
    "ScoreHeadLoss",
    "AudioEncoder",
    "VisualEncoder",
    "ResNet18",
    "build_model",
    "ConcatFusion",
    "SumFusion",
    "FiLMFusion",
    "GatedFusion",
]


class AVClassifier(ScoreHeadLoss, nn.Module):
    def __init__(self, num_classes: int, fusion: str = "concat", width: int = 64, modalities: str = "av"):
        super().__init__()
        check_choice("fusion", fusion, FUSIONS)
        check_choice("modalities", modalities, MODALITIES)
        self.modalities, self.fusion_name = modalities, fusion
        self.audio_encoder = AudioEncoder(width) if modalities in ("av", "audio") else None
        self.visual_encoder = VisualEncoder(width) if modalities in ("av", "visual") else None
        dim = 8 * width
        if modalities == "av":
            self.fusion = FUSION_CLASSES[fusion](dim, num_classes)
        else:
            self.head = nn.Linear(dim, num_classes)  # a unimodal model: encoder + linear classifier
        # Auxiliary unimodal heads on attached features: gradient blending trains them (strategies.py).
        self.aux_a = nn.Linear(dim, num_classes) if modalities == "av" else None
        self.aux_v = nn.Linear(dim, num_classes) if modalities == "av" else None
        for m in self.modules():
            if isinstance(m, nn.Linear):  # official init for linear layers
                nn.init.xavier_normal_(m.weight)
                nn.init.zeros_(m.bias)

    @property
    def score_heads(self) -> bool:
        """True when the per-modality logits come from detached heads that need their own loss
        (`training_loss` adds it)."""
        return self.modalities == "av" and self.fusion.score_heads

    def encoder_params(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        """The two parameter groups OGM modulates: (audio encoder, visual encoder)."""
        a = list(self.audio_encoder.parameters()) if self.audio_encoder is not None else []
        v = list(self.visual_encoder.parameters()) if self.visual_encoder is not None else []
        return a, v

    def forward(
        self,
        audio: torch.Tensor | None,
        visual: torch.Tensor | None,
        keep_a: torch.Tensor | None = None,
        keep_v: torch.Tensor | None = None,
    ) -> ModelOutput:
        """keep_a / keep_v: optional (B,) 0/1 masks multiplying that modality's features."""
        feat_a = self.audio_encoder(audio) if self.audio_encoder is not None else None
        feat_v = self.visual_encoder(visual) if self.visual_encoder is not None else None
        if self.modalities == "audio":
            logits = self.head(feat_a)
            return ModelOutput(logits, logits, None, feat_a, None)
        if self.modalities == "visual":
            logits = self.head(feat_v)
            return ModelOutput(logits, None, logits, None, feat_v)
        feat_a, feat_v = keep_features(feat_a, keep_a), keep_features(feat_v, keep_v)
        logits, logits_a, logits_v = self.fusion(feat_a, feat_v)
        return ModelOutput(logits, logits_a, logits_v, feat_a, feat_v)


def build_model(config, num_classes: int) -> AVClassifier:
    if getattr(config, "task", "classify") == "events":
        from .localisation import build_localisation_model  # Table 5: per-segment logits (localisation.py)

        return build_localisation_model(config, num_classes)
    if (
        getattr(config, "video_model", "resnet18") != "resnet18"
        or getattr(config, "audio_model", "resnet18") != "resnet18"
    ):
        from .plugin import build_plugin_model  # Tables 3 and 4: same interface (plugin.py)

        return build_plugin_model(config, num_classes)
    return AVClassifier(num_classes, fusion=config.fusion, width=config.width, modalities=config.modalities)
