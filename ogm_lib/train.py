"""One training loop for every method: `fit(config) -> RunResult`.

Per step (paper Algorithm 1):

    forward -> loss on the fused logits (plus the strategy's terms) -> backward
    -> modulator.compute: scores, rho, k (logged for every method, applied only by ogm/ogm_ge/ge)
    -> modulator.apply: scale / perturb the encoders' gradients -> optimizer.step

Per epoch: StepLR, fused/audio/visual accuracy and macro mAP on validation and test (and train, with
`eval_train`: on a fixed subset of train as large as the test split), optional linear probes, a
checkpoint. The reported epoch is the best on VALIDATION fused accuracy; the official code chose the
best epoch on the test set, which flatters every number.

The per-step trace (loss, rho_a, rho_v, k_a, k_v) stays on the device during the epoch and is copied to
the host once at its end, so a step has no host synchronisation (`tests/test_speed_options.py` checks it
on a GPU with `torch.cuda.set_sync_debug_mode("error")`).

Speed switches of `RunConfig` (all off by default, plain fp32): `amp="bf16"` runs the forward and the loss
under `torch.autocast` (bfloat16 keeps fp32's exponent range, so no loss scaling); the modality scores are
computed from the logits cast back to fp32. `channels_last` stores conv weights and inputs as NHWC, the
layout tensor-core convolutions prefer. `fused_optimizer` does the optimiser step in one fused kernel.
`compile` runs the training forward through `torch.compile` (evaluation uses the plain module).
`channels_last` and `compile` are CUDA only (RunConfig refuses them on CPU, see config.py).

Data parallel (`distributed.py`, launched by torchrun): the Trainer gets a `dist` context. `batch_size`
stays the GLOBAL batch: every rank draws the same permutation, cuts each global batch into `world_size`
contiguous shards and trains on its own, and the loss is rescaled so that DDP's gradient average equals
the single-process mean over the global batch, even when the shards are unequal.

Runs are cached by config hash (`results.py`): calling `fit` again with an identical config reads the
result back. A run that stops (interrupted, killed) resumes from its last checkpoint, RNG states
included, and ends with the same numbers.

Damage and blow-ups (none of these checks changes what a healthy run computes):

- before any data is read, the device must exist (`config.check_device`) and the results folder must be
  writable (`fileio.check_writable`), so neither is found out after an epoch of training;
- a damaged result file (truncated, empty, another run's) is named, set aside as `<name>.damaged` and the
  run trained again; a damaged checkpoint (unreadable, another run's, not fitting the model) likewise,
  and training starts from the beginning (same seed, same numbers);
- non-finite values are caught once per epoch, before evaluation, without a host synchronisation inside
  the steps: the epoch's loss sum (a NaN or inf at any step propagates into it) and every parameter and
  buffer after the epoch's last optimiser step (a blow-up in that step leaves the loss finite). The error
  names the likely cause from the config, and the last good checkpoint only if one exists.
"""
from __future__ import annotations

import copy
import math
import time
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from tqdm import tqdm

from .config import PROFILES, RunConfig, check_device
from .data import AVTensorDataset, build_datasets, iterate_batches
from .fileio import DamagedFileError, check_writable, set_aside
from .metrics import evaluate
from .models import build_model
from .modulation import MODULATION_METHODS, GradientModulator, HalfBatch, half_size
from .probe import probe_encoder
from .results import RunResult, encode_predictions, atomic_write_bytes, provenance, results_folder
from .strategies import make_strategy

TRACE_KEYS = ("loss", "rho_a", "rho_v", "k_a", "k_v")


def _at_least_fp32(t: torch.Tensor) -> torch.Tensor:
    """bf16/fp16 -> fp32; fp32 and fp64 unchanged."""
    return t.to(torch.promote_types(t.dtype, torch.float32))


