"""Whether every training batch of a run survives BatchNorm, checked before the first step.

In training mode BatchNorm normalises each channel over the batch and the positions of its feature map
(Ioffe and Szegedy 2015, Alg. 1: mu_B = (1/m) sum_i x_i, sigma_B^2 = (1/m) sum_i (x_i - mu_B)^2); with m = 1
value per channel the variance is 0 and torch stops the run: "Expected more than 1 value per channel when
training". `iterate_batches` (data/common.py) cuts each epoch's shuffled training split of n clips into
batches of b and keeps the last partial one, as the official code does, so the batch sizes of an epoch are
b, ..., b and `last_batch(n, b)` = n mod b (b when b divides n). A batch of one clip appears when b = 1, when
n = 1, or when n mod b = 1; it crashes only if some BatchNorm layer then sees one value per channel (a
ResNet-18 whose last feature map is 1 x 1, as on the book's 16-pixel frames), and runs otherwise (224-pixel
frames leave 7 x 7 positions).

`lone_batch_problem` therefore asks the model itself: when a run has a batch of one, it forwards one
training clip through a copy of the model in training mode (the run's own model, its running statistics and
every random generator untouched) and refuses the config, naming the batch sizes that would work, if
that forward fails. A config without a batch of one, or whose model takes one, trains exactly as before.
The check is made in one process (`Trainer`, world_size 1); data parallel, a rank's shard of the batch is
smaller still and SyncBatchNorm reduces over the ranks, which a lone forward cannot reproduce.
"""

from __future__ import annotations

import copy

import torch


def last_batch(n: int, batch_size: int) -> int:
    """The size of an epoch's last training batch: n mod b, or b when b divides n (n >= 1)."""
    return n % batch_size or min(n, batch_size)


def has_lone_batch(n: int, batch_size: int) -> bool:
    """Whether an epoch over n clips in batches of `batch_size` holds a batch of one clip."""
    return n >= 1 and (batch_size == 1 or last_batch(n, batch_size) == 1)


def _one_clip(dataset, device):
    """The first training clip as a batch of one (audio, visual), without touching any generator."""
    from .data import AVTensorDataset

    if isinstance(dataset, AVTensorDataset):
        audio, visual, _ = dataset.batch(torch.tensor([0]))
    else:
        audio, visual, _ = torch.utils.data.default_collate([dataset[0]])
    return audio.to(device), visual.to(device)


def lone_batch_problem(model: torch.nn.Module, train, batch_size: int, device) -> str | None:
    """None when the run's training batches all survive BatchNorm (see the module doc), else why not."""
    n = len(train)
    if not has_lone_batch(n, batch_size):
        return None
    devices = [torch.device(device)] if torch.device(device).type == "cuda" else []
    probe = copy.deepcopy(model).train()
    try:
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            probe(*_one_clip(train, device))
    except ValueError as err:
        if "Expected more than 1 value per channel" not in str(err):
            raise
        why = (
            "batch_size = 1"
            if batch_size == 1
            else f"the training split's {n} clips leave a last batch of 1 (n mod batch_size = {n} mod {batch_size})"
        )
        good = [b for b in range(max(2, batch_size - 3), batch_size + 4) if not has_lone_batch(n, b)]
        return (
            f"{why}, and this model's BatchNorm cannot train on one clip (one value per channel in its last "
            f"feature map); valid: a batch_size whose last batch holds at least 2 clips, such as "
            f"{', '.join(map(str, good[:4]))}"
        )
    finally:
        del probe
    return None
