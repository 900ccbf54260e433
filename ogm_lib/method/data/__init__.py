"""Datasets: raw files -> prepared store -> `(audio (1,F,T), visual (C,T,H,W), label)` samples.

`build_datasets(config)` is the one entry point the training loop uses; it dispatches on `config.dataset`.
"""

from __future__ import annotations

from ..config import DATASETS, PREPARED_DATASETS, RunConfig, check_choice
from .common import AVSplits, AVTensorDataset, iterate_batches

__all__ = ["AVSplits", "AVTensorDataset", "build_datasets", "iterate_batches"]


def build_datasets(config: RunConfig) -> AVSplits:
    """Train/val/test splits for `config.dataset`, with the data knobs of `config`."""
    check_choice("dataset", config.dataset, DATASETS)
    if getattr(config, "task", "classify") == "events":  # Table 5: sequences of the clips (events.py)
        if config.dataset in PREPARED_DATASETS:  # AVE's own segments (prepared.py)
            from .prepared import load_prepared_events

            return load_prepared_events(config)
        from .events import make_events

        return make_events(build_datasets(config.replace(task="classify", video_model="resnet18")), config.seed)
    if config.dataset == "avdigits":
        from .avdigits import load_avdigits

        return load_avdigits(config)
    if config.dataset == "synthetic":
        from .synthetic import make_synthetic

        return make_synthetic(config)
    from .prepared import load_prepared

    return load_prepared(config)
