"""Command line: `python -m ogm_lib train ...` trains one run; `python -m ogm_lib fetch avdigits` gets data;
`python -m ogm_lib book list|retrain|verify` handles the book's runs (`book.py`, `rerun.py`);
`python -m ogm_lib data check` checks a dataset and its splits (`data/check.py`).

Every RunConfig field is an option of `train` (`--help` lists them with their profile defaults). Examples:

    python -m ogm_lib train --dataset avdigits --fusion concat --method ogm_ge --alpha 0.8
    python -m ogm_lib book retrain --results-dir results-retrain   # every run of the book, resumable
    python -m ogm_lib book verify --sample 3                         # retrain 3 committed runs, compare

Errors are one line (`error: ...`, exit status 1); `--debug` shows the full traceback instead.
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from dataclasses import MISSING, fields

from .config import (AMP_MODES, AUDIO_MODELS, DATASET_DEFAULTS, DATASETS, FUSIONS, GE_NOISES, METHODS,
                     MODALITIES, MODULATE_PARAMS, OPTIMIZERS, PROFILES, SPLIT_RULES, TASKS, VIDEO_MODELS,
                     RunConfig, make_config)

FIELD_HELP = {
    "dataset": "which data", "modalities": "'av' (joint model) or a unimodal model 'audio' / 'visual'",
    "data_dir": "prepared data folder (default <repository>/data/<dataset>, or $OGM_DATA_DIR/<dataset>)",
    "split": "'official' (the dataset's own split, the paper's protocol) or 'speaker' (train, validation "
             "and test speakers disjoint; avdigits and cremad)",
    "data_fingerprint": "the data's fingerprint; filled in from the data (a prepared store's manifest), "
                        "leave it out",
    "val_fraction": "share of train held out for model selection",
    "n_frames": "visual frames per clip (T)", "image_size": "visual frame side in pixels",
    "audio_snr_db": "avdigits/synthetic: SNR of the white noise added to the audio, in dB",
    "visual_noise": "avdigits/synthetic: std of the pixel noise on the frames",
    "audio_seconds": "avdigits: waveform length the recordings are tiled/cut to",
    "synthetic_size": "synthetic: clips in train+val",
    "fusion": "fusion module", "width": "ResNet-18 base width (64 = the paper's)",
    "video_model": "video architecture: resnet18 (the book's), tsn, tsm, tbn, psp (paper Table 3); avga, psp with "
                   "task events (Table 5)",
    "audio_model": "audio encoder (paper Table 4): resnet18 (the book's), xvector, ivector, mwtsm",
    "task": "'classify' clips, or 'events': label every segment of event sequences (paper Table 5; video "
            "model avga or psp)",
    "method": "balancing method: normal, OGM, OGM-GE, GE alone, or a comparison method",
    "alpha": "OGM strength alpha >= 0 of k = 1 - tanh(alpha * rho) (paper Eq. 10); 0 turns the scaling off",
    "modulation_start": "first modulated epoch (0-indexed, inclusive)",
    "modulation_end": "last modulated epoch (inclusive)",
    "modulate": "which encoder tensors OGM scales: 'conv' weights (official) or 'all'",
    "ge_noise": "GE's noise (methods ogm_ge, ge): 'official' (isotropic, std of the unscaled gradient), "
                "'sgd' (the paper's: mini-batch noise covariance, from the batch's two halves; one extra "
                "backward pass), 'sgd_k' (that noise times k), 'sgd_restore' (times sqrt(k(1-k)): SGD's "
                "temperature per unit of effective learning rate)",
    "drop_prob": "modality-dropout probability", "opm_q_base": "OPM base drop probability",
    "opm_lambda": "OPM lambda", "opm_p_exe": "OPM probability of modulating a step",
    "gb_super_epoch": "gradient blending: epochs between weight estimates",
    "optimizer": "optimiser", "lr": "learning rate", "momentum": "SGD momentum",
    "weight_decay": "weight decay", "lr_step": "StepLR step (epochs)", "lr_gamma": "StepLR factor",
    "epochs": "training epochs", "batch_size": "mini-batch size", "seed": "random seed",
    "eval_train": "also evaluate on the training split every epoch",
    "probe_every": "linear-probe each frozen encoder every n epochs (0: never)",
    "amp": "autocast: 'none' (fp32) or 'bf16'", "channels_last": "NHWC memory format for the convs",
    "fused_optimizer": "fused optimiser step (fused=True)", "compile": "torch.compile the training forward",
    "world_size": "data-parallel processes: set by `torchrun -m ogm_lib.distributed`, leave at 1 here",
    "profile": "named profile whose values are the defaults", "device": "torch device (cpu, cuda, cuda:1, mps)",
    "num_workers": "DataLoader workers for prepared datasets", "quiet": "no progress bar",
    "tensorboard_dir": "also log the per-step trace to TensorBoard here (default: no TensorBoard log)",
    "results_dir": "where result JSONs and checkpoints go (default ./results or $OGM_RESULTS_DIR)",
}
CHOICES = {"dataset": DATASETS, "split": SPLIT_RULES, "modalities": MODALITIES, "fusion": FUSIONS, "method": METHODS,
           "modulate": MODULATE_PARAMS, "ge_noise": GE_NOISES, "optimizer": OPTIMIZERS, "profile": tuple(PROFILES),
           "amp": AMP_MODES, "video_model": VIDEO_MODELS, "audio_model": AUDIO_MODELS,
           "task": TASKS}


def _bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def _default_text(name: str, default) -> str:
    """The default of option `name` as `--help` prints it (once): the profiles' values where they set it,
    and the paper profile's per-dataset values."""
    if name == "profile":
        return "cpu"
    per_profile = {p: values[name] for p, values in PROFILES.items() if name in values}
    text = ", ".join(f"{v} at {p}" for p, v in per_profile.items())
    if per_profile and len(per_profile) < len(PROFILES):
        text += f", else {default}"
    per_dataset = {d: values[name] for d, values in DATASET_DEFAULTS.items() if name in values}
    if per_dataset:
        text = (text or f"{default}") + "; at paper: " + ", ".join(f"{v} for {d}" for d, v in per_dataset.items())
    return text or f"{default}"


