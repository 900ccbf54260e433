"""The plug-in models of the paper's Tables 3 and 4, behind the same interface as `AVClassifier`.

`PluginClassifier` is what `build_model` returns when a config names a video model (`RunConfig.video_model`:
TSN, TSM, TBN, PSP; `video.py`) or an audio encoder (`RunConfig.audio_model`: x-vector, i-vector stand-in,
MWTSM stand-in; `speech.py`) other than the book's ResNet-18. Like `AVClassifier` it has

- `audio_encoder` and `visual_encoder`: a whole input -> a `(B, 8w)` feature (the linear probes read them);
- `encoder_params()`: their parameters, the two groups the modulator (`modulation.py`) scales;
- `forward(audio, visual, keep_a, keep_v) -> ModelOutput`: fused logits, the per-modality logits OGM scores,
  and the pooled features (the keep masks of modality dropout and OPM zero one modality's features);
- `score_heads`: True when the per-modality logits come from heads on detached features (TBN, PSP), whose
  own cross-entropy `training_loss` adds to the step's loss (`score_heads.py`), exactly as for FiLM and gated
  fusion;
- `aux_a` / `aux_v`: the auxiliary unimodal heads gradient blending trains.

So the training loop, the modulator, the strategies, the evaluation and the probes use these models unchanged.
An audio-encoder row (Table 4) keeps the book's visual ResNet-18 and concatenation (`fusion.ConcatFusion`);
a video-model row (Table 3) brings its own fusion over segments (`video.VIDEO_PARTS`).
"""

from __future__ import annotations

import torch
from torch import nn

from .encoders import AudioEncoder, VisualEncoder
from .fusion import ConcatFusion
from .output import ModelOutput, keep_features
from .score_heads import ScoreHeadLoss
from .speech import AUDIO_ENCODERS
from .video import VIDEO_PARTS


class PluginClassifier(ScoreHeadLoss, nn.Module):
    """A joint audio-visual classifier with one plug-in part: a video model or an audio encoder."""

    modalities = "av"

    def __init__(self, num_classes: int, width: int = 64, video_model: str = "resnet18", audio_model: str = "resnet18"):
        super().__init__()
        if video_model != "resnet18" and audio_model != "resnet18":
            raise ValueError("one plug-in at a time: a video model (Table 3) or an audio encoder (Table 4)")
        self.video_model, self.audio_model = video_model, audio_model
        self.segmental = video_model != "resnet18"
        dim = 8 * width
        if self.segmental:
            make_visual, make_audio, fusion = VIDEO_PARTS[video_model]
            self.visual_encoder, self.audio_encoder = make_visual(width), make_audio(width)
        else:
            self.visual_encoder = VisualEncoder(width)
            self.audio_encoder = (
                AUDIO_ENCODERS[audio_model](width) if audio_model != "resnet18" else AudioEncoder(width)
            )
            fusion = ConcatFusion
        self.fusion = fusion(dim, num_classes)
        if self.fusion.score_heads:  # per-modality scores from heads on detached features (video.py)
            self.head_a, self.head_v = nn.Linear(dim, num_classes), nn.Linear(dim, num_classes)
        self.aux_a, self.aux_v = nn.Linear(dim, num_classes), nn.Linear(dim, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Linear):  # the book's init for linear layers (official)
                nn.init.xavier_normal_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    @property
    def score_heads(self) -> bool:
        return self.fusion.score_heads

    def encoder_params(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        """The two parameter groups OGM modulates: (audio encoder, visual encoder)."""
        return list(self.audio_encoder.parameters()), list(self.visual_encoder.parameters())

    def forward(
        self,
        audio: torch.Tensor,
        visual: torch.Tensor,
        keep_a: torch.Tensor | None = None,
        keep_v: torch.Tensor | None = None,
    ) -> ModelOutput:
        if not self.segmental:
            feat_a = keep_features(self.audio_encoder(audio), keep_a)
            feat_v = keep_features(self.visual_encoder(visual), keep_v)
            logits, logits_a, logits_v = self.fusion(feat_a, feat_v)
            return ModelOutput(logits, logits_a, logits_v, feat_a, feat_v)
        a = keep_features(self.audio_encoder.segment_features(audio), keep_a)  # (B, Sa, D)
        v = keep_features(self.visual_encoder.segment_features(visual), keep_v)  # (B, Sv, D)
        feat_a, feat_v = a.mean(dim=1), v.mean(dim=1)
        if self.fusion.score_heads:
            logits = self.fusion(a, v)
            logits_a, logits_v = self.head_a(feat_a.detach()), self.head_v(feat_v.detach())
        else:
            logits, logits_a, logits_v = self.fusion(a, v)
        return ModelOutput(logits, logits_a, logits_v, feat_a, feat_v)


def build_plugin_model(config, num_classes: int) -> PluginClassifier:
    return PluginClassifier(
        num_classes, width=config.width, video_model=config.video_model, audio_model=config.audio_model
    )
