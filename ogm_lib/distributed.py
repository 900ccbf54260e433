"""Data-parallel training (DDP) that learns what one process learns: `torchrun ... -m ogm_lib.distributed`.

    torchrun --nproc_per_node=2 -m ogm_lib.distributed train --profile paper --dataset cremad \\
        --method ogm_ge --device cuda

takes every option of `python -m ogm_lib train`. Each of the N processes (ranks) holds a replica of the
model and trains on 1/N of every mini-batch. The contract: an N-rank run follows the single-process run of
the same config, step for step, up to float rounding. Four things make that so:

1. **Same batches.** `batch_size` is the GLOBAL batch (64 in the paper). Every rank draws the same
   permutation from an identically seeded generator, cuts each global batch into N contiguous shards and
   takes its own (`DistContext.train_batches`, a DistributedSampler that keeps the global batches). The
   loss is weighted by the shard's share so that DDP's gradient *average* is the gradient of the mean over
   the global batch, also when the last batch does not split evenly (`DistContext.global_mean`).
2. **Same BatchNorm statistics.** BatchNorm layers become SyncBatchNorm: mean and variance over the global
   batch, not over each shard. Without it a 2 x 32 run normalises with 32-sample statistics and is a
   different experiment from 1 x 64 (noisier statistics, a different implicit regularisation). torch's
   `nn.SyncBatchNorm` is used on GPUs; it refuses CPU tensors, so on CPU (the gloo backend, used by the
   tests) `SyncBatchNormCPU` below does the same in a few lines.
3. **Same k.** OGM's coefficient depends on the ratio of the modality scores summed over the batch. Each
   rank sums over its shard, then the two sums are all-reduced (SUM) before the ratio
   (`GradientModulator(reduce_scores=...)`): every rank gets the global batch's rho and the same k.
4. **Same noise.** DDP all-reduces (averages) the gradients during `backward()`; OGM-GE modulates after
   `backward()`, so it scales and perturbs the already averaged, identical gradient on every rank. GE's
   sigma is the std of that gradient (identical), and the noise comes from a generator seeded with the
   same seed on every rank (identical draws). Identical gradient, k and noise keep the replicas identical
   without another all-reduce.

Per step that is one gradient all-reduce (DDP's buckets, overlapped with backward), one all-reduce of two
numbers (the scores) and SyncBatchNorm's statistics; per epoch one more of the epoch's losses, for the log.
None of them needs the host to wait for the device. Only rank 0 writes results and checkpoints; every rank
evaluates the full validation and test sets on its identical replica (simple, and gradient blending's
weights need the losses everywhere), so evaluation does not get faster with more ranks.

`RunConfig.world_size` records N and is part of the run's key (from 2 on): rounding differs from the
single-process run, so the two are cached apart.

Everything data parallel is in this file, behind the interface that the training loop (`train.py`) calls
without asking how many processes there are (`shards.py`): `DistContext` answers for one rank of N, as
`shards.SingleProcess` answers for one process (the whole batch, the identity everywhere else).
`fit_ddp` is `train.fit` with a `DistContext`: the same "read the cache or train" path as one process (a
damaged result file is set aside by rank 0 and the run trained again).
"""

from __future__ import annotations

import json
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader

from .method.config import RunConfig
from .method.data import AVTensorDataset
from .method.results import RunResult
from .method.shards import Shard, whole_batches

__all__ = [
    "DistContext",
    "SyncBatchNormCPU",
    "convert_batchnorm",
    "shard_bounds",
    "init_from_env",
    "fit_ddp",
    "run_local",
    "main",
]


class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks, differentiable: the backward of a sum over ranks is the sum of the gradients."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, group) -> torch.Tensor:
        ctx.group = group
        x = x.clone()
        dist.all_reduce(x, op=dist.ReduceOp.SUM, group=group)
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM, group=ctx.group)
        return grad, None