def _common() -> argparse.ArgumentParser:
    """Options every subcommand takes (`--debug`), also accepted after the subcommand."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="on an error, show the full traceback instead of one line")
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ogm_lib", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", default=False,
                        help="on an error, show the full traceback instead of one line")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train one run (or read its cached result)", parents=[_common()],
                           description="Train one run, or read its cached result. Options left out take "
                                       "the profile's value (`--profile`, default cpu), else the built-in one.")
    for f in fields(RunConfig):
        default = f.default if f.default is not MISSING else None
        kind = {bool: _bool, int: int, float: float}.get(type(default), str)
        option = f"--{f.name.replace('_', '-')}"
        text = FIELD_HELP[f.name]
        if default is not None or f.name == "profile":    # a None default is described by the help text
            text += f" (default: {_default_text(f.name, default)})"
        if kind is _bool:   # a flag; `--quiet true` / `--quiet false` also work
            train.add_argument(option, dest=f.name, type=_bool, nargs="?", const=True, default=None,
                               metavar="true|false", help=text)
        else:
            train.add_argument(option, dest=f.name, type=kind, default=None, choices=CHOICES.get(f.name),
                               metavar=None if f.name in CHOICES else f.name.upper(), help=text)
    train.add_argument("--retrain", action="store_true", help="ignore a cached result and train again")
    train.add_argument("--json", action="store_true", help="print the result's best-epoch metrics as JSON")
    fetch = sub.add_parser("fetch", help="fetch and verify a default dataset (avdigits: FSDD recordings)",
                           parents=[_common()])
    fetch.add_argument("dataset", choices=["avdigits"])
    fetch.add_argument("--dest", default=None, help="destination folder (default ./data/avdigits)")
    fetch.add_argument("--mirror", default=None, help="a local copy of FSDD to copy from")
    from .data.check import add_parser as add_data_parser
    add_data_parser(sub, _common())
    book = sub.add_parser("book", help="the book's runs: list them, retrain them all, or verify a sample",
                          parents=[_common()])
    book.add_argument("action", choices=["list", "retrain", "verify"],
                      help="list: the runs and whether each is in the results folder; retrain: train every "
                           "missing run (resumable; a progress bar with an ETA); verify: retrain a random "
                           "sample of the folder's runs and compare them with the files")
    book.add_argument("--results-dir", default=None, help="default ./results or $OGM_RESULTS_DIR")
    book.add_argument("--workers", type=int, default=None, help="parallel processes (default: one per core)")
    book.add_argument("--sample", type=int, default=3, help="verify: how many runs to retrain")
    book.add_argument("--draw-seed", type=int, default=None, help="verify: seed of the random draw")
    book.add_argument("--compare-to", default=None,
                      help="retrain: afterwards, compare every run with the same file in this folder")
    return parser


def book_command(args) -> int:
    import time

    from .book import book_runs, run_grid
    from .paths import default_results_dir
    from .results import RunResult
    results_dir = Path(args.results_dir) if args.results_dir else default_results_dir()
    if args.action == "verify":
        from .rerun import verify_sample
        failed = verify_sample(results_dir, args.sample, args.draw_seed)
        print("all retrained runs agree with their files" if not failed else f"{failed} run(s) differ")
        return 1 if failed else 0
    runs = book_runs()
    have = [c for c in runs if (results_dir / f"{c.key()}.json").exists()]
    if args.action == "list":
        for c in runs:
            mark = "done" if c in have else "todo"
            print(f"{mark} {c.key()} {c.modalities} {c.fusion} {c.method} {c.optimizer} lr={c.lr:g} "
                  f"b={c.batch_size} alpha={c.alpha:g} seed={c.seed}")
        print(f"{len(have)} of {len(runs)} runs in {results_dir}")
        return 0
    print(f"{len(runs)} runs of the book; {len(have)} already in {results_dir}, training {len(runs) - len(have)}")
    t0 = time.perf_counter()
    results = run_grid(runs, results_dir=results_dir, workers=args.workers, progress=True)
    print(f"{len(results)} runs in {results_dir}; this call took {time.perf_counter() - t0:.0f} s; "
          f"sum of the runs' own wall times {sum(r.wall_time_s for r in results):.0f} s")
    if args.compare_to:
        from .rerun import compare
        differ = 0
        for r in results:
            path = Path(args.compare_to) / f"{r.key}.json"
            if path.exists() and compare(r, RunResult.load(path)):
                differ += 1
        print(f"compared with {args.compare_to}: {differ} of {len(results)} runs differ")
        return 1 if differ else 0
    return 0


def main(argv: list[str] | None = None) -> int:
    """The command line; an error is one line on stderr (exit status 1), or its traceback with `--debug`."""
    args = build_parser().parse_args(argv)
    show = warnings.showwarning
    if not args.debug:    # warnings (a damaged file set aside, ...) as one line too
        warnings.showwarning = lambda message, category, *a, **k: print(f"warning: {message}", file=sys.stderr)
    try:
        return run_command(args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("interrupted; the same command resumes a training run from its last checkpoint", file=sys.stderr)
        return 130
    except Exception as err:
        if args.debug:
            raise
        print(f"error: {one_line(err)}", file=sys.stderr)
        return 1
    finally:
        warnings.showwarning = show


#: errors whose message says it all; any other exception is also named by its type
_PLAIN_ERRORS = (ValueError, OSError, FloatingPointError)


def one_line(err: BaseException) -> str:
    """An exception as one line: its message (with its type unless it is an ordinary input error), and a
    pointer to `--debug` for anything unexpected."""
    text = " ".join(str(err).split()) or type(err).__name__
    if isinstance(err, _PLAIN_ERRORS):
        return text
    return f"{type(err).__name__}: {text} (run again with --debug for the traceback)"


def run_command(args) -> int:
    if args.command == "fetch":
        from .data.fsdd import default_data_dir, fetch_fsdd
        report = fetch_fsdd(args.dest or default_data_dir("avdigits"), mirror=args.mirror)
        print(report)
        return 0
    if args.command == "book":
        return book_command(args)
    if args.command == "data":
        from .data.check import data_command
        return data_command(args)
    from .train import fit
    overrides = {f.name: getattr(args, f.name) for f in fields(RunConfig)
                 if f.name != "profile" and getattr(args, f.name) is not None}
    config = make_config(args.profile or "cpu", **overrides)
    result = fit(config, retrain=args.retrain)
    best = result.best
    if args.json:
        print(json.dumps({"key": result.key, "best_epoch": result.best_epoch, **best}, indent=1))
    else:
        print(f"run {result.key}: best epoch {result.best_epoch} (chosen on validation), "
              f"{result.wall_time_s:.1f} s")
        for split in ("val", "test"):
            parts = [f"{name} acc {best[f'{split}_acc{sfx}']:.3f}"
                     for name, sfx in (("fused", ""), ("audio", "_audio"), ("visual", "_visual"))
                     if f"{split}_acc{sfx}" in best]
            print(f"  {split:4s} " + ", ".join(parts) + f", mAP {best[f'{split}_map']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
