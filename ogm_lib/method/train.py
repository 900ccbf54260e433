"""One training loop for every method: `fit(config) -> RunResult`.

Per step (paper Algorithm 1, `train_step`):

    forward -> loss on the fused logits (the strategy's) -> model.training_loss (+ its score heads' terms)
    -> modulator.backward -> modulator.compute: scores, rho, k (logged for every method, applied only by the
    modulating ones) -> modulator.apply: scale / perturb the encoders' gradients -> optimizer.step

The loop names no method and no fusion. What a method changes is said by its `Strategy` (`strategies.py`:
input masks, the loss, what it observes of each step, extra evaluation losses, the splits evaluated, an
end-of-epoch update, its state in checkpoints) and by its `GradientModulator` (`modulation.py`, built by
`strategies.make_modulator`; its `backward` keeps what GE's "sgd" noises need of the graph; a unimodal run
gets a `UnimodalModulator`, which measures and changes nothing). What a model adds to the loss (the
detached score heads of FiLM, gated and some plug-in fusions) is said by its `training_loss`
(`models/score_heads.py`).

Per epoch: StepLR, fused/audio/visual accuracy and macro mAP on validation and test (and train, with
`eval_train`: on a fixed subset of train as large as the test split), optional linear probes, a
checkpoint. The reported epoch is the best on VALIDATION fused accuracy; the official code chose the
best epoch on the test set, which flatters every number.

The per-step trace (loss, rho_a, rho_v, k_a, k_v) stays on the device during the epoch and is copied to
the host once at its end, so a step has no host synchronisation (`tests/test_speed_options.py` checks it
on a GPU with `torch.cuda.set_sync_debug_mode("error")`).

Speed switches of `RunConfig` (all off by default, plain fp32): `amp="bf16"` runs the forward and the loss
under `torch.autocast` (bfloat16 keeps fp32's exponent range, so no loss scaling); the modality scores are
computed from the logits cast back to fp32 (`GradientModulator.compute`) and the trace keeps the loss in fp32
(`trace_row`). `channels_last` stores conv weights and inputs as NHWC, the layout tensor-core convolutions
prefer. `fused_optimizer` does the optimiser step in one fused kernel. `compile` runs the training forward
through `torch.compile` (evaluation uses the plain module).
`channels_last` and `compile` are CUDA only (RunConfig refuses them on CPU, see config.py).

Data parallel (`distributed.py`, launched by torchrun): the Trainer gets a `dist` context
(`distributed.DistContext`; one process: `shards.SingleProcess`, where every call is the identity).
The loop asks it for its batches (this rank's shard of each global batch), the loss to back-propagate
(re-weighted so that DDP's average is the global batch's mean) and the epoch's logged losses; how is
written there.

Runs are cached by config hash (`results.py`): calling `fit` again with an identical config reads the
result back; the data-parallel entry (`distributed.fit_ddp`) is `fit` with a `DistContext`. A run that
stops (interrupted, killed) resumes from its last checkpoint, RNG states included, and ends with the same
numbers.

Damage and blow-ups (none of these checks changes what a healthy run computes):

- before any data is read, the device must exist (`config.check_device`; `fit` asks before it looks for a
  cached result, so `--device cuda` without a GPU is refused even for a run already done) and the results,
  checkpoint and TensorBoard folders must be writable folders (`fileio.check_writable`), so none of these is
  found out after an epoch of training; before the first step, a batch of one clip that the model's
  BatchNorm cannot train on is refused (`batches.py`);
- a damaged result file (truncated, empty, another run's) is named, set aside as `<name>.damaged` and the
  run trained again; a damaged checkpoint (unreadable, another run's, not fitting the model) likewise,
  and training starts from the beginning (same seed, same numbers);
- non-finite values are caught once per epoch, before evaluation, without a host synchronisation inside
  the steps (`nonfinite.py`). The error names the likely cause from the config, and the last good
  checkpoint (`checkpoint.py`) only if one exists.
"""

from __future__ import annotations

import copy
import time
import warnings
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Callable, NamedTuple

import torch
from tqdm import tqdm

