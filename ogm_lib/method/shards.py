"""What the training loop asks of the process(es) it runs in, and the answers of one process.

The loop (`train.py`) never asks how many processes there are. It asks its context for its training
batches (as `Shard`s: this process's part of each global mini-batch), for the loss to back-propagate, for
the epoch's logged losses, to convert and wrap the model, for what reduces the modality scores, and to
wait for the others. `SingleProcess` answers for one process: the whole batch, and the identity
everywhere else. `distributed.DistContext` answers for one rank of N, and holds every piece of the
data-parallel logic (sharding, loss re-weighting, SyncBatchNorm, DDP, the all-reduces).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from .config import RunConfig
from .data import iterate_batches


class Shard(NamedTuple):
    """This rank's part of one global mini-batch, on the device: samples `offset .. offset + len(labels)`
    of a global batch of `n_global` (one process: the whole batch, offset 0)."""

    audio: torch.Tensor
    visual: torch.Tensor
    labels: torch.Tensor
    n_global: int
    offset: int

    def local(self, mask: torch.Tensor | None) -> torch.Tensor | None:
        """This shard's rows of a per-sample mask drawn for the global batch (as one process draws it)."""
        n = len(self.labels)
        return mask if mask is None or n == self.n_global else mask[self.offset : self.offset + n]


def whole_batches(dataset, batch_size: int, device, generator: torch.Generator, num_workers: int = 0):
    """Shuffled training batches as `Shard`s of themselves: exactly `iterate_batches(..., shuffle=True)`."""
    for audio, visual, labels in iterate_batches(dataset, batch_size, device, True, generator, num_workers):
        yield Shard(audio, visual, labels, len(labels), 0)


class SingleProcess:
    """One process: the whole batch, no communication; every method is the identity. `DistContext` has
    the same interface."""

    rank, world_size, is_main = 0, 1, True
    #: what `GradientModulator(reduce_scores=...)` applies to the scores before the ratio: nothing
    reduce_scores = None

    def configure(self, config: RunConfig) -> RunConfig:
        return config

    def convert_batchnorm(self, model: nn.Module) -> nn.Module:
        return model

    def wrap(self, model: nn.Module) -> nn.Module:
        return model

    def train_batches(self, dataset, batch_size: int, device, generator: torch.Generator, num_workers: int = 0):
        return whole_batches(dataset, batch_size, device, generator, num_workers)

    def global_mean(self, loss: torch.Tensor, shard: Shard) -> torch.Tensor:
        """The loss whose gradient, averaged over ranks, is the gradient of the global batch's mean loss."""
        return loss

    def epoch_losses(self, trace: torch.Tensor, sizes: list[tuple[int, int]], loss_sum: torch.Tensor):
        """The epoch's loss sum over steps (`trace[:, 0]` holds each step's loss; `sizes` each step's
        (local, global) batch size)."""
        return loss_sum

    def barrier(self) -> None:
        pass