class SyncBatchNormCPU(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics are taken over the samples of ALL ranks (any backend, CPU).

    One all-reduce of (count, sum, sum of squares) per layer, in float64 so that the variance as
    E[x^2] - E[x]^2 loses nothing that matters at these sizes. The backward all-reduces the statistics'
    gradients (`_AllReduceSum`), as `nn.SyncBatchNorm` does. Running statistics are updated as
    `F.batch_norm` does (unbiased variance), so evaluation matches the single-process model. In eval
    mode, or in a single process, it is a plain BatchNorm2d.
    """

    def __init__(self, *args, process_group=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.process_group = process_group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (
            self.training
            and dist.is_available()
            and dist.is_initialized()
            and dist.get_world_size(self.process_group) > 1
        ):
            return super().forward(x)
        c = x.shape[1]
        xd = x.double()
        count = torch.full((1,), x.numel() / c, dtype=torch.float64, device=x.device)
        stats = _AllReduceSum.apply(torch.cat([count, xd.sum((0, 2, 3)), (xd * xd).sum((0, 2, 3))]), self.process_group)
        n = stats[0]
        mean = stats[1 : c + 1] / n
        var = stats[c + 1 :] / n - mean * mean  # biased: what normalises the batch
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - m).add_(m * mean.to(self.running_mean.dtype))
                unbiased = var * n / (n - 1)
                self.running_var.mul_(1 - m).add_(m * unbiased.to(self.running_var.dtype))
        shape = (1, c, 1, 1)
        y = (xd - mean.view(shape)) * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.double().view(shape) + self.bias.double().view(shape)
        return y.to(x.dtype)


def _convert_cpu(module: nn.Module, group) -> nn.Module:
    """Replace every BatchNorm2d by a SyncBatchNormCPU holding the SAME parameters and buffers."""
    out = module
    if type(module) is nn.BatchNorm2d:
        out = SyncBatchNormCPU(
            module.num_features,
            module.eps,
            module.momentum,
            module.affine,
            module.track_running_stats,
            process_group=group,
        )
        if module.affine:
            out.weight, out.bias = module.weight, module.bias
        if module.track_running_stats:
            out.running_mean, out.running_var = module.running_mean, module.running_var
            out.num_batches_tracked = module.num_batches_tracked
        out.train(module.training)
    for name, child in module.named_children():
        out.add_module(name, _convert_cpu(child, group))
    return out


def convert_batchnorm(model: nn.Module, device: torch.device, group=None) -> nn.Module:
    """SyncBatchNorm for `device`: torch's on CUDA, `SyncBatchNormCPU` elsewhere. Parameters are kept."""
    if torch.device(device).type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model, group)
    return _convert_cpu(model, group)


def shard_bounds(n: int, rank: int, world_size: int) -> tuple[int, int]:
    """`[lo, hi)` of rank's contiguous share of n items; the first `n % world_size` shares get one more
    (as `torch.tensor_split`). Every rank computes every rank's bounds alike: no communication needed."""
    q, r = divmod(n, world_size)
    lo = rank * q + min(rank, r)
    return lo, lo + q + (rank < r)


@dataclass
class DistContext:
    """One rank of a `world_size`-rank process group (`train.Trainer(..., dist=ctx)`), with the interface
    of `shards.SingleProcess`; with one rank, the same batches and losses, still with DDP and SyncBatchNorm."""

    rank: int
    world_size: int
    device: torch.device
    local_rank: int = 0
    bn_group: Any = None  # process group of the CPU SyncBatchNorm (its own, beside DDP's buckets)

    @property
    def is_main(self) -> bool:
        """Only rank 0 writes results and checkpoints."""
        return self.rank == 0

    @property
    def reduce_scores(self):
        """Sum the modality scores over ranks before the ratio, so every rank applies the same k (point 3
        above); the noise generator has the same seed everywhere, so the GE noise is identical too."""
        return self.all_reduce_sum

    def configure(self, config: RunConfig) -> RunConfig:
        """The config as this group runs it: `world_size` ranks (in the key from 2 on), this rank's device."""
        if config.batch_size < self.world_size:
            raise ValueError(f"batch_size {config.batch_size} (global) is smaller than world_size {self.world_size}")
        return config.replace(world_size=self.world_size, device=str(self.device))

    def convert_batchnorm(self, model: nn.Module) -> nn.Module:
        """SyncBatchNorm: statistics over the global batch (point 2 above)."""
        return convert_batchnorm(model, self.device, self.bn_group)

    def wrap(self, model: nn.Module) -> nn.Module:
        """DDP: gradients averaged over ranks during backward, in buckets overlapped with the computation.

        static_graph: the same parameters take part in every step (the unused ones, e.g. gradient
        blending's auxiliary heads in other methods, stay unused), which spares DDP a search per step.
        broadcast_buffers=False: SyncBatchNorm keeps the running statistics identical on every rank.
        """
        import inspect

        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [self.device.index] if self.device.type == "cuda" else None
        # newer torch renames the switch (and still syncs buffers once at init, which is harmless here)
        no_sync = (
            {"forward_sync_buffers": False}
            if "forward_sync_buffers" in inspect.signature(DDP).parameters
            else {"broadcast_buffers": False}
        )
        return DDP(model, device_ids=ids, static_graph=True, **no_sync)

    def train_batches(self, dataset, batch_size: int, device, generator: torch.Generator, num_workers: int = 0):
        """This rank's shard of each shuffled global batch (point 1 above).

        Every rank draws the same permutation from identically seeded generators (a DistributedSampler
        that keeps the global batch of the single-process run); a final global batch smaller than
        `world_size` is dropped (some rank would get no sample), which happens only when
        `len(dataset) % batch_size < world_size`."""
        if self.world_size == 1:
            yield from whole_batches(dataset, batch_size, device, generator, num_workers)
            return
        order = torch.randperm(len(dataset), generator=generator)
        chunks = [c for c in order.split(batch_size) if len(c) >= self.world_size]
        bounds = [shard_bounds(len(c), self.rank, self.world_size) for c in chunks]
        local = [c[lo:hi] for c, (lo, hi) in zip(chunks, bounds)]
        if isinstance(dataset, AVTensorDataset):
            batches = (dataset.batch(idx) for idx in local)
        else:
            batches = DataLoader(
                dataset,
                batch_sampler=[idx.tolist() for idx in local],
                num_workers=num_workers,
                pin_memory=str(device).startswith("cuda"),
            )
        for c, (lo, _), batch in zip(chunks, bounds, batches):
            yield Shard(*(t.to(device, non_blocking=True) for t in batch), len(c), lo)

    def global_mean(self, loss: torch.Tensor, shard: Shard) -> torch.Tensor:
        """DDP averages gradients over ranks; weighting the shard's mean loss by its share of the global
        batch, n * N / n_global, makes that average the gradient of the global mean, also for unequal
        shards: (1/N) sum_r (n_r N / n_global) mean_r = sum_r sum_{i in r} l_i / n_global."""
        if self.world_size == 1:
            return loss
        return loss * (len(shard.labels) * self.world_size / shard.n_global)

    def epoch_losses(self, trace: torch.Tensor, sizes: list[tuple[int, int]], loss_sum: torch.Tensor):
        """The logged loss of each step becomes the global batch's mean (written into `trace[:, 0]`): one
        all-reduce of the epoch's losses, not one per step. Returns their sum."""
        if self.world_size == 1:
            return loss_sum
        local_n, global_n = torch.tensor(sizes, dtype=trace.dtype).to(trace.device).unbind(1)
        trace[:, 0] = self.all_reduce_sum(trace[:, 0] * local_n) / global_n
        return trace[:, 0].sum()

    def all_reduce_sum(self, t: torch.Tensor) -> torch.Tensor:
        """In-place SUM over ranks (asynchronous for the host on NCCL: no device sync)."""
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t

    def barrier(self) -> None:
        dist.barrier()