def shard_bounds(n: int, rank: int, world_size: int) -> tuple[int, int]:
    """`[lo, hi)` of rank's contiguous share of n items; the first `n % world_size` shares get one more
    (as `torch.tensor_split`). Every rank computes every rank's bounds alike: no communication needed."""
    q, r = divmod(n, world_size)
    lo = rank * q + min(rank, r)
    return lo, lo + q + (rank < r)


def sharded_train_batches(dataset, batch_size: int, device, generator: torch.Generator, num_workers: int = 0,
                          rank: int = 0, world_size: int = 1):
    """Shuffled training batches as `(n_global, offset, (audio, visual, labels))`: this rank's shard of each
    global batch, its size `n_global` and the shard's offset inside it.

    One process (`world_size == 1`) gets exactly `iterate_batches(..., shuffle=True)`. Several ranks draw
    the same permutation from identically seeded generators (a DistributedSampler that keeps the global
    batch of the single-process run); a final global batch smaller than `world_size` is dropped (some rank
    would get no sample), which happens only when `len(dataset) % batch_size < world_size`.
    """
    if world_size == 1:
        for batch in iterate_batches(dataset, batch_size, device, True, generator, num_workers):
            yield len(batch[2]), 0, batch
        return
    order = torch.randperm(len(dataset), generator=generator)
    chunks = [c for c in order.split(batch_size) if len(c) >= world_size]
    bounds = [shard_bounds(len(c), rank, world_size) for c in chunks]
    local = [c[lo:hi] for c, (lo, hi) in zip(chunks, bounds)]
    if isinstance(dataset, AVTensorDataset):
        batches = (dataset.batch(idx) for idx in local)
    else:
        batches = DataLoader(dataset, batch_sampler=[idx.tolist() for idx in local], num_workers=num_workers,
                             pin_memory=str(device).startswith("cuda"))
    for c, (lo, _), batch in zip(chunks, bounds, batches):
        yield len(c), lo, tuple(t.to(device, non_blocking=True) for t in batch)


def make_optimizer(config: RunConfig, model: torch.nn.Module):
    # fused=True: the whole step is one kernel per dtype/device group (SGD and Adam support it on CUDA and,
    # in recent torch, on CPU); None keeps torch's default (the foreach implementation on CUDA)
    fused = True if config.fused_optimizer else None
    if config.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                              weight_decay=config.weight_decay, fused=fused)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=fused)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=config.lr_step, gamma=config.lr_gamma)
    return opt, sched


