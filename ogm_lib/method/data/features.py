"""Audio features of the paper's four datasets: waveform -> the official spectrogram (`DatasetSpec`).

**Audio features, per dataset (the official parameters).**

- cremad, 22,050 Hz: tiled to 3 s, clipped to [-1, 1]; STFT n_fft 512, hop 353, Hann, centred;
  log(|S| + 1e-7) -> 257 x 188, all of it given to the model.
- vggsound, 16 kHz: tiled to 10 s, clipped; STFT n_fft 256, hop 128, same log -> 129 x 1251 stored;
  the model sees a 626-frame (5 s) window.
- ksounds, 16 kHz: DC removed; Kaldi-style fbank, 128 mel bins, 25 ms frames every 10 ms, padded or cut
  to 1024 frames -> 128 x 1024.
- ave, 16 kHz: tiled to 10 s; scipy spectrogram nperseg 512, noverlap 353; log(S + 1e-7); per-clip
  z-score -> 257 x 1004.

Deviations, all small: resampling is libswresample's (through PyAV), not librosa's soxr; the STFT pads
with zeros for centring (librosa >= 0.10's default); CREMA-D tiles until 3 s are covered (official: tiles
exactly 3 times, which is shorter than 3 s for clips under a second); VGGSound stores the whole 10 s and
the loader draws the 5 s window (official: a random start in [0, 5 s] drawn on the waveform at every
access; the same augmentation up to the 8 ms hop and the window's edge frames); stereo is averaged to
mono; AVE's spectrogram is taken on float samples in [-1, 1], not int16
(the z-score removes the scale). See `kaldi_fbank` for how it differs from Kaldi.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


def fix_length(wave: np.ndarray, n: int, tile: bool = True) -> np.ndarray:
    """Exactly `n` samples: repeat the clip until it covers `n` (or pad zeros if `tile` is False), then cut."""
    if len(wave) == 0:
        raise ValueError("empty waveform")
    if len(wave) < n:
        if tile:
            wave = np.tile(wave, -(-n // len(wave)))
        else:
            wave = np.pad(wave, (0, n - len(wave)))
    return wave[:n]


def stft_log_magnitude(wave: np.ndarray, n_fft: int, hop: int, eps: float = 1e-7) -> np.ndarray:
    """`log(|librosa.stft(wave, n_fft, hop)| + eps)`: periodic Hann, centred with zero padding.

    Returns `(1 + n_fft // 2, 1 + len(wave) // hop)` float32, frequency first like librosa.
    """
    wave = np.asarray(wave, np.float32)
    padded = np.pad(wave, n_fft // 2)
    n = 1 + (len(padded) - n_fft) // hop
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop][:n]
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)
    spec = np.fft.rfft(frames * window, axis=1)
    return np.log(np.abs(spec) + eps).T.astype(np.float32)


def _mel(f):
    return 1127.0 * np.log(1.0 + np.asarray(f, np.float64) / 700.0)


def kaldi_mel_banks(
    n_mels: int, n_fft: int, sample_rate: int, low_freq: float = 20.0, high_freq: float = 0.0
) -> np.ndarray:
    """Kaldi's triangular filters, `(n_mels, n_fft // 2 + 1)`: triangles are linear in mel, not in Hz.

    `high_freq <= 0` counts down from Nyquist, as in Kaldi. The Nyquist bin gets weight 0 (Kaldi too).
    """
    nyquist = 0.5 * sample_rate
    if high_freq <= 0:
        high_freq += nyquist
    mel_low, mel_high = _mel(low_freq), _mel(high_freq)
    delta = (mel_high - mel_low) / (n_mels + 1)
    left = mel_low + delta * np.arange(n_mels)[:, None]
    centre, right = left + delta, left + 2 * delta
    mel = _mel(np.arange(n_fft // 2) * sample_rate / n_fft)[None, :]
    up = (mel - left) / (centre - left)
    down = (right - mel) / (right - centre)
    banks = np.maximum(0.0, np.minimum(up, down))
    return np.pad(banks, ((0, 0), (0, 1))).astype(np.float64)


def kaldi_fbank(
    wave: np.ndarray,
    sample_rate: int = 16000,
    n_mels: int = 128,
    frame_length_ms: float = 25.0,
    frame_shift_ms: float = 10.0,
    preemphasis: float = 0.97,
    target_frames: int | None = 1024,
) -> np.ndarray:
    """Log mel filterbank as `torchaudio.compliance.kaldi.fbank` computes it in the AST recipe.

    The Kinetics-Sounds audio of the OGM-GE maintainers (and of AST) is
    `fbank(wave - wave.mean(), htk_compat=True, use_energy=False, window_type='hanning', num_mel_bins=128,
    dither=0.0, frame_shift=10)`, then zero-padded or cut to 1024 frames. Re-done here in numpy, step by
    step as torchaudio does it: frames of 25 ms every 10 ms (only whole frames: `snip_edges`), each frame's
    mean removed, pre-emphasis 0.97 (the first sample against itself), a symmetric Hann window, zero-padded
    to the next power of two (512 at 16 kHz), power spectrum, Kaldi mel filters from 20 Hz to Nyquist,
    `log(max(energy, float32 eps))`.

    Differences from Kaldi proper: the input is a float waveform in [-1, 1] (Kaldi reads int16, so its
    values are log(32768^2) ~ 20.8 higher), no dither, a Hann window instead of Kaldi's default "povey",
    and the padding to a fixed 1024 frames. No dataset normalisation is applied (AST's AudioSet mean/std
    would be dataset-specific). Returns `(n_mels, frames)` float32, mel bins first like the other datasets.
    """
    wave = np.asarray(wave, np.float64)
    wave = wave - wave.mean()
    length = int(sample_rate * frame_length_ms / 1000)
    shift = int(sample_rate * frame_shift_ms / 1000)
    if len(wave) < length:
        wave = np.pad(wave, (0, length - len(wave)))
    n = 1 + (len(wave) - length) // shift
    frames = np.lib.stride_tricks.sliding_window_view(wave, length)[::shift][:n].copy()
    frames -= frames.mean(axis=1, keepdims=True)
    previous = np.concatenate([frames[:, :1], frames[:, :-1]], axis=1)
    frames = frames - preemphasis * previous
    frames *= np.hanning(length)
    n_fft = 1 << (length - 1).bit_length()
    power = np.abs(np.fft.rfft(frames, n=n_fft, axis=1)) ** 2
    energies = power @ kaldi_mel_banks(n_mels, n_fft, sample_rate).T
    fbank = np.log(np.maximum(energies, np.finfo(np.float32).eps))
    if target_frames is not None:
        if len(fbank) < target_frames:
            fbank = np.pad(fbank, ((0, target_frames - len(fbank)), (0, 0)))
        fbank = fbank[:target_frames]
    return fbank.T.astype(np.float32)


def scipy_log_spectrogram(
    wave: np.ndarray, sample_rate: int = 16000, nperseg: int = 512, noverlap: int = 353
) -> np.ndarray:
    """The older AVE pipeline: `scipy.signal.spectrogram` (Tukey window, density scaling), `log(S + 1e-7)`,
    then a per-clip z-score. `(nperseg // 2 + 1, frames)` float32."""
    from scipy import signal

    _, _, spec = signal.spectrogram(np.asarray(wave, np.float64), sample_rate, nperseg=nperseg, noverlap=noverlap)
    spec = np.log(spec + 1e-7)
    return ((spec - spec.mean()) / (spec.std() + 1e-9)).astype(np.float32)


def cremad_features(wave: np.ndarray) -> np.ndarray:
    """CREMA-D at 22,050 Hz: tile to 3 s, clip to [-1, 1], log |STFT| n_fft 512 hop 353 -> 257 x 188."""
    return stft_log_magnitude(np.clip(fix_length(wave, 3 * 22050), -1, 1), 512, 353)


def vggsound_features(wave: np.ndarray) -> np.ndarray:
    """VGGSound at 16 kHz: tile to 10 s, clip, log |STFT| n_fft 256 hop 128 -> 129 x 1251 (10 s).

    The model sees a 626-frame (5 s) window of it, drawn by the loader."""
    return stft_log_magnitude(np.clip(fix_length(wave, 10 * 16000), -1, 1), 256, 128)


def ksounds_features(wave: np.ndarray) -> np.ndarray:
    """Kinetics-Sounds at 16 kHz: Kaldi-style fbank, 128 mel bins, 10 ms shift, 1024 frames."""
    return kaldi_fbank(wave, 16000, n_mels=128, target_frames=1024)


def ave_features(wave: np.ndarray) -> np.ndarray:
    """AVE at 16 kHz: tile to 10 s, scipy spectrogram nperseg 512 noverlap 353, log, z-score -> 257 x 1004."""
    return scipy_log_spectrogram(fix_length(wave, 10 * 16000), 16000, 512, 353)


@dataclass(frozen=True)
class DatasetSpec:
    """What preparation needs to know about one dataset's audio and frames."""

    name: str
    sample_rate: int
    features: Callable[[np.ndarray], np.ndarray]  # mono float waveform at sample_rate -> (F, T_stored)
    spec_shape: tuple[int, int]  # (F, T_stored)
    crop_frames: int  # T the model sees (a window of T_stored)
    max_frames: int  # 1-fps frames stored per clip


SPECS: dict[str, DatasetSpec] = {
    "cremad": DatasetSpec("cremad", 22050, cremad_features, (257, 188), 188, 3),
    "vggsound": DatasetSpec("vggsound", 16000, vggsound_features, (129, 1251), 626, 10),
    "ksounds": DatasetSpec("ksounds", 16000, ksounds_features, (128, 1024), 1024, 10),
    "ave": DatasetSpec("ave", 16000, ave_features, (257, 1004), 1004, 10),
}
