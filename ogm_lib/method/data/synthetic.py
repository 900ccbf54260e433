"""# `synthetic`: two modalities with a difficulty dial each

For unit tests and for sweeping the degree of imbalance we want data that is made in well under a second,
needs no file at all, and whose two modalities can be made easy or hard independently. `make_synthetic`
draws it:

- each of the 10 classes has one **prototype per modality**: a smooth random pattern (white noise low-pass
  filtered with a Gaussian in the Fourier domain, so patterns are periodic). Like spectrograms of different
  words, prototypes resemble each other: half of each one's energy is a pattern common to all classes,
  half is its own. Audio prototypes have unit std; visual ones std 0.375, the contrast of sklearn's digit
  images scaled to 0-1;
- an **audio** sample `(1, 32, 32)` is its class's audio prototype, shifted circularly along time by up to
  1/8 of the length (an onset that varies), plus noise;
- a **visual** sample `(3, T, H, W)` is `T = n_frames` frames of the class's visual prototype, each shifted
  by up to 1/8 of the side in both directions, plus noise drawn afresh per frame; the 3 channels are grey
  copies (a broadcast view, as in `avdigits`).

The noise is a smooth random field with the *same* spectrum as the prototypes. White noise would be too
easy to average away (a blur removes most of it); noise that looks like signal keeps the knobs meaningful:

- audio noise std is `10 ** (-audio_snr_db / 20)` relative to the unit-std prototype (SNR in dB);
- visual noise std is `visual_noise` per pixel, as in `avdigits`.

Lower SNR or higher visual noise make a modality harder, monotonically (tested). At the defaults
(0 dB, 0.8, 16 px, 3 frames, 3,000 clips) a logistic regression on the raw inputs reaches 85 % on audio and
55 % on visual (test): audio is the dominant modality and neither is at ceiling. The constants below
(`SMOOTH`, `SPECIFIC`, `VISUAL_CONTRAST`) were set for that.

Sizes: `synthetic_size` clips for train+val (`val_fraction` of them validation) plus `synthetic_size // 5`
for test, classes balanced. Everything is drawn from `SYNTHETIC_SEED`, not the run's seed, so every run
sees the same data.
"""

from __future__ import annotations

import math

import torch

from ..config import RunConfig
from .common import AVSplits, AVTensorDataset

SYNTHETIC_SEED = 0
NUM_CLASSES = 10
AUDIO_SIZE = 32  # F = T = 32
SMOOTH = 0.16  # std of the Gaussian blur, as a fraction of the side
SHIFT = 1 / 8  # largest shift, as a fraction of the side
VISUAL_CONTRAST = 0.375  # std of a visual prototype (that of sklearn's digit images scaled to 0-1)
SPECIFIC = 0.5  # share of a prototype's energy that is specific to its class
CLASS_NAMES = [str(c) for c in range(NUM_CLASSES)]


def smooth_field(shape: tuple[int, ...], generator: torch.Generator, normalise: str = "each") -> torch.Tensor:
    """Periodic smooth random fields over the last two axes.

    `normalise="each"`: every field scaled to zero mean and unit std (prototypes); `"expected"`: divided by
    the filter's expected std, so fields have unit std on average, without a pass over the data (noise).
    """
    h, w = shape[-2:]
    white = torch.randn(shape, generator=generator)
    fy = torch.fft.fftfreq(h).view(-1, 1)
    fx = torch.fft.fftfreq(w).view(1, -1)
    # Gaussian blur of std SMOOTH * side, applied as its Fourier transform
    gain = torch.exp(-2 * math.pi**2 * ((fy * SMOOTH * h) ** 2 + (fx * SMOOTH * w) ** 2))
    field = torch.fft.irfft2(torch.fft.rfft2(white) * gain[:, : w // 2 + 1], s=(h, w))
    if normalise == "each":
        field = field - field.mean(dim=(-2, -1), keepdim=True)
        return field / field.std(dim=(-2, -1), keepdim=True)
    # Parseval: filtered unit white noise has variance mean(gain ** 2) over the full frequency grid
    return field / gain.pow(2).mean().sqrt()


def prototypes(side: int, generator: torch.Generator) -> torch.Tensor:
    """One unit-std pattern per class: a part common to all classes plus a class-specific part."""
    common = smooth_field((1, side, side), generator)
    specific = smooth_field((NUM_CLASSES, side, side), generator)
    proto = math.sqrt(1 - SPECIFIC) * common + math.sqrt(SPECIFIC) * specific
    return proto / proto.std(dim=(-2, -1), keepdim=True)


def roll_each(x: torch.Tensor, shifts: torch.Tensor, dim: int) -> torch.Tensor:
    """`torch.roll` with a different shift per sample (along axis `dim`), vectorised with a gather."""
    n = x.shape[dim]
    idx = (torch.arange(n) - shifts.view(-1, 1)) % n  # (B, n)
    view = [x.shape[0]] + [1] * (x.dim() - 1)
    view[dim] = n
    idx = idx.view(view).expand_as(x)
    return torch.gather(x, dim, idx)


def make_synthetic(config: RunConfig, *, data_seed: int = SYNTHETIC_SEED) -> AVSplits:
    """Train/val/test `AVTensorDataset`s of synthetic audio `(1, 32, 32)` and visual `(3, T, H, W)` clips."""
    g = torch.Generator().manual_seed(data_seed)
    n_trval = int(config.synthetic_size)
    n_val = int(round(config.val_fraction * n_trval))
    sizes = {"train": n_trval - n_val, "val": n_val, "test": n_trval // 5}
    T, S, A = int(config.n_frames), int(config.image_size), AUDIO_SIZE

    audio_proto = prototypes(A, g)
    visual_proto = VISUAL_CONTRAST * prototypes(S, g)
    a_noise = 10 ** (-config.audio_snr_db / 20)
    v_noise = float(config.visual_noise)

    splits = {}
    for name, n in sizes.items():
        # balanced labels in a random order
        labels = (torch.arange(n) % NUM_CLASSES)[torch.randperm(n, generator=g)]
        # audio: prototype with a random onset along time, plus smooth noise
        shift = torch.randint(-int(SHIFT * A), int(SHIFT * A) + 1, (n,), generator=g)
        audio = roll_each(audio_proto[labels], shift, dim=2) + a_noise * smooth_field((n, A, A), g, "expected")
        # visual: T frames, each shifted in both axes, plus fresh smooth noise per frame
        frames = visual_proto[labels].unsqueeze(1).expand(n, T, S, S).reshape(n * T, S, S)
        k = int(SHIFT * S)
        frames = roll_each(frames, torch.randint(-k, k + 1, (n * T,), generator=g), dim=1)
        frames = roll_each(frames, torch.randint(-k, k + 1, (n * T,), generator=g), dim=2)
        frames = frames + v_noise * smooth_field((n * T, S, S), g, "expected")
        visual = frames.view(n, 1, T, S, S).expand(n, 3, T, S, S)  # grey -> RGB copies, a view
        splits[name] = AVTensorDataset(audio.unsqueeze(1).float(), visual.float(), labels, CLASS_NAMES)
    return AVSplits(splits["train"], splits["val"], splits["test"], list(CLASS_NAMES))
