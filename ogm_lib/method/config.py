"""One dataclass for a run, plus named profiles.

A run of this project is fully described by a `RunConfig`: which data, which model, which balancing
method and which optimiser. Its `key()` (a hash of every field that can change the numbers) names the
result file, so asking for an identical run twice reads the first result back (see `results.py`).

Profiles bundle the sizes and schedule of a setting:

- `paper`: the paper's ResNet-18 pair at full width, SGD lr 1e-3, StepLR(70, 0.1), 100 epochs, batch 64.
- `cpu`:   the book's default, a narrow ResNet-18 on the small `avdigits` data, sized for a 2-core laptop:
           12 epochs, StepLR(8, 0.1), modulation in epochs 0..5. The paper's schedule in proportion
           (modulation over the first half, then free training, then the lr drop at about 70%), short
           enough that the book's 69 runs train in under half an hour on 2 cores.
- `converged`: the `cpu` model and data with the paper's steps per epoch and a schedule that converges
           (`regimes.py`): batch 24 (102 steps per epoch on 2,430 training clips; the paper's CREMA-D runs
           take 105), 20 epochs, modulation in epochs 0..9 (1,020 modulated steps), StepLR at epoch 14 (70 %).
- `gpu`:   the paper's model and schedule (as `paper`: width 64, 100 epochs, batch 64, SGD lr 1e-3,
           StepLR(70, 0.1), modulation in epochs 0..50) on the default data, so a GPU shows the paper's
           regime without the paper's datasets. The data keeps the book's sizes (16-pixel frames, one frame
           per clip): avdigits' difficulty is set at that size, and 224-pixel frames, 28 output pixels per
           pixel of an 8x8 digit, would average the pixel noise away and change which modality dominates.
- `smoke`: seconds, for tests and for checking that a notebook runs end to end.

Speed switches (`amp`, `channels_last`, `fused_optimizer`, `compile`) and `world_size` (the number of
data-parallel processes, set by `distributed.fit_ddp`) do not change the method, but they can change the
numbers by float rounding (bf16 autocast more than that). They enter the key only when they differ from
their default, so every plain fp32 single-process run keeps the key it always had.

The plug-in models of the paper's Tables 3 to 5 (`video_model`, `audio_model`, `task`: `models/plugin.py`,
`models/localisation.py`, `data/events.py`) were added later the same way: at their defaults (the book's
ResNet-18 pair, clip classification) they are left out of the key.

The data is in the key too: `data_fingerprint` (`data/fingerprint.py`). A config is data, and making one
reads no file: for `avdigits` the fingerprint hashes inputs the code pins (the FSDD checksum list, by the
hash the catalogue records, and the preprocessing version), so it is set while the config is made, and is
left out of the key at today's value (`PINNED_FINGERPRINTS`); a prepared store's (a hash of its files'
checksums, so a completed or replaced store gives a new key) is read from the store where the data is
opened, `fingerprinted(config)`, and until then the config has None there and `key()` refuses it. The
split rule `split` ("official", or "speaker": speakers disjoint,
`data/splits.py`) enters the key only when it is not "official". `data_dir` stays out: the same data may
live anywhere (`paths.dataset_dir` resolves the default folder). The same holds for
`ge_noise` (GE's noise, added after the book's runs were made): at its default, the official code's
isotropic noise, it is left out of the key.

Unknown names (dataset, fusion, method, profile, ...) fail fast with the list of valid choices, and every
value is checked when the config is made (`RunConfig.__post_init__`, before any data is read): types,
ranges (`RANGES`: each message names the field, the value and the valid range), a modulation window that
modulates at least one epoch for a modulating method, and the synthetic data's split sizes. Whether the
device exists is checked by `check_device`, when a run is about to train (`Trainer`) or from the command
line: a config naming `cuda` may still be made on a CPU machine, to compute its key or read its result.
The checks only refuse values; a config they accept has the key and the numbers it always had.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import numbers
from dataclasses import dataclass, field, fields
from typing import Any

from ..ground.catalogue import (  # noqa: F401
    DATASETS,
    PINNED_FINGERPRINTS,
    PREPARED_DATASETS,
    SPEAKER_DATASETS,
    SPLIT_RULES,
    VISUAL_SOURCES,
)

MODALITIES = ("av", "audio", "visual")
FUSIONS = ("concat", "sum", "film", "gated")
#: video architectures (`models/video.py`, the paper's Table 3) and audio encoders (`models/speech.py`, Table 4);
#: "resnet18" is the book's model (`models/encoders.py`)
VIDEO_MODELS = ("resnet18", "tsn", "tsm", "tbn", "psp", "avga")
#: what a run learns: "classify" a clip, or label every segment of a sequence ("events": AVE's task, Table 5;
#: AVE's own 10 one-second segments (prepared store, data/prepared.py), or sequences made from an in-memory
#: dataset's clips, data/events.py; models: avga, psp, models/localisation.py)
TASKS = ("classify", "events")
EVENT_DATASETS = ("avdigits", "synthetic", "ave")
AUDIO_MODELS = ("resnet18", "xvector", "ivector", "mwtsm")
#: modulation methods (modulation.py) and the comparison methods (strategies.py)
METHODS = ("normal", "ogm", "ogm_ge", "ge", "mdrop_audio", "mdrop_visual", "grad_blend", "opm")
MODULATE_PARAMS = ("conv", "all")
#: GE noise (modulation.py): "official" (isotropic, std of the unscaled gradient; the default), "sgd" (the
#: paper's: covariance Sigma_sgd of mini-batch noise, from the two halves of the batch), "sgd_k" (that noise
#: times k), "sgd_restore" (times sqrt(k (1 - k)): the SGD temperature per unit of effective learning rate)
GE_NOISES = ("official", "sgd", "sgd_k", "sgd_restore")
OPTIMIZERS = ("sgd", "adam")
#: autocast modes: "none" (plain fp32) or "bf16" (torch.autocast to bfloat16; no loss scaling needed)
AMP_MODES = ("none", "bf16")

#: fields that never change what is learned, so they are left out of the cache key
_NOT_IN_KEY = ("profile", "device", "num_workers", "data_dir", "quiet", "tensorboard_dir", "results_dir")
#: fields that only change the numbers by rounding: in the key only when not at this default value
_KEY_UNLESS_DEFAULT = {
    "amp": "none",
    "channels_last": False,
    "fused_optimizer": False,
    "compile": False,
    "world_size": 1,
    "split": "official",
    # a method option added later: every run made before it keeps its key
    "ge_noise": "official",
    # the plug-in architectures of Tables 3 and 4 (added later): the book's model keeps its key
    "video_model": "resnet18",
    "audio_model": "resnet18",
    "task": "classify",
    # the testbed search's data knobs and validation records (added later, `testbed.py`)
    "visual_source": "digits",
    "visual_clutter": 0,
    "train_fraction": 1.0,
    "record_val": False,
}


#: modulation methods that change the gradients, and so need a modulation window with at least one epoch
MODULATING_METHODS = ("ogm", "ogm_ge", "ge")

#: seeds are below this (RANGES): the largest generator seed a run derives, seed * 1000 + 5, stays below 2**64
SEED_LIMIT = 2**64 // 1000

#: numeric fields: (kind, low, high, low inclusive, high inclusive, what the range means); None: unbounded.
#: Float fields must also be finite (a result file holds strict JSON, and inf/nan are never meant).
RANGES: dict[str, tuple] = {
    "val_fraction": (float, 0, 1, False, False, "a share of the training split"),
    "n_frames": (int, 1, None, True, True, ""),
    "image_size": (int, 1, None, True, True, ""),
    "audio_snr_db": (float, None, None, True, True, "use a large value such as 100 for nearly clean audio"),
    "visual_noise": (float, 0, None, True, True, "a standard deviation"),
    "audio_seconds": (float, 0, None, False, True, ""),
    "synthetic_size": (int, 1, None, True, True, ""),
    "visual_clutter": (int, 0, None, True, True, "distractor strokes per frame; 0: none"),
    "train_fraction": (float, 0, 1, False, True, "a share of the training clips"),
    "width": (int, 1, None, True, True, ""),
    "alpha": (
        float,
        0,
        None,
        True,
        True,
        "0 turns OGM's scaling off, k = 1 - tanh(0) = 1; a negative alpha would speed the dominant "
        "modality up instead of slowing it down",
    ),
    "modulation_start": (int, 0, None, True, True, "epochs are 0-indexed"),
    "modulation_end": (int, 0, None, True, True, "epochs are 0-indexed"),
    "drop_prob": (float, 0, 1, True, True, "a probability"),
    "opm_q_base": (float, 0, 1, True, True, "a probability"),
    "opm_lambda": (float, 0, None, True, True, ""),
    "opm_p_exe": (float, 0, 1, True, True, "a probability"),
    "gb_super_epoch": (int, 1, None, True, True, ""),
    "lr": (float, 0, None, False, True, "a learning rate of 0 trains nothing"),
    "momentum": (float, 0, 1, True, False, ""),
    "weight_decay": (float, 0, None, True, True, ""),
    "lr_step": (int, 1, None, True, True, "epochs between learning-rate drops"),
    "lr_gamma": (float, 0, None, False, True, "the factor of each learning-rate drop"),
    "epochs": (int, 1, None, True, True, ""),
    "batch_size": (int, 1, None, True, True, ""),
    # torch generators take seeds below 2**64, and a run seeds them with seed + 1, seed + 2 and (avdigits'
    # frames) seed * 1000 + 5: every seed below 2**64 // 1000 keeps all of them in range
    "seed": (
        int,
        0,
        SEED_LIMIT,
        True,
        False,
        "numpy and torch generators take non-negative seeds, torch's below "
        "2**64, and avdigits seeds its frames with seed * 1000 + 5",
    ),
    "probe_every": (int, 0, None, True, True, "0: never"),
    "world_size": (int, 1, None, True, True, ""),
    "num_workers": (int, 0, None, True, True, ""),
}
#: switches that must be booleans (a string such as "false" would be true)
BOOLEANS = ("eval_train", "record_val", "channels_last", "fused_optimizer", "compile", "quiet")
#: fields that hold a path or nothing
OPTIONAL_PATHS = ("data_dir", "tensorboard_dir", "results_dir")


def check_choice(name: str, value: Any, choices: tuple) -> None:
    """Raise a ValueError naming the valid choices when `value` is not one of them."""
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; valid choices: {', '.join(map(str, choices))}")


def describe_range(name: str, low, high, low_inclusive: bool = True, high_inclusive: bool = True) -> str:
    """`lr > 0`, `epochs >= 1`, `0 < val_fraction < 1`, ... for an error message."""
    if low is not None and high is not None:
        return f"{low} {'<=' if low_inclusive else '<'} {name} {'<=' if high_inclusive else '<'} {high}"
    if low is not None:
        return f"{name} {'>=' if low_inclusive else '>'} {low}"
    if high is not None:
        return f"{name} {'<=' if high_inclusive else '<'} {high}"
    return f"{name} finite"


def check_number(
    name: str,
    value: Any,
    kind: type = float,
    low=None,
    high=None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
    meaning: str = "",
) -> Any:
    """Refuse a value of the wrong type, non-finite or out of range, naming the field, the value and the range.

    `kind=int`: integers only (not bool, not 2.0); a numpy integer is returned as a Python int (its key
    could not be computed otherwise). `kind=float`: any real number, returned unchanged (an int stays an
    int: it is in the key as written)."""

    def fail(problem: str):
        rng = describe_range(name, low, high, low_inclusive, high_inclusive)
        extra = f" ({meaning})" if meaning else ""
        raise ValueError(f"{name} = {value!r} {problem}; valid: {rng}{extra}")

    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        fail(f"is not {'an integer' if kind is int else 'a number'}")
    if kind is int:
        if not isinstance(value, numbers.Integral):
            fail("is not an integer")
        value = int(value)
    elif not math.isfinite(value):
        fail("is not finite")
    if low is not None and (value < low or (value == low and not low_inclusive)):
        fail("is out of range")
    if high is not None and (value > high or (value == high and not high_inclusive)):
        fail("is out of range")
    return value


def parse_device(device: Any):
    """`torch.device(device)`, or a ValueError naming the valid forms (no check that it exists)."""
    import torch

    if not isinstance(device, (str, torch.device)):
        raise ValueError(f"device = {device!r} is not a device name; valid: cpu, cuda, cuda:N, mps")
    try:
        return torch.device(device)
    except (RuntimeError, ValueError):
        raise ValueError(f"unknown device {device!r}; valid: cpu, cuda, cuda:N (N a GPU index), mps") from None


def check_device(device: Any) -> None:
    """Refuse a device this machine does not have (`cuda` without a GPU, `cuda:3` with two, `mps` off a
    Mac), with the devices it does have."""
    import torch

    dev = parse_device(device)
    if dev.type == "cpu":
        return
    if dev.type == "cuda":
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n == 0:
            raise ValueError(
                f"device {str(device)!r}: this machine has no CUDA GPU that torch can use "
                f"(torch {torch.__version__}, built for CUDA {torch.version.cuda}); use --device cpu"
            )
        if dev.index is not None and dev.index >= n:
            raise ValueError(f"device {str(device)!r}: this machine has {n} CUDA GPU(s), cuda:0 to cuda:{n - 1}")
        return
    if dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(
                f"device {str(device)!r}: MPS (Apple silicon GPU) is not available on this machine; use --device cpu"
            )
        return
    raise ValueError(f"device {str(device)!r}: this project runs on cpu, cuda or mps, not {dev.type}")


#: each profile is a set of overrides of RunConfig's defaults
PROFILES: dict[str, dict[str, Any]] = {
    "paper": dict(
        width=64,
        epochs=100,
        batch_size=64,
        lr=1e-3,
        lr_step=70,
        lr_gamma=0.1,
        modulation_start=0,
        modulation_end=50,
        image_size=224,
    ),
    "cpu": dict(
        width=8,
        epochs=12,
        batch_size=64,
        lr=1e-2,
        lr_step=8,
        lr_gamma=0.1,
        modulation_start=0,
        modulation_end=5,
        image_size=16,
        n_frames=1,
    ),
    "converged": dict(
        width=8,
        epochs=20,
        batch_size=24,
        lr=1e-2,
        lr_step=14,
        lr_gamma=0.1,
        modulation_start=0,
        modulation_end=9,
        image_size=16,
        n_frames=1,
    ),
    "smoke": dict(
        width=4,
        epochs=2,
        batch_size=32,
        lr=1e-2,
        lr_step=70,
        lr_gamma=0.1,
        modulation_start=0,
        modulation_end=1,
        image_size=16,
        n_frames=2,
        synthetic_size=256,
    ),
    "gpu": dict(
        width=64,
        epochs=100,
        batch_size=64,
        lr=1e-3,
        lr_step=70,
        lr_gamma=0.1,
        modulation_start=0,
        modulation_end=50,
        image_size=16,
        n_frames=1,
    ),
}

#: per-dataset overrides applied on top of a profile (the paper's frames per clip, say)
DATASET_DEFAULTS: dict[str, dict[str, Any]] = {
    "cremad": dict(n_frames=1, alpha=0.8),
    "vggsound": dict(n_frames=3, alpha=0.1),
    "ksounds": dict(n_frames=3),
    "ave": dict(n_frames=3),
}


def option(default: Any, help: str, choices: tuple | None = None) -> Any:
    """A RunConfig field and its help text, the one source of the help of `python -m ogm_lib train`,
    of the data-parallel launcher (`options.py`) and of the options table in the docs."""
    return field(default=default, metadata={"help": help, "choices": choices})


@dataclass
class RunConfig:
    # --- data ---
    dataset: str = option("avdigits", "which data", DATASETS)
    modalities: str = option(
        "av", "'av' (joint model) or a unimodal model 'audio' / 'visual' (paper Table 1's first rows)", MODALITIES
    )
    data_dir: str | None = option(
        None,
        "prepared data folder (default <repository>/data/<dataset>, or $OGM_DATA_DIR/<dataset>; paths.dataset_dir)",
    )
    split: str = option(
        "official",
        "'official' (the dataset's own split, the paper's protocol) or 'speaker' "
        "(train, validation and test speakers disjoint; avdigits and cremad)",
        SPLIT_RULES,
    )
    data_fingerprint: str | None = option(
        None,
        "the data's fingerprint; filled in from the data (avdigits: the "
        "pinned inputs; a prepared store's manifest, where the data is "
        "opened: data/fingerprint.py), leave it out",
    )
    val_fraction: float = option(0.1, "share of train held out for model selection (the paper says 9:1)")
    n_frames: int = option(3, "visual frames per clip (T)")
    image_size: int = option(16, "visual frame side in pixels, after resizing")
    audio_snr_db: float = option(
        0.0, "avdigits/synthetic: SNR of the white noise added to the audio, in dB (lower = harder)"
    )
    visual_noise: float = option(0.8, "avdigits/synthetic: std of the pixel noise on the frames (higher = harder)")
    audio_seconds: float = option(0.5, "avdigits: waveform length the recordings are tiled/cut to")
    synthetic_size: int = option(3000, "synthetic: clips in train+val")
    visual_source: str = option(
        "digits",
        "avdigits: the images shown, scikit-learn's 8x8 'digits' or the 28x28 "
        "MNIST test images 'mnist' (data/mnist.py)",
        VISUAL_SOURCES,
    )
    visual_clutter: int = option(0, "avdigits: distractor strokes (crops of other digits) pasted on each frame")
    train_fraction: float = option(
        1.0, "avdigits: share of the training clips kept, per digit (fewer clips: easier to memorise)"
    )
    # --- model ---
    fusion: str = option("concat", "fusion module", FUSIONS)
    width: int = option(64, "ResNet-18 base width (64 = the paper's, torchvision's resnet18)")
    video_model: str = option(
        "resnet18",
        "video architecture: resnet18 (the book's), tsn, tsm, tbn, psp (paper "
        "Table 3; models/video.py); avga, psp with task events (Table 5)",
        VIDEO_MODELS,
    )
    audio_model: str = option(
        "resnet18",
        "audio encoder (paper Table 4; models/speech.py): resnet18 (the book's), xvector, ivector, mwtsm",
        AUDIO_MODELS,
    )
    task: str = option(
        "classify",
        "'classify' clips, or 'events': label every segment of event sequences (paper "
        "Table 5, data/events.py; video model avga or psp)",
        TASKS,
    )
    # --- method ---
    method: str = option("normal", "balancing method: normal, OGM, OGM-GE, GE alone, or a comparison method", METHODS)
    alpha: float = option(
        0.8,
        "OGM strength alpha >= 0 of k = 1 - tanh(alpha * rho) (paper Eq. 10); 0 turns "
        "the scaling off (official README: 0.8 CREMA-D, 0.1 VGGSound)",
    )
    modulation_start: int = option(0, "first modulated epoch (0-indexed, inclusive, as official)")
    modulation_end: int = option(50, "last modulated epoch (inclusive, as official)")
    modulate: str = option(
        "conv", "which encoder tensors OGM scales: 'conv' weights (official) or 'all'", MODULATE_PARAMS
    )
    ge_noise: str = option(
        "official",
        "GE's noise (methods ogm_ge, ge): 'official' (isotropic, std of the "
        "unscaled gradient), 'sgd' (the paper's: mini-batch noise covariance, "
        "from the batch's two halves; one extra backward pass), 'sgd_k' (that "
        "noise times k), 'sgd_restore' (times sqrt(k(1-k)): SGD's temperature "
        "per unit of effective learning rate)",
        GE_NOISES,
    )
    drop_prob: float = option(0.5, "modality-dropout probability (mdrop_audio / mdrop_visual)")
    opm_q_base: float = option(0.5, "OPM base drop probability: q = q_base * (1 + lambda * tanh(rho - 1))")
    opm_lambda: float = option(0.5, "OPM lambda")
    opm_p_exe: float = option(0.7, "OPM probability of modulating a step")
    gb_super_epoch: int = option(5, "gradient blending: epochs between weight estimates")
    # --- optimisation ---
    optimizer: str = option("sgd", "optimiser", OPTIMIZERS)
    lr: float = option(1e-3, "learning rate")
    momentum: float = option(0.9, "SGD momentum")
    weight_decay: float = option(1e-4, "weight decay")
    lr_step: int = option(70, "StepLR step (epochs)")
    lr_gamma: float = option(0.1, "StepLR factor")
    epochs: int = option(100, "training epochs")
    batch_size: int = option(64, "mini-batch size (the global batch when data parallel)")
    seed: int = option(0, "random seed")
    # --- extra measurements ---
    eval_train: bool = option(False, "also evaluate on the training split every epoch (generalisation gap)")
    probe_every: int = option(0, "linear-probe each frozen encoder every n epochs (paper Figure 1; 0: never)")
    record_val: bool = option(
        False,
        "also keep the validation split's per-clip predictions at the chosen epoch "
        "and each probe's validation accuracy (the testbed criteria, testbed.py)",
    )
    # --- speed (same method, numbers equal up to rounding; in the key only when not at the default) ---
    amp: str = option("none", "autocast: 'none' (fp32) or 'bf16' (forward and loss in bfloat16)", AMP_MODES)
    channels_last: bool = option(False, "NHWC memory format for the convs (faster tensor-core kernels)")
    fused_optimizer: bool = option(False, "fused optimiser step (SGD/Adam fused=True)")
    compile: bool = option(False, "torch.compile the training forward")
    world_size: int = option(1, "data-parallel processes: set by `torchrun -m ogm_lib.distributed`, leave at 1 here")
    # --- bookkeeping (not part of the cache key) ---
    profile: str = option("paper", "named profile whose values are the defaults", tuple(PROFILES))
    device: str = option("cpu", "torch device (cpu, cuda, cuda:1, mps)")
    num_workers: int = option(0, "DataLoader workers for prepared datasets")
    quiet: bool = option(False, "no progress bar")
    tensorboard_dir: str | None = option(
        None, "also log the per-step trace to TensorBoard here (default: no TensorBoard log)"
    )
    results_dir: str | None = option(
        None, "where result JSONs and checkpoints go (default ./results or $OGM_RESULTS_DIR)"
    )

    def __post_init__(self) -> None:
        self._check_values()
        check_choice("dataset", self.dataset, DATASETS)
        check_choice("split", self.split, SPLIT_RULES)
        if self.split == "speaker" and self.dataset not in SPEAKER_DATASETS:
            raise ValueError(
                f"split 'speaker' needs speaker ids, which {self.dataset} clips do not have; "
                f"valid: split 'official', or a dataset among {', '.join(SPEAKER_DATASETS)}"
            )
        check_choice("visual_source", self.visual_source, VISUAL_SOURCES)
        avdigits_knobs = [
            f"{n} {getattr(self, n)!r}"
            for n in ("visual_source", "visual_clutter", "train_fraction")
            if getattr(self, n) != _KEY_UNLESS_DEFAULT[n]
        ]
        if avdigits_knobs and self.dataset != "avdigits":
            raise ValueError(
                f"{', '.join(avdigits_knobs)}: knobs of the default data; valid with dataset "
                f"{self.dataset!r}: leave them at their defaults"
            )
        if self.data_fingerprint is None:  # from the code alone: a store's is read where it is opened
            from .data.fingerprint import builtin_fingerprint

            self.data_fingerprint = builtin_fingerprint(self.dataset)
        check_choice("modalities", self.modalities, MODALITIES)
        check_choice("fusion", self.fusion, FUSIONS)
        self._check_plugin_models()
        check_choice("method", self.method, METHODS)
        check_choice("modulate", self.modulate, MODULATE_PARAMS)
        check_choice("ge_noise", self.ge_noise, GE_NOISES)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("amp", self.amp, AMP_MODES)
        for switch in ("channels_last", "compile"):
            if getattr(self, switch) and not str(self.device).startswith("cuda"):
                # on CPU, torch 2.14's oneDNN computes wrong NHWC 1x1 stride-2 weight gradients (a double
                # free with one thread) when a conv has fewer input channels than its block, as in the
                # narrow profiles (oneDNN issue 6035); torch.compile's inductor picks NHWC for convs on
                # CPU and hits the same bug
                raise ValueError(
                    f"{switch} is a CUDA switch (on CPU, oneDNN's channels_last conv "
                    f"gradients are wrong in this torch); leave it off on device {self.device!r}"
                )
        if self.modalities != "av" and self.method != "normal":
            raise ValueError(f"method {self.method!r} needs both modalities; a unimodal run uses 'normal'")
        self._check_ge_noise()
        if self.method in MODULATING_METHODS:
            start, end, last = self.modulation_start, self.modulation_end, self.epochs - 1
            if end < start or start > last:
                raise ValueError(
                    f"method {self.method!r} would never modulate: modulation_start..modulation_end = "
                    f"{start}..{end} (inclusive) holds no epoch of 0..{last} (epochs = {self.epochs}); valid: "
                    f"modulation_start <= modulation_end and modulation_start <= {last}, or method 'normal'"
                )
        if self.dataset == "avdigits":
            from .data.avdigits import split_sizes

            sizes = split_sizes(self.val_fraction, self.split)
            if min(sizes.values()) < 1:  # no validation clip: no epoch could be chosen, nor scored
                empty = [k for k, v in sizes.items() if v < 1]
                raise ValueError(
                    f"val_fraction = {self.val_fraction} leaves no {' and no '.join(empty)} clip of "
                    f"avdigits (split {self.split!r}: {sizes}); valid: val_fraction >= "
                    f"{split_sizes_threshold(self.split)} (at least one clip per split)"
                )
        if self.dataset == "synthetic":
            sizes = _synthetic_sizes(self.synthetic_size, self.val_fraction)
            empty = [k for k, v in sizes.items() if v < 1]
            if empty:
                n = max(5, int(0.5 / self.val_fraction))
                while min(_synthetic_sizes(n, self.val_fraction).values()) < 1:
                    n += 1
                raise ValueError(
                    f"synthetic_size = {self.synthetic_size} with val_fraction = {self.val_fraction} "
                    f"leaves no {' and no '.join(empty)} clip (train {sizes['train']}, validation "
                    f"{sizes['validation']}, test = synthetic_size // 5 = {sizes['test']}); "
                    f"valid: synthetic_size >= {n} at this val_fraction"
                )

    def _check_plugin_models(self) -> None:
        """A plug-in architecture (Tables 3 and 4) is a joint model with concatenation-style fusion of its own."""
        check_choice("video_model", self.video_model, VIDEO_MODELS)
        check_choice("audio_model", self.audio_model, AUDIO_MODELS)
        plugin = [
            f"{n} {v!r}"
            for n, v in (("video_model", self.video_model), ("audio_model", self.audio_model))
            if v != "resnet18"
        ]
        if plugin and self.modalities != "av":
            raise ValueError(
                f"{' and '.join(plugin)} is a joint audio-visual model; valid with modalities "
                f"{self.modalities!r}: video_model and audio_model 'resnet18'"
            )
        check_choice("task", self.task, TASKS)
        if self.task == "events":
            problems = [
                p
                for p, bad in (
                    (
                        f"video_model 'avga' or 'psp' (not {self.video_model!r})",
                        self.video_model not in ("avga", "psp"),
                    ),
                    (
                        f"dataset among {', '.join(EVENT_DATASETS)} (not {self.dataset!r})",
                        self.dataset not in EVENT_DATASETS,
                    ),
                    (f"n_frames 1 (a segment shows one frame; not {self.n_frames})", self.n_frames != 1),
                    (f"probe_every 0 (the probes classify clips; not {self.probe_every})", self.probe_every != 0),
                    ("a method other than grad_blend", self.method == "grad_blend"),
                    (
                        "audio_model 'resnet18' and fusion 'concat' (the models fuse as their designs say)",
                        self.audio_model != "resnet18" or self.fusion != "concat",
                    ),
                )
                if bad
            ]
            if problems:
                raise ValueError(f"task 'events' needs {'; '.join(problems)}")
            return
        if self.video_model == "avga":
            raise ValueError("video_model 'avga' localises events: it needs task 'events'")
        if len(plugin) > 1:
            raise ValueError(
                f"{' and '.join(plugin)}: one plug-in at a time (the paper's Table 3 changes the video "
                "model, Table 4 the audio encoder); valid: leave one of them at 'resnet18'"
            )
        if plugin and self.fusion != "concat":
            raise ValueError(
                f"{' and '.join(plugin)} fuses as its design says (models/video.py, models/speech.py); "
                f"valid: fusion 'concat' (the default), not {self.fusion!r}"
            )

    def _check_ge_noise(self) -> None:
        """A non-default GE noise only where it changes the run (so no two keys name one computation)."""
        if self.ge_noise == "official":
            return
        if self.method not in ("ogm_ge", "ge"):
            raise ValueError(
                f"ge_noise = {self.ge_noise!r} is GE's noise: it needs method 'ogm_ge' or 'ge', "
                f"not {self.method!r} (leave ge_noise at 'official')"
            )
        if self.method == "ge" and self.ge_noise != "sgd":
            what = "is 'sgd'" if self.ge_noise == "sgd_k" else "adds no noise"
            raise ValueError(
                f"ge_noise = {self.ge_noise!r} with method 'ge' (k = 1) {what}; valid with 'ge': 'official' or 'sgd'"
            )
        if self.world_size != 1:
            raise ValueError(
                f"ge_noise = {self.ge_noise!r} is single-process only (its half-batch gradient "
                f"is not reduced across ranks); world_size = {self.world_size}"
            )

    def _check_values(self) -> None:
        """Types and ranges of every value (`RANGES`, `BOOLEANS`, `OPTIONAL_PATHS`); names are checked after."""
        for name, (kind, low, high, low_inc, high_inc, meaning) in RANGES.items():
            value = check_number(name, getattr(self, name), kind, low, high, low_inc, high_inc, meaning)
            if kind is int and type(getattr(self, name)) is not int:
                setattr(self, name, value)  # a numpy integer -> int (its key could not be computed)
        for name in BOOLEANS:
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise ValueError(f"{name} = {value!r} is not a boolean; valid: True or False")
        for name in OPTIONAL_PATHS:
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{name} = {value!r} is not a path string or None")
        if self.data_fingerprint is not None and not isinstance(self.data_fingerprint, str):
            raise ValueError(f"data_fingerprint = {self.data_fingerprint!r} is not a string or None")
        parse_device(self.device)

    def replace(self, **changes: Any) -> "RunConfig":
        """A copy with `changes`; other data (`dataset`, `data_dir`) drops the old data's fingerprint: avdigits'
        is set again from the code, a store's is left for `fingerprinted` (read where the data is opened)."""
        if ({"dataset", "data_dir"} & set(changes)) and "data_fingerprint" not in changes:
            changes["data_fingerprint"] = None
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def key(self) -> str:
        """Hash of every field that can change the result: names the run's result file.

        A run on a prepared store is named by the store's fingerprint, so a config of one must be filled in
        first (`data.fingerprint.fingerprinted`, which `fit`, `run_grid`, `result_path` and the loader call);
        an unfilled one is refused, not keyed. Keying it without the fingerprint would name no result that
        can exist (every run on a store was trained with its fingerprint), so a lookup would miss it silently,
        and reading the manifest here would make asking for a name a hidden file read. Every other dataset's
        fingerprint is set while the config is made, from the code (`builtin_fingerprint`)."""
        if self.dataset in PREPARED_DATASETS and self.data_fingerprint is None:
            raise ValueError(
                f"this {self.dataset} config holds no data fingerprint yet, and its key names the "
                "prepared store it reads: fill it in from the store first, config = "
                "fingerprinted(config) (ogm_lib.method.data.fingerprint; fit, run_grid and "
                "result_path do)"
            )
        return config_key(self.to_dict())