class Trainer:
    """Holds one run's state; `fit()` is the usual way in.

    `data`: ready splits instead of `build_datasets(config)` (the benchmark passes placeholders).
    `dist`: a `distributed.DistContext` when running data parallel (see `distributed.fit_ddp`).
    """

    def __init__(self, config: RunConfig, results_dir: Path | None = None, data=None, dist=None):
        if dist is None and config.world_size != 1:
            raise ValueError(f"world_size={config.world_size} needs the data-parallel launcher: "
                             "torchrun --nproc_per_node=N -m ogm_lib.distributed train ...")
        self.config = config
        self.dist = dist
        self.rank, self.world_size = (dist.rank, dist.world_size) if dist is not None else (0, 1)
        self.is_main = self.rank == 0             # only rank 0 writes results and checkpoints
        self.results_dir = results_folder(config, results_dir)
        self.key = config.key()
        self.result_path = self.results_dir / f"{self.key}.json"
        self.checkpoint_path = self.results_dir / "checkpoints" / f"{self.key}.pt"
        check_device(config.device)                  # before any data is read: a clear error, not a CUDA one
        if self.is_main:                             # ... and the folder the run will write to
            check_writable(self.results_dir, "results folder")
            check_writable(self.checkpoint_path.parent, "checkpoint folder")
        self.device = torch.device(config.device)

        torch.manual_seed(config.seed)               # same seed on every rank: same initial weights
        self.data = data if data is not None else build_datasets(config)
        self.num_classes = self.data.num_classes
        model = build_model(config, self.num_classes)
        if dist is not None:
            model = dist.convert_batchnorm(model)   # SyncBatchNorm: statistics over the global batch
        memory_format = torch.channels_last if config.channels_last else torch.preserve_format
        self.model = model.to(self.device, memory_format=memory_format)
        self.optimizer, self.scheduler = make_optimizer(config, self.model)
        # what the training step calls: the module, wrapped by DDP (gradient all-reduce in backward) and/or
        # compiled; parameters are shared, so checkpoints and evaluation use the plain `self.model`
        self.train_model = dist.wrap(self.model) if dist is not None else self.model
        if config.compile:
            self.train_model = torch.compile(self.train_model)
        self.shuffle_gen = torch.Generator().manual_seed(config.seed)
        self.noise_gen = torch.Generator(device=self.device).manual_seed(config.seed + 1)
        self.strategy = make_strategy(config, torch.Generator().manual_seed(config.seed + 2))
        self.multimodal = config.modalities == "av"
        if self.multimodal:
            audio_params, visual_params = self.model.encoder_params()
            method = config.method if config.method in MODULATION_METHODS else "normal"
            self.modulator = GradientModulator(
                audio_params, visual_params, method=method, alpha=config.alpha, modulate=config.modulate,
                start_epoch=config.modulation_start, end_epoch=config.modulation_end,
                # data parallel: sum the scores over ranks before the ratio, so every rank applies the same
                # k; the noise generator has the same seed everywhere, so the GE noise is identical too
                reduce_scores=dist.all_reduce_sum if dist is not None else None,
                generator=self.noise_gen, ge_noise=config.ge_noise)
        self.result = RunResult(key=self.key, config=config.to_dict(),
                                steps={k: [] for k in TRACE_KEYS})
        self.start_epoch = 0
        self.last_checkpoint_epoch: int | None = None   # the epoch of the checkpoint on disk, if any
        self.elapsed = 0.0
        self.writer = None
        if config.tensorboard_dir and self.is_main:
            from torch.utils.tensorboard import SummaryWriter
            self.writer = SummaryWriter(str(Path(config.tensorboard_dir) / self.key))

    def autocast(self):
        """bf16 autocast when `amp="bf16"`, else a no-op context."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.config.amp == "bf16")

    # ----- one step of training -----
    def train_step(self, audio, visual, labels, epoch: int, n_global: int | None = None,
                   offset: int = 0) -> torch.Tensor:
        """Forward, loss, backward, modulation, optimiser step on one (shard of a) batch already on the
        device. Returns the step's trace row (loss, rho_a, rho_v, k_a, k_v), a device tensor: no host sync.

        `n_global`, `offset`: the global batch's size and this shard's place in it (data parallel)."""
        cfg, n = self.config, len(labels)
        n_global = n if n_global is None else n_global
        if cfg.channels_last:   # NHWC; for the 5-D frames, folding T into the batch then stays NHWC
            audio = audio.contiguous(memory_format=torch.channels_last)
            visual = visual.contiguous(memory_format=torch.channels_last_3d)
        # masks (modality dropout, OPM) are drawn for the global batch, then sliced: as in one process
        keep_a, keep_v = self.strategy.keep_masks(n_global, self.device)
        if n != n_global:
            keep_a = keep_a[offset:offset + n] if keep_a is not None else None
            keep_v = keep_v[offset:offset + n] if keep_v is not None else None
        with self.autocast():
            out = self.train_model(audio, visual, keep_a, keep_v)
            loss = self.strategy.loss(out, labels, self.model)
            total = loss
            if self.model.score_heads:   # FiLM / gated: train the detached per-modality score heads too
                total = loss + F.cross_entropy(out.logits_a, labels) + F.cross_entropy(out.logits_v, labels)
        if self.world_size > 1:
            # DDP averages gradients over ranks; weighting by the shard's share makes that average the
            # gradient of the mean loss over the global batch, also for unequal shards
            total = total * (n * self.world_size / n_global)
        # GE with the paper's noise (ge_noise "sgd*") needs the fused loss's gradient on the batch's first
        # part, through this graph: keep it for that one extra backward (modulation.sgd_noise)
        half = None
        if self.multimodal and self.modulator.needs_half_batch(epoch):
            m = half_size(n)
            with self.autocast():
                half_loss = F.cross_entropy(out.logits[:m], labels[:m]) if m else None
            half = HalfBatch(lambda params: torch.autograd.grad(half_loss, params), m, n)
        self.optimizer.zero_grad(set_to_none=True)
        total.backward(retain_graph=half is not None and half.size > 0)
        if self.multimodal:
            # scores from at least fp32 logits (a no-op without autocast): rho is a ratio of sums over the batch
            state = self.modulator.compute(_at_least_fp32(out.logits_a), _at_least_fp32(out.logits_v), labels)
            self.modulator.apply(state, epoch, half)
            self.strategy.observe(state)
            row = torch.stack([_at_least_fp32(loss.detach()), state.rho_a, state.rho_v, state.k_a, state.k_v])
        else:
            nan = torch.full((), math.nan, device=self.device)
            row = torch.stack([_at_least_fp32(loss.detach()), nan, nan, nan, nan])
        self.optimizer.step()
        return row

    # ----- one epoch of training -----
    def train_epoch(self, epoch: int) -> torch.Tensor:
        cfg = self.config
        self.model.train()
        trace, sizes = [], []
        loss_sum = torch.zeros((), device=self.device)
        for n_global, offset, (audio, visual, labels) in sharded_train_batches(
                self.data.train, cfg.batch_size, self.device, self.shuffle_gen, cfg.num_workers,
                self.rank, self.world_size):
            trace.append(self.train_step(audio, visual, labels, epoch, n_global, offset))
            sizes.append((len(labels), n_global))
            loss_sum += trace[-1][0]
        trace = torch.stack(trace)
        if self.world_size > 1:
            # the logged loss is the global batch's mean: one all-reduce of the epoch's losses, not per step
            local_n, global_n = torch.tensor(sizes, dtype=trace.dtype).to(trace.device).unbind(1)
            trace[:, 0] = self.dist.all_reduce_sum(trace[:, 0] * local_n) / global_n
            loss_sum = trace[:, 0].sum()
        trace = trace.cpu()                     # the epoch's only host copy of the trace
        for i, key in enumerate(TRACE_KEYS):
            self.result.steps[key].extend(trace[:, i].tolist())
        if self.writer is not None:
            first = len(self.result.steps["loss"]) - len(trace)
            for j, row in enumerate(trace.tolist()):
                for key, value in zip(TRACE_KEYS, row):
                    self.writer.add_scalar(f"step/{key}", value, first + j)
        return loss_sum / max(len(trace), 1)

    # ----- evaluation -----
    def train_eval_split(self):
        """A fixed subset of the training split, as large as the test split: the train-side metrics
        (generalisation gap, gradient blending's losses) at a fraction of a full pass's cost."""
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
        batches = iterate_batches(split, self.config.batch_size * 2, self.device,
                                  num_workers=self.config.num_workers)
        with self.autocast():
            return evaluate(self.model, batches, self.num_classes,
                            aux_heads=self.config.method == "grad_blend", keep=keep)

    def probe(self) -> dict:
        out = {}
        def batches(split):
            return iterate_batches(getattr(self.data, split), self.config.batch_size * 2, self.device,
                                   num_workers=self.config.num_workers)
        for modality, enc in (("audio", self.model.audio_encoder), ("visual", self.model.visual_encoder)):
            if enc is not None:
                out[f"probe_{modality}"] = probe_encoder(enc, batches("train"), batches("test"), modality,
                                                         self.num_classes)
        return out

    # ----- checkpoints -----
    def save_checkpoint(self, epoch: int) -> None:
        import io
        if not self.is_main:
            return
        state = {"epoch": epoch, "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "scheduler": self.scheduler.state_dict(), "shuffle_gen": self.shuffle_gen.get_state(),
                 "noise_gen": self.noise_gen.get_state(), "strategy_gen": self.strategy.generator.get_state(),
                 "strategy": {k: v for k, v in vars(self.strategy).items() if k not in ("config", "generator")},
                 "torch_rng": torch.get_rng_state(), "result": self.result.__dict__, "elapsed": self.elapsed,
                 "key": self.key}
        buf = io.BytesIO()
        torch.save(state, buf)
        atomic_write_bytes(self.checkpoint_path, buf.getvalue())
        self.last_checkpoint_epoch = epoch

    CHECKPOINT_FIELDS = ("epoch", "model", "optimizer", "scheduler", "shuffle_gen", "noise_gen", "strategy_gen",
                         "strategy", "torch_rng", "result", "elapsed")

    def _checkpoint_problem(self, state) -> str | None:
        """What makes a loaded checkpoint unusable for this run, or None."""
        if not isinstance(state, dict):
            return f"holds a {type(state).__name__}, not a checkpoint"
        missing = [k for k in self.CHECKPOINT_FIELDS if k not in state]
        if missing:
            return f"missing {', '.join(missing)}"
        if state.get("key", self.key) != self.key:
            return f"holds run {state['key']}, not run {self.key}"
        epoch = state["epoch"]
        if not isinstance(epoch, int) or not 0 <= epoch < self.config.epochs:
            return f"epoch {epoch!r} is not an epoch of this run (0..{self.config.epochs - 1})"
        result = state["result"]
        if not isinstance(result, dict) or len(result.get("epochs", ())) != epoch + 1:
            return f"its result does not hold the {epoch + 1} epochs it should"
        return None

    def _state_snapshot(self) -> dict:
        """Everything `load_checkpoint` overwrites, to restore when a checkpoint turns out not to fit."""
        return {"model": {k: v.clone() for k, v in self.model.state_dict().items()},
                "optimizer": copy.deepcopy(self.optimizer.state_dict()),
                "scheduler": copy.deepcopy(self.scheduler.state_dict()),
                "gens": [g.get_state() for g in (self.shuffle_gen, self.noise_gen, self.strategy.generator)],
                "strategy": copy.deepcopy({k: v for k, v in vars(self.strategy).items()
                                           if k not in ("config", "generator")}),
                "torch_rng": torch.get_rng_state()}

    def _restore_snapshot(self, snap: dict) -> None:
        self.model.load_state_dict(snap["model"])
        self.optimizer.load_state_dict(snap["optimizer"])
        self.scheduler.load_state_dict(snap["scheduler"])
        for g, st in zip((self.shuffle_gen, self.noise_gen, self.strategy.generator), snap["gens"]):
            g.set_state(st)
        vars(self.strategy).update(snap["strategy"])
        torch.set_rng_state(snap["torch_rng"])

    def load_checkpoint(self) -> bool:
        """Resume from the run's checkpoint if there is one. A damaged one (unreadable, truncated, another
        run's, not fitting the model) is named in a warning, set aside as `<name>.damaged`, and the run
        starts from the beginning (returns False), exactly as if there had been none."""
        path = self.checkpoint_path
        if not path.exists():
            return False
        try:
            state = torch.load(path, map_location=self.device, weights_only=False)
            problem = self._checkpoint_problem(state)
        except (MemoryError, PermissionError):
            raise                           # says nothing about the file's content
        except Exception as err:            # truncated zip, bad pickle, I/O error: all mean "do not trust it"
            problem = f"unreadable ({type(err).__name__}: {(str(err).splitlines() or [''])[0]})"
        if problem is None:
            snapshot = self._state_snapshot()
            try:
                self.model.load_state_dict(state["model"])
                self.optimizer.load_state_dict(state["optimizer"])
                self.scheduler.load_state_dict(state["scheduler"])
                self.shuffle_gen.set_state(state["shuffle_gen"])
                self.noise_gen.set_state(state["noise_gen"])
                self.strategy.generator.set_state(state["strategy_gen"])
                vars(self.strategy).update(state["strategy"])
                torch.set_rng_state(state["torch_rng"])
                self.result = RunResult(**state["result"])
                self.elapsed = state["elapsed"]
                self.start_epoch = state["epoch"] + 1
                self.last_checkpoint_epoch = state["epoch"]
                return True
            except Exception as err:
                self._restore_snapshot(snapshot)
                self.result = RunResult(key=self.key, config=self.config.to_dict(),
                                        steps={k: [] for k in TRACE_KEYS})
                self.elapsed, self.start_epoch, self.last_checkpoint_epoch = 0.0, 0, None
                problem = f"does not fit this run ({type(err).__name__}: {str(err).splitlines()[0]})"
        where = ""
        if self.is_main:
            try:
                where = f"; set aside as {set_aside(path)}"
            except OSError as err:
                raise DamagedFileError(path, problem, f"it could not be set aside ({err}); delete it") from None
        warnings.warn(f"damaged checkpoint {path}: {problem}{where}; training run {self.key} from the start",
                      RuntimeWarning, stacklevel=2)
        return False

    # ----- non-finite values -----
    def weights_finite(self) -> torch.Tensor:
        """A device-side boolean: every parameter and floating buffer (BatchNorm statistics) is finite.
        One reduction per tensor, no host synchronisation; `run` reads it once per epoch."""
        tensors = [t for t in (*self.model.parameters(), *self.model.buffers()) if t.is_floating_point()]
        return torch.stack([torch.isfinite(t).all() for t in tensors]).all()

    def likely_cause(self, epoch: int) -> str:
        """The config's most likely reason for a blow-up, for the error message."""
        cfg = self.config
        causes = []
        lr_now = self.optimizer.param_groups[0]["lr"]
        if cfg.lr_gamma > 1 and lr_now > cfg.lr:
            causes.append(f"lr_gamma = {cfg.lr_gamma:g} > 1 has raised the learning rate to {lr_now:g}")
        usual = PROFILES.get(cfg.profile, {}).get("lr", 1e-3) if cfg.optimizer == "sgd" else 1e-3
        if cfg.lr > 10 * usual:
            causes.append(f"the learning rate lr = {cfg.lr:g} is {cfg.lr / usual:g} times the usual {usual:g} "
                          f"for {cfg.optimizer}" + (f" at profile {cfg.profile!r}" if cfg.optimizer == "sgd" else "")
                          + "; try a lower lr")
        if cfg.optimizer == "sgd" and cfg.momentum >= 0.99:
            causes.append(f"momentum = {cfg.momentum:g} is close to 1")
        if cfg.amp == "bf16":
            causes.append("bf16 autocast (amp = 'bf16') may overflow; try amp = 'none'")
        if cfg.method in ("ge", "ogm_ge") and not causes:
            causes.append(f"the GE noise of method {cfg.method!r} added to a large gradient; try a lower lr "
                          f"(lr = {cfg.lr:g}) or method 'ogm'")
        if not causes:
            causes.append(f"the learning rate lr = {cfg.lr:g} ({cfg.optimizer}) is the usual cause; try a lower one")
        return "; ".join(causes)

    def nonfinite_error(self, epoch: int, train_loss: torch.Tensor) -> FloatingPointError:
        """The error for a blow-up detected after `epoch`: what, the likely cause, the checkpoint if any."""
        what = ("training loss" if not torch.isfinite(train_loss) else
                "weights after the epoch's last optimiser step (the losses were finite)")
        msg = f"non-finite {what} in epoch {epoch} of run {self.key}; likely cause: {self.likely_cause(epoch)}"
        if self.last_checkpoint_epoch is not None and self.checkpoint_path.exists():
            msg += (f". The last good checkpoint (after epoch {self.last_checkpoint_epoch}) is kept at "
                    f"{self.checkpoint_path}; the same config would resume from it and fail again, so change "
                    "the config (that makes a new run)")
        else:
            msg += ". No checkpoint was written (nothing before this epoch to keep)"
        return FloatingPointError(msg)

    # ----- the run -----
    def run(self, stop_after: int | None = None) -> RunResult | None:
        cfg = self.config
        if self.load_checkpoint() and not cfg.quiet and self.is_main:
            print(f"resuming {self.key} after epoch {self.start_epoch - 1}")
        bar = tqdm(range(self.start_epoch, cfg.epochs), desc=f"{cfg.method} {cfg.fusion} seed {cfg.seed}",
                   disable=cfg.quiet or not self.is_main, leave=False)
        done_this_call = 0
        for epoch in bar:
            t0 = time.perf_counter()
            train_loss = self.train_epoch(epoch)
            # once per epoch, before evaluation: every step's loss (through the sum) and the weights after the
            # last step; one host sync here, none in the steps. The last good checkpoint stays as it is.
            if not bool(torch.isfinite(train_loss) & self.weights_finite()):
                raise self.nonfinite_error(epoch, train_loss)
            self.scheduler.step()
            metrics = {"epoch": epoch, "train_loss": float(train_loss), "lr": self.optimizer.param_groups[0]["lr"]}
            test_out: dict = {}
            evals = {"val": self.evaluate_split("val"), "test": self.evaluate_split("test", keep=test_out)}
            # the test split's per-clip scores at the epoch chosen on validation (the first best, as below)
            if all(evals["val"]["acc"] > m["val_acc"] for m in self.result.epochs):
                self.result.predictions = encode_predictions(epoch, test_out["labels"], test_out["probs"])
            if cfg.eval_train or cfg.method == "grad_blend":
                evals["train"] = self.evaluate_split("train")
            for split, m in evals.items():
                metrics.update({f"{split}_{k}": v for k, v in m.items()})
            if cfg.probe_every and ((epoch + 1) % cfg.probe_every == 0 or epoch == cfg.epochs - 1):
                metrics.update(self.probe())
            if cfg.method == "grad_blend":
                heads = lambda s: {"fused": evals[s]["loss"], "audio": evals[s]["loss_aux_audio"],
                                   "visual": evals[s]["loss_aux_visual"]}
                self.strategy.end_epoch(epoch, heads("train"), heads("val"))
                metrics.update({f"gb_weight_{h}": w for h, w in self.strategy.weights.items()})
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
        self.result.provenance["split_hash"] = getattr(self.data, "split_hash", None)   # data/splits.py
        if self.is_main:
            self.result.save(self.results_dir)
        if self.writer is not None:
            self.writer.close()
        return self.result


def fit(config: RunConfig, results_dir: str | Path | None = None, retrain: bool = False,
        stop_after: int | None = None) -> RunResult | None:
    """Train `config` (or read its cached result). `stop_after`: stop after that many epochs of this
    call, as an interruption would, leaving a checkpoint that a later call resumes from."""
    results_dir = results_folder(config, results_dir)
    path = results_dir / f"{config.key()}.json"
    if path.exists() and not retrain:
        try:
            return RunResult.load(path, expected_key=config.key())
        except DamagedFileError as err:       # named, set aside, and the run trained again
            try:
                aside = set_aside(path)
            except OSError as move:
                raise DamagedFileError(path, err.problem, f"it could not be set aside ({move}); delete it "
                                       "and run again, or pass retrain=True (--retrain)") from None
            warnings.warn(f"damaged result file {path}: {err.problem}; set aside as {aside.name}; "
                          f"training run {config.key()} again", RuntimeWarning, stacklevel=2)
    if retrain:
        (results_dir / "checkpoints" / f"{config.key()}.pt").unlink(missing_ok=True)
    return Trainer(config, results_dir).run(stop_after=stop_after)

