"""Audio encoders of the paper's Table 4 (CREMA-D with other audio encoders), each kept to its defining idea.

Every encoder maps a `(B, 1, F, T)` log spectrogram to a `(B, 8w)` feature, the size of the book's audio
ResNet-18, so it drops into the concatenation model in place of that encoder (`plugin.py`).

**Front end, common to the three.** Speaker and emotion systems work on a few dozen filterbank (or cepstral)
coefficients per frame, not on raw STFT bins: x-vectors on 24 filterbanks, i-vectors on 20 MFCCs with deltas.
`filterbank` averages adjacent STFT bins into `BANDS` bands (an adaptive average pool over frequency: a fixed
rectangular filterbank, no parameters), so the models see `(B, BANDS, T)` frames whatever the dataset's F.

**Which tensors OGM scales.** The official rule scales the encoders' 4-D conv weights (`modulation.py`). The
frame-level 1-D convolutions over time below are written as `Conv2d` with a kernel one step high over a
`(B, C, 1, T)` map (the same computation as `Conv1d`), and the affine layers after pooling as 1x1 convs on a
`(B, C, 1, 1)` map, so the rule covers them as it covers the ResNet's convs; what it leaves out is what it
leaves out in the ResNet (BatchNorm), plus, in the i-vector stand-in, the UBM's means, variances and weights
(see there).

- **x-vector** (Snyder et al. 2018, {cite}`snyder2018xvector`): five frame-level TDNN layers (1-D convs over
  time with contexts t-2..t+2, {t-2, t, t+2}, {t-3, t, t+3}, {t}, {t}, i.e. kernel 5, kernel 3 dilation 2,
  kernel 3 dilation 3, 1, 1), each ReLU + BatchNorm; **statistics pooling** (mean and standard deviation over
  time of the last frame layer); a segment-level affine layer, whose output is the embedding. Kept: all of
  that, with the paper's layer widths scaled by the book's width knob (512 at w = 64 as in the paper, 1,500 ->
  3 x 512 for the last frame layer). Simplified: one segment-level layer instead of two (the second only feeds
  the speaker classifier), and the embedding passes a ReLU before fusion, as the ResNet's pooled features do.
- **i-vector stand-in** (Dehak et al. 2011, {cite}`dehak2011ivector`). An i-vector is the posterior mean of
  the latent factor w in `M = m + T w`, from the utterance's Baum-Welch statistics under a GMM universal
  background model (UBM): zeroth order `N_c = sum_t gamma_tc`, centred first order
  `F_c = sum_t gamma_tc (x_t - mu_c)`, frame posteriors `gamma_tc` of component c. It is estimated by EM
  and factor analysis, not by gradient descent, so there is no encoder gradient for OGM to scale. What stands
  in: the same statistics from a UBM of `UBM_COMPONENTS` diagonal Gaussians whose means, log-variances and log
  weights are learned with the model, normalised `F_c / (N_c + 1) / sigma_c` (the +1 a relevance factor),
  stacked into a supervector and projected by a learned `T` (a 1x1 conv): a differentiable i-vector
  extractor in the manner of learnable dictionary encoding (Cai et al. 2018, {cite}`cai2018lde`). What is
  left out is the exact posterior: `(I + T' Sigma^-1 N T)^-1` depends on the utterance's counts, and a fixed
  linear map replaces it. OGM scales T (the extractor); the UBM's parameters are 2-D and 1-D tensors, outside
  the conv-only rule, much as an i-vector system fits its UBM before and apart from T.
- **MWTSM stand-in.** The paper's Table 4 names MWTSM without describing it in the text we hold, and we could
  not find a published model of that name; we read it as a *multi-window temporal shift model* and build
  that: frame features go through parallel branches with different time windows (kernels `MWTSM_WINDOWS`
  frames long), each a residual block whose input is first shifted along time (TSM's shift,
  `video.temporal_shift`: 1/8 of the channels one frame earlier, 1/8 one frame later); each branch is averaged
  over time, the branches concatenated and projected to the feature. It is a stand-in that keeps what the name
  says (several windows, temporal shift), not a reproduction; the book says so beside its row.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .video import temporal_shift

#: frequency bands of the common front end (x-vectors use 24 filterbanks, i-vectors 20 MFCCs + deltas)
BANDS = 32
#: Gaussians of the i-vector stand-in's UBM (2,048 in speaker recognition; a small model has few frames)
UBM_COMPONENTS = 16
#: time windows (frames) of the MWTSM stand-in's branches
MWTSM_WINDOWS = (3, 5, 9)


def filterbank(audio: torch.Tensor, bands: int = BANDS) -> torch.Tensor:
    """`(B, 1, F, T)` -> `(B, 1, bands, T)`: adjacent frequency bins averaged (adaptive average pool)."""
    return F.adaptive_avg_pool2d(audio, (bands, audio.shape[-1]))


def _init(module: nn.Module) -> None:
    """The book's initialisation: Kaiming-normal (fan_out, relu) convs, BatchNorm weight 1 and bias 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def frame_layer(c_in: int, c_out: int, kernel: int = 1, dilation: int = 1) -> nn.Sequential:
    """A TDNN layer: a 1-D conv over time (as Conv2d over a `(B, C, 1, T)` map), ReLU, BatchNorm."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, (1, kernel), dilation=(1, dilation), padding=(0, dilation * (kernel - 1) // 2)),
        nn.ReLU(inplace=True),
        nn.BatchNorm2d(c_out),
    )


class XVectorEncoder(nn.Module):
    """`(B, 1, F, T)` -> `(B, 8w)`: TDNN frame layers, statistics pooling, a segment-level affine layer."""

    def __init__(self, width: int = 64, bands: int = BANDS):
        super().__init__()
        c = 8 * width
        self.bands, self.out_dim = bands, c
        self.frames = nn.Sequential(
            # layer 1 reads all bands of 5 frames: a Conv1d(bands, c, 5), written as a (bands x 5) Conv2d
            nn.Sequential(nn.Conv2d(1, c, (bands, 5), padding=(0, 2)), nn.ReLU(inplace=True), nn.BatchNorm2d(c)),
            frame_layer(c, c, 3, 2),
            frame_layer(c, c, 3, 3),
            frame_layer(c, c),
            frame_layer(c, 3 * c),
        )
        self.segment = nn.Conv2d(6 * c, c, 1)  # the embedding layer (segment6), a 1x1 conv
        _init(self)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        h = self.frames(filterbank(audio, self.bands))  # (B, 3c, 1, T)
        stats = torch.cat([h.mean(dim=3), h.std(dim=3)], dim=1)  # statistics pooling: (B, 6c, 1)
        return F.relu(self.segment(stats.unsqueeze(3))).flatten(1)


class IVectorEncoder(nn.Module):
    """`(B, 1, F, T)` -> `(B, 8w)`: Baum-Welch statistics under a learned diagonal-GMM UBM, projected by T."""

    def __init__(self, width: int = 64, bands: int = BANDS, components: int = UBM_COMPONENTS):
        super().__init__()
        self.bands, self.components, self.out_dim = bands, components, 8 * width
        self.means = nn.Parameter(torch.randn(components, bands))
        self.log_vars = nn.Parameter(torch.zeros(components, bands))
        self.log_weights = nn.Parameter(torch.zeros(components))
        self.total_variability = nn.Conv2d(components * bands, self.out_dim, 1, bias=False)  # T
        _init(self)

    def statistics(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Zeroth order `N (B, C)` and normalised centred first order `(B, C, bands)` statistics."""
        x = filterbank(audio, self.bands)[:, 0].transpose(1, 2)  # (B, T, bands) frames
        diff = x.unsqueeze(2) - self.means  # (B, T, C, bands)
        inv_var = torch.exp(-self.log_vars)
        log_lik = -0.5 * ((diff**2) * inv_var + self.log_vars).sum(-1)  # log N(x_t; mu_c, Sigma_c) + const
        gamma = torch.softmax(log_lik + torch.log_softmax(self.log_weights, 0), dim=2)  # posteriors (B, T, C)
        n = gamma.sum(dim=1)  # N_c
        first = torch.einsum("btc,btcf->bcf", gamma, diff)  # F_c = sum_t gamma (x_t - mu_c)
        first = first * inv_var.sqrt() / (n.unsqueeze(2) + 1.0)  # / sigma_c, / (N_c + 1)
        return n, first

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        _, first = self.statistics(audio)
        supervector = first.flatten(1)[:, :, None, None]  # (B, C * bands, 1, 1)
        return self.total_variability(supervector).flatten(1)  # w ~ T' (normalised stats)