def split_sizes_threshold(rule: str) -> str:
    """The smallest val_fraction that gives avdigits a validation clip, as text (official: half a clip of
    the smallest digit's training takes; speaker: the rule always holds a speaker out)."""
    from .data.avdigits import split_sizes

    lo, hi = 0.0, 0.5
    for _ in range(40):  # bisection on the (monotone) validation count
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if split_sizes(mid, rule)["val"] >= 1 else (mid, hi)
    return f"{hi:.4g}"


def _synthetic_sizes(n: int, val_fraction: float) -> dict[str, int]:
    """Clips per split of the synthetic data (as `data.synthetic.make_synthetic` cuts them)."""
    n_val = int(round(val_fraction * n))
    return {"train": n - n_val, "validation": n_val, "test": n // 5}


def config_key(config: dict) -> str:
    """`RunConfig.key()` of a config as a dict (a result file's `config`), without re-checking its values."""
    d = {
        k: v
        for k, v in config.items()
        if k not in _NOT_IN_KEY and not (k in _KEY_UNLESS_DEFAULT and v == _KEY_UNLESS_DEFAULT[k])
    }
    if d.get("data_fingerprint") in (None, PINNED_FINGERPRINTS.get(d.get("dataset", "avdigits"))):
        d.pop("data_fingerprint", None)
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def make_config(profile: str = "cpu", **overrides: Any) -> RunConfig:
    """A RunConfig from a named profile, the dataset's defaults, then explicit overrides (in that order)."""
    check_choice("profile", profile, tuple(PROFILES))
    unknown = set(overrides) - {f.name for f in fields(RunConfig)}
    if unknown:
        raise ValueError(
            f"unknown RunConfig field(s) {sorted(unknown)}; valid: {', '.join(f.name for f in fields(RunConfig))}"
        )
    values: dict[str, Any] = dict(PROFILES[profile])
    dataset = overrides.get("dataset", RunConfig.dataset)
    if profile == "paper":
        values.update(DATASET_DEFAULTS.get(dataset, {}))
    values.update(overrides)
    values["profile"] = profile
    return RunConfig(**values)
