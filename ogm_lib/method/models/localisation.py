"""Event-localisation models of the paper's Table 5 (AVE): AVGA and PSP, on `task = "events"` sequences.

Input: a sequence's audio `(B, 1, F, S*T)` (S segments' spectrograms side by side) and its S frames
`(B, 3, S, H, W)` (`data/events.py`; S = 10 on AVE, 6 on sequences made from the default data's clips).
Nothing but `audio_windows`' cut depends on S: the attention is per segment, the LSTMs and PSP's propagation
run over however many segments there are. Output: logits per segment, `(B, 1 + classes, S)` (background first),
so the loss, the modulator's scores and the evaluation work per segment unchanged. Both encoders are the
book's narrow ResNet-18s (audio on each segment's window, `video.WindowAudioEncoder`; visual on each frame).

- **AVGA** (audio-guided visual attention, Tian et al. 2018, {cite}`tian2018ave`, Sec. 3.2): for segment t,
  the visual feature map `V_t` (D x hw positions) is attended under the guidance of the segment's audio
  feature `a_t`: `z_t = w^T tanh(W_v V_t + (W_g a_t) 1^T)`, `alpha_t = softmax(z_t)` over the positions,
  `v_t = sum_i alpha_t,i V_t,i`. Each modality's segment sequence then goes through its own LSTM (temporal
  context), and the two are fused per segment and classified. Simplified: Tian et al.'s dual multimodal
  residual fusion (DMRN) becomes concatenation and a linear classifier per segment; their VGG-19/VGGish
  features, pretrained, become the narrow ResNet-18s trained from scratch.
- **PSP** (positive sample propagation, Zhou et al. 2021, {cite}`zhou2021psp`): the segment features of both
  modalities exchange information along their positive pairs only (`video.PositiveSamplePropagation`:
  pair similarity, L1 normalisation, pruning below the threshold), and each segment is classified from the
  concatenation of its propagated audio and visual features. Simplified: PSP's input features are
  AVGA-attended visual features in the paper, ours the pooled frame features; its audio-visual pair
  similarity loss is left out.

**Per-modality logits.** In both models the visual path depends on the audio (AVGA's attention, PSP's
propagation), so no part of the classifier belongs to one modality: each modality is scored per segment by a
linear head on its detached pooled encoder features (`score_heads = True`), trained alongside by its own
cross-entropy (`training_loss`, `score_heads.py`), as FiLM and gated fusion in `fusion.py`. On this task a
single modality cannot tell an event from a background segment (`data/events.py`), so the unimodal scores are
low for both; the ratio still says which encoder has learned more of the labels it can reach.
"""

from __future__ import annotations

import torch
from torch import nn

from .encoders import ResNet18
from .output import ModelOutput, keep_features
from .score_heads import ScoreHeadLoss
from .video import PositiveSamplePropagation, WindowAudioEncoder


class FrameMapEncoder(nn.Module):
    """Each of the S frames through the 2-D ResNet-18: feature maps `(B, S, D, h, w)`; `forward` pools them to
    `(B, D)` (what the probes read)."""

    def __init__(self, width: int = 64):
        super().__init__()
        self.net = ResNet18(3, width)
        self.out_dim = self.net.out_dim

    def maps(self, visual: torch.Tensor) -> torch.Tensor:
        b, c, s, h, w = visual.shape
        fmap = self.net(visual.permute(0, 2, 1, 3, 4).reshape(b * s, c, h, w))
        return fmap.view(b, s, *fmap.shape[1:])

    def forward(self, visual: torch.Tensor) -> torch.Tensor:
        return self.maps(visual).mean(dim=(1, 3, 4))


class AudioGuidedAttention(nn.Module):
    """Tian et al.'s Eq. 1-2: `alpha = softmax(w^T tanh(W_v V + W_g a))` over positions; returns `sum alpha V`."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.w_v, self.w_g = nn.Linear(dim, hidden, bias=False), nn.Linear(dim, hidden, bias=False)
        self.w = nn.Linear(hidden, 1, bias=False)

    def forward(self, maps: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """maps `(B, S, D, h, w)`, a `(B, S, D)` -> attended `(B, S, D)`, weights `(B, S, h*w)`."""
        v = maps.flatten(3).transpose(2, 3)  # (B, S, hw, D)
        z = self.w(torch.tanh(self.w_v(v) + self.w_g(a).unsqueeze(2))).squeeze(3)  # (B, S, hw)
        alpha = torch.softmax(z, dim=2)
        return (alpha.unsqueeze(3) * v).sum(dim=2), alpha


class LocalisationModel(ScoreHeadLoss, nn.Module):
    """AVGA or PSP for event localisation, with `AVClassifier`'s interface (see `plugin.py`)."""

    modalities = "av"
    score_heads = True

    def __init__(self, num_classes: int, width: int = 64, model: str = "avga", segments: int = 6):
        super().__init__()
        if model not in ("avga", "psp"):
            raise ValueError(f"unknown localisation model {model!r}; valid: avga, psp")
        dim = 8 * width
        self.model, self.segments = model, segments
        self.audio_encoder = WindowAudioEncoder(width, segments)
        self.visual_encoder = FrameMapEncoder(width)
        if model == "avga":
            self.attention = AudioGuidedAttention(dim, dim)
            self.lstm_a = nn.LSTM(dim, dim // 2, batch_first=True, bidirectional=True)
            self.lstm_v = nn.LSTM(dim, dim // 2, batch_first=True, bidirectional=True)
            self.fc = nn.Linear(2 * dim, num_classes)
        else:
            self.psp = PositiveSamplePropagation(dim, num_classes)
        self.head_a, self.head_v = nn.Linear(dim, num_classes), nn.Linear(dim, num_classes)
        self.aux_a, self.aux_v = nn.Linear(dim, num_classes), nn.Linear(dim, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_normal_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def encoder_params(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        return list(self.audio_encoder.parameters()), list(self.visual_encoder.parameters())

    def forward(
        self,
        audio: torch.Tensor,
        visual: torch.Tensor,
        keep_a: torch.Tensor | None = None,
        keep_v: torch.Tensor | None = None,
    ) -> ModelOutput:
        a = keep_features(self.audio_encoder.segment_features(audio), keep_a)  # (B, S, D)
        maps = keep_features(self.visual_encoder.maps(visual), keep_v)  # (B, S, D, h, w)
        v_pooled = maps.mean(dim=(3, 4))  # (B, S, D)
        if self.model == "avga":
            v_att, _ = self.attention(maps, a)
            h_a, _ = self.lstm_a(a)
            h_v, _ = self.lstm_v(v_att)
            seg_logits = self.fc(torch.cat([h_a, h_v], dim=2))  # (B, S, classes)
        else:
            a2, v2 = self.psp.propagate(a, v_pooled)
            seg_logits = self.psp.fc(torch.cat([a2, v2], dim=2))
        logits_a = self.head_a(a.detach())  # per segment, detached
        logits_v = self.head_v(v_pooled.detach())
        t = lambda x: x.transpose(1, 2)  # (B, classes, S)
        return ModelOutput(t(seg_logits), t(logits_a), t(logits_v), a.mean(dim=1), v_pooled.mean(dim=1))


def build_localisation_model(config, num_classes: int) -> LocalisationModel:
    """The model for `config.dataset`'s sequences: S = `events.segments_for(dataset)` (AVE 10, else 6) segments,
    `num_classes` = events + background (AVE: 28 + 1)."""
    from ..data.events import segments_for

    return LocalisationModel(
        num_classes, width=config.width, model=config.video_model, segments=segments_for(config.dataset)
    )
