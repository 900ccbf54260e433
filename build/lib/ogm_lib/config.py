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
- `smoke`: seconds, for tests and for checking that a notebook runs end to end.

Speed switches (`amp`, `channels_last`, `fused_optimizer`, `compile`) and `world_size` (the number of
data-parallel processes, set by `distributed.fit_ddp`) do not change the method, but they can change the
numbers by float rounding (bf16 autocast more than that). They enter the key only when they differ from
their default, so every plain fp32 single-process run keeps the key it always had.

Unknown names (dataset, fusion, method, profile, ...) fail fast with the list of valid choices.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field, fields
from typing import Any

DATASETS = ("avdigits", "synthetic", "cremad", "ksounds", "vggsound", "ave")
MODALITIES = ("av", "audio", "visual")
FUSIONS = ("concat", "sum", "film", "gated")
#: modulation methods (modulation.py) and the comparison methods (strategies.py)
METHODS = ("normal", "ogm", "ogm_ge", "ge", "mdrop_audio", "mdrop_visual", "grad_blend", "opm")
MODULATE_PARAMS = ("conv", "all")
OPTIMIZERS = ("sgd", "adam")
#: autocast modes: "none" (plain fp32) or "bf16" (torch.autocast to bfloat16; no loss scaling needed)
AMP_MODES = ("none", "bf16")

#: fields that never change what is learned, so they are left out of the cache key
_NOT_IN_KEY = ("profile", "device", "num_workers", "data_dir", "quiet", "tensorboard_dir", "results_dir")
#: fields that only change the numbers by rounding: in the key only when not at this default value
_KEY_UNLESS_DEFAULT = {"amp": "none", "channels_last": False, "fused_optimizer": False, "compile": False,
                       "world_size": 1}


def check_choice(name: str, value: Any, choices: tuple) -> None:
    """Raise a ValueError naming the valid choices when `value` is not one of them."""
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; valid choices: {', '.join(map(str, choices))}")