from . import checkpoint
from .batches import lone_batch_problem
from .config import RunConfig, check_device
from .data import AVTensorDataset, build_datasets, iterate_batches
from .data.fingerprint import fingerprinted
from .fileio import DamagedFileError, check_folder, check_writable, set_aside
from .metrics import evaluate
from .models import build_model
from .modulation import GradientModulator, ModulationState, at_least_fp32
from .nonfinite import nonfinite_error, weights_finite
from .probe import probe_encoder
from .progress import use_bar
from .results import RunResult, encode_predictions, provenance, results_folder
from .shards import Shard, SingleProcess
from .strategies import Strategy, UnimodalModulator, make_modulator, make_strategy

TRACE_KEYS = ("loss", "rho_a", "rho_v", "k_a", "k_v")


def make_optimizer(config: RunConfig, model: torch.nn.Module):
    # fused=True: the whole step is one kernel per dtype/device group (SGD and Adam support it on CUDA and,
    # in recent torch, on CPU); None keeps torch's default (the foreach implementation on CUDA)
    fused = True if config.fused_optimizer else None
    if config.optimizer == "sgd":
        opt = torch.optim.SGD(
            model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay, fused=fused
        )
    else:
        opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=fused)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=config.lr_step, gamma=config.lr_gamma)
    return opt, sched


class Parts(NamedTuple):
    """Everything a training step uses."""

    model: torch.nn.Module  # the audio-visual model (checkpoints, evaluation, its heads)
    train_model: torch.nn.Module  # what the step calls: `model`, wrapped by DDP and/or compiled
    optimizer: torch.optim.Optimizer
    strategy: Strategy  # what the method changes (strategies.py)
    modulator: GradientModulator | UnimodalModulator  # OGM / GE (modulation.py); a null one if unimodal
    dist: SingleProcess  # one process, or a `distributed.DistContext` (same interface)
    autocast: Callable[[], AbstractContextManager]  # bf16 autocast, or a no-op
    channels_last: bool


def memory_format(audio: torch.Tensor, visual: torch.Tensor, channels_last: bool):
    """The inputs as the convolutions want them: NHWC with `channels_last` (for the 5-D frames, folding T into
    the batch then stays NHWC), else unchanged."""
    if not channels_last:
        return audio, visual
    return (
        audio.contiguous(memory_format=torch.channels_last),
        visual.contiguous(memory_format=torch.channels_last_3d),
    )


def trace_row(loss: torch.Tensor, state: ModulationState) -> torch.Tensor:
    """One step's row of the trace (`TRACE_KEYS`): the loss (in at least fp32), rho_a, rho_v, k_a, k_v."""
    return torch.stack([at_least_fp32(loss.detach()), state.rho_a, state.rho_v, state.k_a, state.k_v])


def train_step(parts: Parts, shard: Shard, epoch: int) -> torch.Tensor:
    """Paper Algorithm 1, one mini-batch (one shard of it, data parallel) already on the device: forward,
    loss, backward, then the modulation of the encoders' gradients (Eq. 7-11, 13) before the SGD step.
    Every method, model and fusion takes this same path: what differs is behind `strategy`, `model` and
    `modulator`.

    Returns the step's trace row (loss, rho_a, rho_v, k_a, k_v), a device tensor: no host synchronisation.
    """
    model, strategy, modulator = parts.model, parts.strategy, parts.modulator
    audio, visual = memory_format(shard.audio, shard.visual, parts.channels_last)
    labels = shard.labels
    # the strategy's per-sample input masks, drawn for the global batch as one process draws them; our rows
    keep_a, keep_v = map(shard.local, strategy.keep_masks(shard.n_global, labels.device))
    with parts.autocast():
        out = parts.train_model(audio, visual, keep_a, keep_v)  # fused and per-modality logits
        loss = strategy.loss(out, labels, model)  # cross-entropy on the fused logits
        total = model.training_loss(loss, out, labels)  # + the detached score heads' own, if any
    total = parts.dist.global_mean(total, shard)
    parts.optimizer.zero_grad(set_to_none=True)
    # g = dL/dtheta; `half`: the graph's first half-batch gradient, for GE's "sgd" noises only (else None)
    half = modulator.backward(total, out.logits, labels, epoch, parts.autocast)
    state = modulator.compute(out.logits_a, out.logits_v, labels)  # s^u (Eq. 7-8), rho (Eq. 9), k (Eq. 10)
    modulator.apply(state, epoch, half)  # g <- k g (Eq. 11), + GE noise (Eq. 13)
    strategy.observe(state)  # e.g. OPM keeps rho for the next batch's masks
    parts.optimizer.step()  # theta <- theta - lr * g
    return trace_row(loss, state)