def init_from_env(device: str = "cpu") -> DistContext:
    """Join the process group torchrun describes (RANK, WORLD_SIZE, MASTER_ADDR, ...): NCCL when `device`
    is CUDA (rank r on GPU LOCAL_RANK), gloo on CPU."""
    cuda = str(device).startswith("cuda")
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    if cuda:
        dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
    else:
        dev = torch.device("cpu")
    # gloo: BatchNorm's synchronous all-reduces in backward get their own group, so they never queue
    # behind (or interleave with) DDP's asynchronous bucket all-reduces
    bn_group = None if cuda else dist.new_group(backend="gloo")
    return DistContext(rank, world, dev, local_rank, bn_group)


def fit_ddp(
    config: RunConfig,
    results_dir: str | Path | None = None,
    retrain: bool = False,
    stop_after: int | None = None,
    ctx: DistContext | None = None,
) -> RunResult | None:
    """`train.fit` on every rank of the process group (call it on all of them, under torchrun).

    `config.batch_size` is the global batch. Returns the same result on every rank; only rank 0 writes it
    (and the checkpoints, which a restarted job resumes from on every rank)."""
    from .method.train import fit

    return fit(config, results_dir, retrain, stop_after, dist=ctx or init_from_env(config.device))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _local_worker(rank: int, world_size: int, port: int, fn: Callable, args: tuple) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank)
    )
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // world_size))  # share the cores, don't fight
    ctx = init_from_env("cpu")
    try:
        fn(ctx, *args)
    finally:
        dist.destroy_process_group()


def run_local(fn: Callable, world_size: int, *args) -> None:
    """Run `fn(ctx, *args)` in `world_size` CPU processes on the gloo backend (tests, laptops: no torchrun).
    `fn` must be importable by name (a module-level function): the processes are spawned, not forked."""
    import torch.multiprocessing as mp

    mp.spawn(_local_worker, args=(world_size, _free_port(), fn, args), nprocs=world_size, join=True)


def main(argv: list[str] | None = None) -> int:
    """`torchrun --nproc_per_node=N -m ogm_lib.distributed train [options of python -m ogm_lib train]`."""
    from .__main__ import build_parser
    from .method.options import config_from_args

    args = build_parser().parse_args(argv)
    if args.command != "train":
        print("only 'train' runs data parallel; use python -m ogm_lib for the rest", file=sys.stderr)
        return 2
    config = config_from_args(args)  # world_size: fit_ddp sets it to the number of ranks
    ctx = init_from_env(config.device)
    try:
        result = fit_ddp(config, retrain=args.retrain, ctx=ctx)
        if ctx.rank == 0:
            best = result.best
            if args.json:
                print(
                    json.dumps(
                        {"key": result.key, "world_size": ctx.world_size, "best_epoch": result.best_epoch, **best},
                        indent=1,
                    )
                )
            else:
                print(
                    f"run {result.key} on {ctx.world_size} ranks: best epoch {result.best_epoch} (chosen on "
                    f"validation), val acc {best['val_acc']:.3f}, test acc {best['test_acc']:.3f}, "
                    f"{result.wall_time_s:.1f} s"
                )
    finally:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