@dataclass
class RunConfig:
    # --- data ---
    dataset: str = "avdigits"
    modalities: str = "av"            # "audio" / "visual": a unimodal model (paper Table 1's first rows)
    data_dir: str | None = None       # prepared data; None: the dataset's default place (./data/<name>)
    val_fraction: float = 0.1         # carved from train, for model selection (the paper says 9:1)
    n_frames: int = 3                 # visual frames per clip (T)
    image_size: int = 16              # visual frame side after resizing
    audio_snr_db: float = 0.0         # avdigits/synthetic: white noise added to the audio (lower = harder)
    visual_noise: float = 0.8         # avdigits/synthetic: std of pixel noise on the frames (higher = harder)
    audio_seconds: float = 0.5        # avdigits: waveform length the recordings are tiled/cut to
    synthetic_size: int = 3000        # synthetic: number of clips in train+val
    # --- model ---
    fusion: str = "concat"
    width: int = 64                   # ResNet-18 base width (64 = torchvision's resnet18)
    # --- method ---
    method: str = "normal"
    alpha: float = 0.8                # OGM strength (paper Eq. 10); README: 0.8 CREMA-D, 0.1 VGGSound
    modulation_start: int = 0         # first modulated epoch (0-indexed, inclusive, as official)
    modulation_end: int = 50          # last modulated epoch (inclusive, as official)
    modulate: str = "conv"            # "conv": 4-D conv weights only (official); "all": every encoder tensor
    drop_prob: float = 0.5            # modality dropout probability (mdrop_audio / mdrop_visual)
    opm_q_base: float = 0.5           # OPM (journal extension): q = q_base * (1 + lam * tanh(rho - 1))
    opm_lambda: float = 0.5
    opm_p_exe: float = 0.7
    gb_super_epoch: int = 5           # gradient blending: epochs between re-estimating the weights
    # --- optimisation ---
    optimizer: str = "sgd"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 1e-4
    lr_step: int = 70
    lr_gamma: float = 0.1
    epochs: int = 100
    batch_size: int = 64
    seed: int = 0
    # --- extra measurements ---
    eval_train: bool = False          # also evaluate on the training set each epoch (generalisation gap)
    probe_every: int = 0              # every n epochs, linear-probe each frozen encoder (paper Figure 1)
    # --- speed (same method, numbers equal up to rounding; in the key only when not at the default) ---
    amp: str = "none"                 # "bf16": forward and loss under torch.autocast(bfloat16)
    channels_last: bool = False       # NHWC memory format for the convs (faster tensor-core kernels)
    fused_optimizer: bool = False     # one fused kernel for the optimiser step (SGD/Adam fused=True)
    compile: bool = False             # torch.compile the training forward
    world_size: int = 1               # data-parallel processes; set by distributed.fit_ddp, not by hand
    # --- bookkeeping (not part of the cache key) ---
    profile: str = "paper"
    device: str = "cpu"
    num_workers: int = 0
    quiet: bool = False
    tensorboard_dir: str | None = None
    results_dir: str | None = None

    def __post_init__(self) -> None:
        check_choice("dataset", self.dataset, DATASETS)
        check_choice("modalities", self.modalities, MODALITIES)
        check_choice("fusion", self.fusion, FUSIONS)
        check_choice("method", self.method, METHODS)
        check_choice("modulate", self.modulate, MODULATE_PARAMS)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("amp", self.amp, AMP_MODES)
        for switch in ("channels_last", "compile"):
            if getattr(self, switch) and not str(self.device).startswith("cuda"):
                # on CPU, torch 2.14's oneDNN computes wrong NHWC 1x1 stride-2 weight gradients (a double
                # free with one thread) when a conv has fewer input channels than its block, as in the
                # narrow profiles (oneDNN issue 6035); torch.compile's inductor picks NHWC for convs on
                # CPU and hits the same bug
                raise ValueError(f"{switch} is a CUDA switch (on CPU, oneDNN's channels_last conv "
                                 f"gradients are wrong in this torch); leave it off on device {self.device!r}")
        if self.world_size < 1:
            raise ValueError(f"world_size must be >= 1, got {self.world_size}")
        if self.modalities != "av" and self.method != "normal":
            raise ValueError(f"method {self.method!r} needs both modalities; a unimodal run uses 'normal'")

    def replace(self, **changes: Any) -> "RunConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def key(self) -> str:
        """Hash of every field that can change the result: names the run's result file."""
        d = {k: v for k, v in self.to_dict().items() if k not in _NOT_IN_KEY
             and not (k in _KEY_UNLESS_DEFAULT and v == _KEY_UNLESS_DEFAULT[k])}
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


#: each profile is a set of overrides of RunConfig's defaults
PROFILES: dict[str, dict[str, Any]] = {
    "paper": dict(width=64, epochs=100, batch_size=64, lr=1e-3, lr_step=70, lr_gamma=0.1,
                  modulation_start=0, modulation_end=50, image_size=224),
    "cpu": dict(width=8, epochs=12, batch_size=64, lr=1e-2, lr_step=8, lr_gamma=0.1,
                modulation_start=0, modulation_end=5, image_size=16, n_frames=1),
    "smoke": dict(width=4, epochs=2, batch_size=32, lr=1e-2, lr_step=70, lr_gamma=0.1,
                  modulation_start=0, modulation_end=1, image_size=16, n_frames=2, synthetic_size=256),
}

#: per-dataset overrides applied on top of a profile (the paper's frames per clip, say)
DATASET_DEFAULTS: dict[str, dict[str, Any]] = {
    "cremad": dict(n_frames=1, alpha=0.8),
    "vggsound": dict(n_frames=3, alpha=0.1),
    "ksounds": dict(n_frames=3),
    "ave": dict(n_frames=3),
}


def make_config(profile: str = "cpu", **overrides: Any) -> RunConfig:
    """A RunConfig from a named profile, the dataset's defaults, then explicit overrides (in that order)."""
    check_choice("profile", profile, tuple(PROFILES))
    unknown = set(overrides) - {f.name for f in fields(RunConfig)}
    if unknown:
        raise ValueError(f"unknown RunConfig field(s) {sorted(unknown)}; "
                         f"valid: {', '.join(f.name for f in fields(RunConfig))}")
    values: dict[str, Any] = dict(PROFILES[profile])
    dataset = overrides.get("dataset", RunConfig.dataset)
    if profile == "paper":
        values.update(DATASET_DEFAULTS.get(dataset, {}))
    values.update(overrides)
    values["profile"] = profile
    return RunConfig(**values)
