"""A run whose loss or weights stopped being finite: the error, with the config's most likely cause.

The training loop checks once per epoch, before evaluation (`train.Trainer.run`): the epoch's loss sum (a
NaN or inf at any step propagates into it) and every parameter and buffer after the epoch's last
optimiser step (a blow-up in that step leaves the loss finite). No check inside the steps, so no host
synchronisation there.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .config import PROFILES, RunConfig


def weights_finite(model: torch.nn.Module) -> torch.Tensor:
    """A device-side boolean: every parameter and floating buffer (BatchNorm statistics) is finite.
    One reduction per tensor, no host synchronisation."""
    tensors = [t for t in (*model.parameters(), *model.buffers()) if t.is_floating_point()]
    return torch.stack([torch.isfinite(t).all() for t in tensors]).all()


def likely_cause(cfg: RunConfig, lr_now: float) -> str:
    """The config's most likely reason for a blow-up, for the error message (`lr_now`: the scheduler's
    learning rate when it happened)."""
    causes = []
    if cfg.lr_gamma > 1 and lr_now > cfg.lr:
        causes.append(f"lr_gamma = {cfg.lr_gamma:g} > 1 has raised the learning rate to {lr_now:g}")
    usual = PROFILES.get(cfg.profile, {}).get("lr", 1e-3) if cfg.optimizer == "sgd" else 1e-3
    if cfg.lr > 10 * usual:
        causes.append(
            f"the learning rate lr = {cfg.lr:g} is {cfg.lr / usual:g} times the usual {usual:g} "
            f"for {cfg.optimizer}"
            + (f" at profile {cfg.profile!r}" if cfg.optimizer == "sgd" else "")
            + "; try a lower lr"
        )
    if cfg.optimizer == "sgd" and cfg.momentum >= 0.99:
        causes.append(f"momentum = {cfg.momentum:g} is close to 1")
    if cfg.amp == "bf16":
        causes.append("bf16 autocast (amp = 'bf16') may overflow; try amp = 'none'")
    if cfg.method in ("ge", "ogm_ge") and not causes:
        causes.append(
            f"the GE noise of method {cfg.method!r} added to a large gradient; try a lower lr "
            f"(lr = {cfg.lr:g}) or method 'ogm'"
        )
    if not causes:
        causes.append(f"the learning rate lr = {cfg.lr:g} ({cfg.optimizer}) is the usual cause; try a lower one")
    return "; ".join(causes)


def nonfinite_error(
    cfg: RunConfig,
    key: str,
    epoch: int,
    train_loss: torch.Tensor,
    lr_now: float,
    checkpoint: Path,
    checkpoint_epoch: int | None,
) -> FloatingPointError:
    """The error for a blow-up detected after `epoch`: what, the likely cause, the last good checkpoint
    (`checkpoint`, written after `checkpoint_epoch`) if there is one."""
    what = (
        "training loss"
        if not torch.isfinite(train_loss)
        else "weights after the epoch's last optimiser step (the losses were finite)"
    )
    msg = f"non-finite {what} in epoch {epoch} of run {key}; likely cause: {likely_cause(cfg, lr_now)}"
    if checkpoint_epoch is not None and checkpoint.exists():
        msg += (
            f". The last good checkpoint (after epoch {checkpoint_epoch}) is kept at {checkpoint}; the "
            "same config would resume from it and fail again, so change the config (that makes a new run)"
        )
    else:
        msg += ". No checkpoint was written (nothing before this epoch to keep)"
    return FloatingPointError(msg)