def train_one_epoch(parts: Parts, shards, epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every step of one epoch over `shards` (`dist.train_batches`). Returns the trace (steps x 5, on the
    host: the epoch's only copy to it) and the mean training loss (on the device)."""
    parts.model.train()
    rows, sizes = [], []
    loss_sum = torch.zeros((), device=next(parts.model.parameters()).device)
    for shard in shards:
        rows.append(train_step(parts, shard, epoch))
        sizes.append((len(shard.labels), shard.n_global))
        loss_sum += rows[-1][0]
    trace = torch.stack(rows)
    loss_sum = parts.dist.epoch_losses(trace, sizes, loss_sum)  # data parallel: the global batches' losses
    return trace.cpu(), loss_sum / max(len(trace), 1)


class Trainer:
    """Holds one run's state; `fit()` is the usual way in.

    `data`: ready splits instead of `build_datasets(config)` (the benchmark passes placeholders).
    `dist`: a `distributed.DistContext` when running data parallel (see `distributed.fit_ddp`).
    """

    def __init__(self, config: RunConfig, results_dir: Path | None = None, data=None, dist=None):
        dist = dist if dist is not None else SingleProcess()
        config = fingerprinted(config)  # a store's fingerprint, for the key (data/fingerprint.py)
        if config.world_size != dist.world_size:
            raise ValueError(
                f"world_size={config.world_size} needs the data-parallel launcher: "
                "torchrun --nproc_per_node=N -m ogm_lib.distributed train ..."
            )
        self.config, self.dist = config, dist
        self.results_dir = results_folder(config, results_dir)
        self.key = config.key()
        self.result_path = self.results_dir / f"{self.key}.json"
        self.checkpoint_path = self.results_dir / "checkpoints" / f"{self.key}.pt"
        check_device(config.device)  # before any data is read: a clear error, not a CUDA one
        if dist.is_main:  # ... and the folders the run will write to (rank 0 only)
            check_writable(self.results_dir, "results folder")
            check_writable(self.checkpoint_path.parent, "checkpoint folder")
            if config.tensorboard_dir:
                check_folder(config.tensorboard_dir, "tensorboard_dir")
                check_writable(Path(config.tensorboard_dir) / self.key, "TensorBoard folder")
        self.device = torch.device(config.device)

        torch.manual_seed(config.seed)  # same seed on every rank: same initial weights
        self.data = data if data is not None else build_datasets(config)
        self.num_classes = self.data.num_classes
        model = dist.convert_batchnorm(build_model(config, self.num_classes))  # data parallel: SyncBatchNorm
        memory_format = torch.channels_last if config.channels_last else torch.preserve_format
        self.model = model.to(self.device, memory_format=memory_format)
        # a batch of one clip that BatchNorm cannot train on is refused now, not after an epoch (batches.py)
        # (one process: data parallel, each rank holds a shard of the batch and SyncBatchNorm would reduce)
        lone = (
            lone_batch_problem(self.model, self.data.train, config.batch_size, self.device)
            if dist.world_size == 1
            else None
        )
        if lone:
            raise ValueError(lone)
        self.optimizer, self.scheduler = make_optimizer(config, self.model)
        # what the training step calls: the module, wrapped by DDP (gradient all-reduce in backward) and/or
        # compiled; parameters are shared, so checkpoints and evaluation use the plain `self.model`
        train_model = dist.wrap(self.model)
        if config.compile:
            train_model = torch.compile(train_model)
        self.shuffle_gen = torch.Generator().manual_seed(config.seed)
        self.noise_gen = torch.Generator(device=self.device).manual_seed(config.seed + 1)
        self.strategy = make_strategy(config, torch.Generator().manual_seed(config.seed + 2))
        self.modulator = make_modulator(config, self.model, dist.reduce_scores, self.noise_gen)
        self.parts = Parts(
            self.model,
            train_model,
            self.optimizer,
            self.strategy,
            self.modulator,
            dist,
            self.autocast,
            config.channels_last,
        )
        self.result = RunResult(key=self.key, config=config.to_dict(), steps={k: [] for k in TRACE_KEYS})
        self.start_epoch = 0
        self.last_checkpoint_epoch: int | None = None  # the epoch of the checkpoint on disk, if any
        self.elapsed = 0.0
        self.writer = None
        if config.tensorboard_dir and dist.is_main:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(Path(config.tensorboard_dir) / self.key))

    def autocast(self):
        """bf16 autocast when `amp="bf16"`, else a no-op context."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.config.amp == "bf16")

    # ----- one epoch of training -----
    def train_epoch(self, epoch: int) -> torch.Tensor:
        """`train_one_epoch` on this rank's shards; the trace joins the result. Returns the mean loss."""
        cfg = self.config
        shards = self.dist.train_batches(
            self.data.train, cfg.batch_size, self.device, self.shuffle_gen, cfg.num_workers
        )
        trace, train_loss = train_one_epoch(self.parts, shards, epoch)
        for i, key in enumerate(TRACE_KEYS):
            self.result.steps[key].extend(trace[:, i].tolist())
        if self.writer is not None:
            first = len(self.result.steps["loss"]) - len(trace)
            for j, row in enumerate(trace.tolist()):
                for key, value in zip(TRACE_KEYS, row):
                    self.writer.add_scalar(f"step/{key}", value, first + j)
        return train_loss

    # ----- evaluation -----
    def train_eval_split(self):
        """A fixed subset of the training split, as large as the test split: the train-side metrics
        (generalisation gap, a strategy's train losses) at a fraction of a full pass's cost."""
        train, n = self.data.train, min(len(self.data.train), len(self.data.test))
        idx = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[:n]
        if isinstance(train, AVTensorDataset):
            return AVTensorDataset(*train.batch(idx), train.class_names)
        return torch.utils.data.Subset(train, idx.tolist())

    def evaluate_split(self, name: str, keep: dict | None = None) -> dict:
        if name == "train":
            if not hasattr(self, "_train_eval"):
                self._train_eval = self.train_eval_split()
            split = self._train_eval
        else:
            split = getattr(self.data, name)
        batches = iterate_batches(split, self.config.batch_size * 2, self.device, num_workers=self.config.num_workers)
        extra = lambda out, labels: self.strategy.eval_losses(out, labels, self.model)
        with self.autocast():
            return evaluate(self.model, batches, self.num_classes, extra_losses=extra, keep=keep)

    def probe(self) -> dict:
        out = {}

        def batches(split):
            return iterate_batches(
                getattr(self.data, split), self.config.batch_size * 2, self.device, num_workers=self.config.num_workers
            )

        scored = ("test", "val") if self.config.record_val else ("test",)
        for modality, enc in (("audio", self.model.audio_encoder), ("visual", self.model.visual_encoder)):
            if enc is not None:
                accs = probe_encoder(enc, batches("train"), {s: batches(s) for s in scored}, modality, self.num_classes)
                out[f"probe_{modality}"] = accs["test"]
                if "val" in accs:
                    out[f"probe_val_{modality}"] = accs["val"]
        return out

    # ----- checkpoints (checkpoint.py) -----
    def state(self) -> dict:
        """Everything a resumed run needs to continue as if it had not stopped (`checkpoint.FIELDS`)."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "shuffle_gen": self.shuffle_gen.get_state(),
            "noise_gen": self.noise_gen.get_state(),
            "strategy_gen": self.strategy.generator.get_state(),
            "strategy": self.strategy.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "result": self.result.__dict__,
            "elapsed": self.elapsed,
        }

    def load_state(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.shuffle_gen.set_state(state["shuffle_gen"])
        self.noise_gen.set_state(state["noise_gen"])
        self.strategy.generator.set_state(state["strategy_gen"])
        self.strategy.load_state_dict(state["strategy"])
        torch.set_rng_state(state["torch_rng"])
        self.result = with_bookkeeping(RunResult(**state["result"]), self.config)
        self.elapsed = state["elapsed"]

    def save_checkpoint(self, epoch: int) -> None:
        if self.dist.is_main:  # only rank 0 writes
            checkpoint.save(self.checkpoint_path, {"epoch": epoch, **self.state(), "key": self.key})
            self.last_checkpoint_epoch = epoch

    def load_checkpoint(self) -> bool:
        """Resume from the run's checkpoint if there is one. A damaged one (unreadable, truncated, another
        run's, not fitting the model) is named in a warning, set aside as `<name>.damaged`, and the run
        starts from the beginning (returns False), exactly as if there had been none."""
        path = self.checkpoint_path
        if not path.exists():
            return False
        state, problem = checkpoint.read(path, self.device, self.key, self.config.epochs)
        if state is not None:
            fresh = copy.deepcopy(self.state())
            try:
                self.load_state(state)
                self.start_epoch = state["epoch"] + 1
                self.last_checkpoint_epoch = state["epoch"]
                return True
            except Exception as err:
                self.load_state(fresh)
                problem = f"does not fit this run ({type(err).__name__}: {str(err).splitlines()[0]})"
        where = ""
        if self.dist.is_main:
            try:
                where = f"; set aside as {set_aside(path)}"
            except OSError as err:
                raise DamagedFileError(path, problem, f"it could not be set aside ({err}); delete it") from None
        warnings.warn(
            f"damaged checkpoint {path}: {problem}{where}; training run {self.key} from the start",
            RuntimeWarning,
            stacklevel=2,
        )
        return False

    # ----- the run -----
    def run(self, stop_after: int | None = None) -> RunResult | None:
        cfg, is_main = self.config, self.dist.is_main
        if self.load_checkpoint() and not cfg.quiet and is_main:
            print(f"resuming {self.key} after epoch {self.start_epoch - 1}")
        bar = tqdm(
            range(self.start_epoch, cfg.epochs),
            desc=f"{cfg.method} {cfg.fusion} seed {cfg.seed}",
            disable=cfg.quiet or not is_main or not use_bar(),
            leave=False,
        )  # no bar in a log or SLURM
        done_this_call = 0
        for epoch in bar:
            t0 = time.perf_counter()
            train_loss = self.train_epoch(epoch)
            # once per epoch, before evaluation: every step's loss (through the sum) and the weights after the
            # last step; one host sync here, none in the steps. The last good checkpoint stays as it is.
            if not bool(torch.isfinite(train_loss) & weights_finite(self.model)):
                raise nonfinite_error(
                    cfg,
                    self.key,
                    epoch,
                    train_loss,
                    self.optimizer.param_groups[0]["lr"],
                    self.checkpoint_path,
                    self.last_checkpoint_epoch,
                )
            self.scheduler.step()
            metrics = {"epoch": epoch, "train_loss": float(train_loss), "lr": self.optimizer.param_groups[0]["lr"]}
            # per-clip scores kept: the test split's, and with `record_val` the validation split's
            kept = {"test": {}, "val": {} if cfg.record_val else None}
            evals = {split: self.evaluate_split(split, keep=kept.get(split)) for split in self.strategy.eval_splits()}
            # the test split's per-clip scores at the epoch chosen on validation (the first best, as below);
            # with `record_val`, the validation split's too (the testbed criteria are judged on them)
            if all(evals["val"]["acc"] > m["val_acc"] for m in self.result.epochs):
                test_out, val_out = kept["test"], kept["val"]
                self.result.predictions = encode_predictions(epoch, test_out["labels"], test_out["probs"])
                if val_out is not None:
                    self.result.val_predictions = encode_predictions(epoch, val_out["labels"], val_out["probs"])
            for split, m in evals.items():
                metrics.update({f"{split}_{k}": v for k, v in m.items()})
            if cfg.probe_every and ((epoch + 1) % cfg.probe_every == 0 or epoch == cfg.epochs - 1):
                metrics.update(self.probe())
            metrics.update(self.strategy.end_epoch(epoch, evals))  # e.g. gradient blending's new weights
            self.elapsed += time.perf_counter() - t0
            self.result.epochs.append(metrics)
            self.save_checkpoint(epoch)
            if self.writer is not None:
                for k, v in metrics.items():
                    self.writer.add_scalar(f"epoch/{k}", v, epoch)
            bar.set_postfix(val_acc=f"{metrics['val_acc']:.3f}", test_acc=f"{metrics['test_acc']:.3f}")
            done_this_call += 1
            if stop_after is not None and done_this_call >= stop_after and epoch < cfg.epochs - 1:
                return None
        accs = [m["val_acc"] for m in self.result.epochs]
        self.result.best_epoch = max(range(len(accs)), key=lambda i: (accs[i], -i))  # first best on val
        self.result.wall_time_s = self.elapsed
        self.result.provenance = provenance(cfg.device)
        self.result.provenance["split_hash"] = getattr(self.data, "split_hash", None)  # data/splits.py
        if is_main:
            self.result.save(self.results_dir)
        if self.writer is not None:
            self.writer.close()
        return self.result


def read_cached(path: Path, key: str, set_aside_damaged: bool = True) -> RunResult | None:
    """The result stored at `path`, or None: none there, or a damaged one, which is named in a warning and
    set aside as `<name>.damaged` (by one process only: `set_aside_damaged`) so that the run is trained
    again."""
    if not path.exists():
        return None
    try:
        return RunResult.load(path, expected_key=key)
    except FileNotFoundError:  # another rank set it aside between the two lines above
        return None
    except DamagedFileError as err:
        if not set_aside_damaged:
            return None
        try:
            aside = set_aside(path)
        except OSError as move:
            raise DamagedFileError(
                path,
                err.problem,
                f"it could not be set aside ({move}); delete it and run again, or pass retrain=True (--retrain)",
            ) from None
        warnings.warn(
            f"damaged result file {path}: {err.problem}; set aside as {aside.name}; training run {key} again",
            RuntimeWarning,
            stacklevel=3,
        )
        return None


def with_bookkeeping(result: RunResult, config: RunConfig) -> RunResult:
    """`result` with its config's fields outside the key (device, folders, workers, ...) replaced by those
    of `config`, the run asked for: a stored result (a file, a checkpoint's copy) is trusted only for what
    its key proves, never for where to write or what to run on."""
    from .config import _NOT_IN_KEY

    asked = config.to_dict()
    result.config = {**result.config, **{k: asked[k] for k in _NOT_IN_KEY}}
    return result


def fit(
    config: RunConfig,
    results_dir: str | Path | None = None,
    retrain: bool = False,
    stop_after: int | None = None,
    dist=None,
) -> RunResult | None:
    """Train `config` (or read its cached result). `stop_after`: stop after that many epochs of this
    call, as an interruption would, leaving a checkpoint that a later call resumes from.

    `dist`: this rank of a data-parallel group (`distributed.fit_ddp`); call `fit` on every rank then. The
    config becomes the group's (`world_size`, this rank's device), every rank returns the same result, and
    only rank 0 writes files."""
    dist = dist if dist is not None else SingleProcess()
    config = fingerprinted(dist.configure(config))  # a store's fingerprint, for the key (data/fingerprint.py)
    results_dir = results_folder(config, results_dir)
    key = config.key()
    check_device(config.device)  # before the cache too: `--device cuda` on a machine without one is refused
    if retrain and dist.is_main:
        (results_dir / "checkpoints" / f"{key}.pt").unlink(missing_ok=True)
    dist.barrier()  # the stale checkpoint is gone before any rank looks for one
    cached = None if retrain else read_cached(results_dir / f"{key}.json", key, set_aside_damaged=dist.is_main)
    if cached is not None:
        return with_bookkeeping(cached, config)
    result = Trainer(config, results_dir, dist=dist).run(stop_after=stop_after)
    dist.barrier()  # rank 0 has written the result before anyone returns
    return result