class ShiftBlock(nn.Module):
    """A residual block over time with TSM's shift of the block's input (residual shift), kernel `window`."""

    def __init__(self, channels: int, window: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, (1, window), padding=(0, window // 2), bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, (1, window), padding=(0, window // 2), bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, C, 1, T)
        out = F.relu(self.bn1(self.conv1(temporal_shift(x, time_dim=3, channel_dim=1))))
        return F.relu(x + self.bn2(self.conv2(out)))


class MWTSMEncoder(nn.Module):
    """`(B, 1, F, T)` -> `(B, 8w)`: the multi-window temporal-shift stand-in (module docstring)."""

    def __init__(self, width: int = 64, bands: int = BANDS, windows: tuple[int, ...] = MWTSM_WINDOWS):
        super().__init__()
        c = 8 * width
        self.bands, self.out_dim = bands, c
        self.stem = nn.Sequential(nn.Conv2d(1, c, (bands, 1), bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True))
        self.branches = nn.ModuleList([ShiftBlock(c, w) for w in windows])
        self.project = nn.Conv2d(len(windows) * c, c, 1)
        _init(self)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        h = self.stem(filterbank(audio, self.bands))  # (B, c, 1, T)
        pooled = torch.cat([branch(h).mean(dim=3, keepdim=True) for branch in self.branches], dim=1)
        return F.relu(self.project(pooled)).flatten(1)


AUDIO_ENCODERS = {"xvector": XVectorEncoder, "ivector": IVectorEncoder, "mwtsm": MWTSMEncoder}
