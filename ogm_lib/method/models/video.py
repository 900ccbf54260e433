"""Video architectures of the paper's Table 3, small and each kept to its defining idea.

The paper shows OGM-GE as a plug-in for four audio-visual video models on Kinetics-Sounds and VGGSound
(Table 3). Each model here is built from the book's narrow ResNet-18 (`encoders.py`), so the only thing that
changes between a row of Table 3 and the book's concatenation model is the idea the row is named after:

- **TSN** (temporal segment networks, Wang et al. 2016, {cite}`wang2016tsn`): the clip is cut into S equal
  segments and one frame is drawn from each, at random in training and the middle one at test (sparse
  temporal sampling); the shared 2-D network scores every segment and the segment scores are averaged (the
  average "segmental consensus"). `TSN-AV` adds the audio ResNet-18 on the whole spectrogram; segment s is
  scored by the linear classifier on `[a; v_s]`, and the clip's logits are the mean over segments.
- **TSM** (temporal shift module, Lin et al. 2019, {cite}`lin2019tsm`): TSN's sampling and consensus, plus
  inside every residual block a shift along time of a fraction of the channels before the block's first
  conv (the "residual shift"): 1/8 of the channels take the next segment's values, 1/8 the previous one's,
  zero at the clip's ends (`temporal_shift`). It gives a 2-D network temporal mixing at no parameter cost.
- **TBN** (temporal binding network, Kazakos et al. 2019, {cite}`kazakos2019epic`): audio and visual are
  *bound within a temporal window before temporal pooling*: segment s's frame and the audio window of the same
  segment are encoded, concatenated and passed through a fusion layer (linear, ReLU) and the classifier;
  the windows' logits are then averaged (TSN's consensus).
- **PSP** (positive sample propagation, Zhou et al. 2021, {cite}`zhou2021psp`): segment features of both
  modalities; an audio-visual pair similarity between every visual segment and every audio segment,
  `beta = relu((v W_v)(a W_a)^T / sqrt(d))`, normalised per row (L1), weak connections (below `PSP_TAU`)
  pruned and the rest renormalised: only "positive" pairs remain; each modality then receives the other's
  features along those connections, `v' = LN(v + beta_va (a U_a))`, `a' = LN(a + beta_av (v U_v))`. For
  classification (Table 3) the propagated segments are averaged and concatenated into a linear classifier.

**Per-modality logits** (what OGM scores, `fusion.py`): TSN and TSM fuse by concatenation, so their audio and
visual logits are the classifier's two halves with b/2 each, exactly as the paper's concatenation model (they
add up to the fused logits). TBN (a nonlinear fusion layer per window) and PSP (each modality's features carry
the other's after propagation) have no part of the classifier that belongs to one modality: like FiLM and
gated fusion in `fusion.py`, each modality is scored by a linear head on its *detached* encoder features
(`score_heads = True`), trained alongside by its own cross-entropy, which never reaches the encoders.

**What is simplified**: ImageNet-pretrained ResNet-50 / BN-Inception backbones become the book's narrow
ResNet-18 trained from scratch; TSN's 25-frame test-time sampling and TSN's optical-flow stream are left out;
TBN's random audio-visual offset within the binding window (asynchrony) is left out: segment s's audio window
is the s-th of S equal cuts of the spectrogram; PSP's audio-guided visual attention front-end and its pair
similarity loss (for fully supervised localisation) are left out. With the default data the frames of a clip
show one digit with a fresh jitter and noise each, so the temporal ideas can only act as what they are on such
clips (sampling as augmentation, shifts as feature mixing); they cannot find motion that is not there.

Every model here is a `PluginClassifier` (`plugin.py`): `audio_encoder` and `visual_encoder` map a whole input
to a `(B, 8w)` feature (what the linear probes read) and `encoder_params()` returns their parameters, the
two groups the modulator scales; the encoders' weights are 4-D conv weights as in the book's model, so the
official conv-only modulation covers them.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .encoders import AudioEncoder, ResNet18

#: segments per clip (TSN's K; Table 3's datasets use 3 frames per clip in the official code)
SEGMENTS = 3
#: TSM: 1/FOLD_DIV of the channels shift each way (Lin et al.'s default 8: 1/8 back, 1/8 forward)
FOLD_DIV = 8
#: PSP: pair weights below this (after the row's L1 normalisation) are pruned (ours: with 3 segments a row's
#: mean weight is 1/3; Zhou et al. tune their threshold for 10 segments)
PSP_TAU = 0.1


# ---------------------------------------------------------------------------------------------------------
# Segments and shifts


def segment_bounds(n_frames: int, segments: int) -> list[tuple[int, int]]:
    """[lo, hi) of each of `segments` equal cuts of `n_frames` frames (TSN; the first cuts get the extra frames)."""
    q, r = divmod(n_frames, segments)
    out, lo = [], 0
    for s in range(segments):
        hi = lo + q + (s < r)
        out.append((lo, hi))
        lo = hi
    return out


def sample_segments(visual: torch.Tensor, segments: int, training: bool) -> torch.Tensor:
    """TSN's sparse sampling: `(B, C, T, H, W)` -> `(B, C, S, H, W)`, one frame per segment; in training a frame
    drawn uniformly within its segment for each clip (torch's global generator), at test the middle frame."""
    b, c, t, h, w = visual.shape
    bounds = segment_bounds(t, segments)
    lo = torch.tensor([lo for lo, _ in bounds])
    size = torch.tensor([hi - lo for lo, hi in bounds])
    if training:
        idx = lo + (torch.rand(b, segments) * size).long().clamp_max(size - 1)  # (B, S)
    else:
        idx = (lo + (size - 1) // 2).expand(b, segments)
    idx = idx.to(visual.device, non_blocking=True)
    return torch.gather(visual, 2, idx.view(b, 1, segments, 1, 1).expand(b, c, segments, h, w))


def audio_windows(audio: torch.Tensor, segments: int) -> torch.Tensor:
    """`(B, 1, F, T)` -> `(B, S, 1, F, T // S)`: S equal consecutive windows along time (the last T mod S
    frames are dropped), window s going with segment s's frame (TBN, PSP)."""
    b, c, f, t = audio.shape
    if t < segments:
        raise ValueError(f"an audio clip of {t} frames cannot be cut into {segments} windows")
    width = t // segments
    return audio[..., : width * segments].reshape(b, c, f, segments, width).permute(0, 3, 1, 2, 4)


def temporal_shift(x: torch.Tensor, time_dim: int, channel_dim: int, fold_div: int = FOLD_DIV) -> torch.Tensor:
    """TSM's shift (Lin et al. 2019, Sec. 3): along `time_dim`, the first `fold` channels take the NEXT step's
    values, the next `fold` the PREVIOUS step's, the rest stay; zeros enter at the ends. `fold = C // fold_div`,
    at least 1 (the narrow profiles have 4 to 8 channels in the first stage, where C // 8 would shift nothing)."""
    c = x.shape[channel_dim]
    fold = max(1, c // fold_div)
    out = torch.zeros_like(x)

    def part(t: torch.Tensor, ch: slice, tm: slice) -> torch.Tensor:
        index = [slice(None)] * t.dim()
        index[channel_dim], index[time_dim] = ch, tm
        return t[tuple(index)]

    def put(ch: slice, tm_out: slice, tm_in: slice) -> None:
        index = [slice(None)] * out.dim()
        index[channel_dim], index[time_dim] = ch, tm_out
        out[tuple(index)] = part(x, ch, tm_in)

    put(slice(0, fold), slice(0, -1), slice(1, None))  # shift left: t <- t + 1
    put(slice(fold, 2 * fold), slice(1, None), slice(0, -1))  # shift right: t <- t - 1
    put(slice(2 * fold, None), slice(None), slice(None))  # unchanged
    return out


class TemporalShift(nn.Module):
    """Shifts a `(B*S, C, H, W)` map of S segments per clip along the segments, then applies `net` (the block's
    first conv): TSM's residual shift, where the shortcut keeps the unshifted map."""

    def __init__(self, net: nn.Module, segments: int, fold_div: int = FOLD_DIV):
        super().__init__()
        self.net, self.segments, self.fold_div = net, segments, fold_div

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        x = temporal_shift(x.view(n // self.segments, self.segments, c, h, w), 1, 2, self.fold_div)
        return self.net(x.view(n, c, h, w))


# ---------------------------------------------------------------------------------------------------------
# Encoders: whole input -> (B, D) (for probes), and per-segment features (B, S, D) for the models


class SegmentVisualEncoder(nn.Module):
    """TSN's visual side: S sampled frames, each through the shared 2-D ResNet-18, `(B, S, D)` per segment;
    with `shift`, TSM's temporal shift in every residual block (`TemporalShift` around each block's conv1)."""

    def __init__(self, width: int = 64, segments: int = SEGMENTS, shift: bool = False, in_channels: int = 3):
        super().__init__()
        self.segments, self.shift = segments, shift
        self.net = ResNet18(in_channels, width)
        self.out_dim = self.net.out_dim
        if shift:
            for layer in (self.net.layer1, self.net.layer2, self.net.layer3, self.net.layer4):
                for block in layer:
                    block.conv1 = TemporalShift(block.conv1, segments)

    def segment_features(self, visual: torch.Tensor) -> torch.Tensor:
        s = min(self.segments, visual.shape[2])
        if s != self.segments and self.shift:
            raise ValueError(f"TSM needs at least {self.segments} frames per clip, got {visual.shape[2]}")
        frames = sample_segments(visual, s, self.training)  # (B, C, S, H, W)
        b, c, _, h, w = frames.shape
        fmap = self.net(frames.permute(0, 2, 1, 3, 4).reshape(b * s, c, h, w))  # (B*S, D, h, w)
        return fmap.mean(dim=(2, 3)).view(b, s, -1)

    def forward(self, visual: torch.Tensor) -> torch.Tensor:
        return self.segment_features(visual).mean(dim=1)


class WindowAudioEncoder(AudioEncoder):
    """The audio ResNet-18 on each of S time windows of the spectrogram (`audio_windows`): `(B, S, D)`."""

    def __init__(self, width: int = 64, segments: int = SEGMENTS):
        super().__init__(width)
        self.segments = segments

    def segment_features(self, audio: torch.Tensor) -> torch.Tensor:
        windows = audio_windows(audio, self.segments)  # (B, S, 1, F, Tw)
        b, s = windows.shape[:2]
        return self.net(windows.flatten(0, 1)).mean(dim=(2, 3)).view(b, s, -1)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return self.segment_features(audio).mean(dim=1)


class WholeAudioEncoder(AudioEncoder):
    """The book's audio ResNet-18 on the whole spectrogram, as one 'segment': `(B, 1, D)`."""

    def segment_features(self, audio: torch.Tensor) -> torch.Tensor:
        return self(audio).unsqueeze(1)


# ---------------------------------------------------------------------------------------------------------
# Fusions over segments: (a (B, Sa, D), v (B, Sv, D)) -> (fused, logits_a, logits_v) or fused only


class SegmentConcatFusion(nn.Module):
    """TSN / TSM: segment s scored by `W [a; v_s] + b`; the clip's logits are the mean over segments (TSN's
    average consensus). Audio logits `W^a a + b/2`, visual `mean_s W^v v_s + b/2`: they add up to the fused
    logits, as the paper's concatenation (Eq. 5). With a linear classifier the consensus over scores equals the
    classifier on the segment-averaged features; the code keeps the consensus explicit."""

    score_heads = False

    def __init__(self, dim: int, num_classes: int):
        super().__init__()
        self.fc = nn.Linear(2 * dim, num_classes)
        self.dim = dim

    def forward(self, a: torch.Tensor, v: torch.Tensor):
        w, b = self.fc.weight, self.fc.bias
        seg_a = a @ w[:, : self.dim].T  # (B, Sa, C)
        seg_v = v @ w[:, self.dim :].T  # (B, Sv, C)
        logits_a = seg_a.mean(dim=1) + b / 2
        logits_v = seg_v.mean(dim=1) + b / 2
        fused = (seg_a.mean(dim=1, keepdim=True) + seg_v + b).mean(dim=1)  # consensus over segments
        return fused, logits_a, logits_v


class TemporalBindingFusion(nn.Module):
    """TBN: window s's audio and frame are bound, `h_s = relu(W_f [a_s; v_s] + b_f)`, scored `W h_s + b`, and
    the windows' logits are averaged. Per-modality logits: detached score heads (see the module docstring)."""

    score_heads = True

    def __init__(self, dim: int, num_classes: int):
        super().__init__()
        self.bind = nn.Linear(2 * dim, dim)
        self.fc = nn.Linear(dim, num_classes)

    def forward(self, a: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.bind(torch.cat([a, v], dim=2)))  # (B, S, D): bound within each window
        return self.fc(h).mean(dim=1)  # average over the windows


class PositiveSamplePropagation(nn.Module):
    """PSP (Zhou et al. 2021, Sec. 3.2): pair similarities, pruning of the weak pairs, propagation along the
    remaining (positive) ones; then mean over segments and a linear classifier on `[a'; v']`."""

    score_heads = True

    def __init__(self, dim: int, num_classes: int, tau: float = PSP_TAU):
        super().__init__()
        self.tau = tau
        self.q_v, self.q_a = nn.Linear(dim, dim, bias=False), nn.Linear(dim, dim, bias=False)
        self.u_v, self.u_a = nn.Linear(dim, dim, bias=False), nn.Linear(dim, dim, bias=False)
        self.norm_v, self.norm_a = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.fc = nn.Linear(2 * dim, num_classes)

    def positive_weights(self, x: torch.Tensor, y: torch.Tensor, qx: nn.Module, qy: nn.Module) -> torch.Tensor:
        """beta = relu(qx(x) qy(y)^T / sqrt(d)), L1-normalised per row, entries < tau pruned, renormalised."""
        beta = F.relu(qx(x) @ qy(y).transpose(1, 2) / math.sqrt(x.shape[-1]))  # (B, Sx, Sy)
        beta = beta / (beta.sum(dim=2, keepdim=True) + 1e-8)
        beta = torch.where(beta >= self.tau, beta, torch.zeros_like(beta))
        return beta / (beta.sum(dim=2, keepdim=True) + 1e-8)

    def propagate(self, a: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        beta_va = self.positive_weights(v, a, self.q_v, self.q_a)  # visual segment i <- audio segment j
        beta_av = self.positive_weights(a, v, self.q_a, self.q_v)  # audio segment i <- visual segment j
        v2 = self.norm_v(v + beta_va @ self.u_a(a))
        a2 = self.norm_a(a + beta_av @ self.u_v(v))
        return a2, v2

    def forward(self, a: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        a2, v2 = self.propagate(a, v)
        return self.fc(torch.cat([a2.mean(dim=1), v2.mean(dim=1)], dim=1))


#: video model -> (visual encoder, audio encoder, fusion over segments)
VIDEO_PARTS = {
    "tsn": (lambda w: SegmentVisualEncoder(w), lambda w: WholeAudioEncoder(w), SegmentConcatFusion),
    "tsm": (lambda w: SegmentVisualEncoder(w, shift=True), lambda w: WholeAudioEncoder(w), SegmentConcatFusion),
    "tbn": (lambda w: SegmentVisualEncoder(w), lambda w: WindowAudioEncoder(w), TemporalBindingFusion),
    "psp": (lambda w: SegmentVisualEncoder(w), lambda w: WindowAudioEncoder(w), PositiveSamplePropagation),
}
