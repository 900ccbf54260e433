"""What every dataset of this project hands to the training loop.

One sample is `(audio, visual, label)`: audio a spectrogram `(1, F, T)`, visual `(C, T, H, W)` (T frames),
label an int. Small datasets live in memory as an `AVTensorDataset`, which the training loop batches by
indexing (no DataLoader worker overhead); larger ones are ordinary torch Datasets read from a prepared store.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch.utils.data import DataLoader, Dataset


class AVTensorDataset(Dataset):
    """An in-memory audio-visual dataset: three aligned tensors and the class names."""

    def __init__(self, audio: torch.Tensor, visual: torch.Tensor, labels: torch.Tensor, class_names: list[str]):
        if not (len(audio) == len(visual) == len(labels)):
            raise ValueError(f"length mismatch: audio {len(audio)}, visual {len(visual)}, labels {len(labels)}")
        self.audio, self.visual, self.labels = audio, visual, labels.long()
        self.class_names = list(class_names)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i):
        return self.audio[i], self.visual[i], self.labels[i]

    def batch(self, index: torch.Tensor):
        """A whole mini-batch by fancy indexing: the fast path of the training loop."""
        return self.audio[index], self.visual[index], self.labels[index]


@dataclass
class AVSplits:
    """The three splits of one dataset. Model selection uses `val`; `test` is only reported."""

    train: Dataset
    val: Dataset
    test: Dataset
    class_names: list[str] = field(default_factory=list)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def split_hash(self) -> str:
        """The hash of the split manifest (`splits.split_manifest`): which clips train, select and test a
        run, and their speakers. `python -m ogm_lib data check` prints the same hash."""
        from .splits import split_manifest

        return split_manifest(self)["hash"]


def iterate_batches(
    dataset,
    batch_size: int,
    device,
    shuffle: bool = False,
    generator: torch.Generator | None = None,
    num_workers: int = 0,
):
    """Mini-batches `(audio, visual, labels)` on `device`; the last partial batch is kept (official)."""
    if isinstance(dataset, AVTensorDataset):  # in memory: index whole batches, no worker overhead
        n = len(dataset)
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        for i in range(0, n, batch_size):
            yield tuple(t.to(device, non_blocking=True) for t in dataset.batch(order[i : i + batch_size]))
        return
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        generator=generator,
        num_workers=num_workers,
        pin_memory=str(device).startswith("cuda"),
        persistent_workers=False,
    )
    for batch in loader:
        yield tuple(t.to(device, non_blocking=True) for t in batch)
