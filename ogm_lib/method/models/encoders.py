"""ResNet-18 encoders for the audio spectrogram and the visual frames.

The paper trains both encoders from scratch as ResNet-18 (He et al. 2016): a 7x7 stride-2 stem, a 3x3
stride-2 max-pool, then four stages of two BasicBlocks with widths w, 2w, 4w, 8w (w = 64 in the paper),
no average-pool or fc inside the encoder.

- Audio: a `(B, 1, F, T)` log spectrogram -> feature map -> mean over frequency and time -> `(B, 8w)`.
- Visual: `(B, 3, T, H, W)` frames. The T frames are folded into the batch, `(B*T, 3, H, W)`, each frame is
  encoded by the same 2-D ResNet, and the map is averaged over time and space -> `(B, 8w)`.

`width` is the only size knob, so the CPU profile (w = 8) and the paper profile (w = 64) share one code
path; at w = 64 each encoder has exactly the parameters of torchvision's resnet18 minus its fc layer (with
conv1's input channels adjusted), which `tests/test_models.py` checks.
"""

from __future__ import annotations

import torch
from torch import nn


class BasicBlock(nn.Module):
    """Two 3x3 convs with a residual connection (a 1x1 conv on the shortcut when the shape changes)."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_ch != out_ch:
            self.downsample = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    """ResNet-18 trunk (no pooling head): `(N, C_in, H, W)` -> `(N, 8*width, h, w)`."""

    def __init__(self, in_channels: int, width: int = 64):
        super().__init__()
        w = width
        self.conv1 = nn.Conv2d(in_channels, w, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = nn.Sequential(BasicBlock(w, w), BasicBlock(w, w))
        self.layer2 = nn.Sequential(BasicBlock(w, 2 * w, 2), BasicBlock(2 * w, 2 * w))
        self.layer3 = nn.Sequential(BasicBlock(2 * w, 4 * w, 2), BasicBlock(4 * w, 4 * w))
        self.layer4 = nn.Sequential(BasicBlock(4 * w, 8 * w, 2), BasicBlock(8 * w, 8 * w))
        self.out_dim = 8 * w
        # Official initialisation: Kaiming-normal (fan_out, relu) convs, BN weight 1 and bias 0.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


class AudioEncoder(nn.Module):
    """`(B, 1, F, T)` spectrogram -> `(B, 8w)`: ResNet-18 with a 1-channel stem, mean over space."""

    def __init__(self, width: int = 64):
        super().__init__()
        self.net = ResNet18(1, width)
        self.out_dim = self.net.out_dim

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return self.net(audio).mean(dim=(2, 3))


class VisualEncoder(nn.Module):
    """`(B, 3, T, H, W)` frames -> `(B, 8w)`: frames folded into the batch, mean over time and space."""

    def __init__(self, width: int = 64, in_channels: int = 3):
        super().__init__()
        self.net = ResNet18(in_channels, width)
        self.out_dim = self.net.out_dim

    def forward(self, visual: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = visual.shape
        frames = visual.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)  # (B*T, C, H, W)
        fmap = self.net(frames)  # (B*T, D, h, w)
        return fmap.reshape(b, t, *fmap.shape[1:]).mean(dim=(1, 3, 4))  # mean over T, h, w
