"""`python -m ogm_lib data check`: is the data what a run will read, and who is in which split?

    python -m ogm_lib data check --dataset cremad                   # the official split: actors shared
    python -m ogm_lib data check --dataset cremad --split speaker   # actors disjoint: no overlap
    python -m ogm_lib data check --dataset avdigits --split speaker --seed 0
    python -m ogm_lib data check --dataset vggsound                 # every file's SHA-256, arrays included
    python -m ogm_lib data lists --dataset ksounds --lists train.csv test.csv   # split lists, before preparing

For one dataset and split rule it

1. checks a prepared store against its manifest by content (`store.problems`: every file there with its
   size, the arrays' shapes and dtypes, and every file's SHA-256, the large arrays included; `--deep` is
   kept for old command lines and changes nothing in a fresh process) and names each damaged file (exit
   status 1; the prepare script repairs the store);
2. builds the splits exactly as a run does (`build_datasets` of the config these options make) and prints,
   per split, the clips, the class counts and the speakers, then the speakers two splits share;
3. writes the split manifest (`splits.split_manifest`: those numbers, every clip's name, and a hash over
   them) to `--out`, by default `<data folder>/split-manifests/<dataset>-<split>-<hash>.json`, and prints
   the hash. A run records the same hash in its provenance (`split_hash`), so a result can be traced to
   the exact clips it was trained, selected and tested on.

Options a split depends on (`--val-fraction`, and for avdigits `--seed`, which draws its validation clips
and image pairing) are those of `python -m ogm_lib train`; the `--profile`'s data sizes are used to build
avdigits (read from its cache when the book has built it before).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..config import DATASETS, PREPARED_DATASETS, PROFILES, SPLIT_RULES, make_config
from ..fileio import atomic_write_bytes


def add_parser(sub, common: argparse.ArgumentParser) -> None:
    """The `data` subcommand of `python -m ogm_lib` (its only action so far: `check`)."""
    p = sub.add_parser(
        "data",
        help="check a dataset: store integrity, class counts, speakers per split",
        parents=[common],
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "action",
        choices=["check", "lists"],
        help="check: a store and its splits; lists: Kinetics-Sounds or VGGSound split lists before "
        "preparing (split_lists.py)",
    )
    p.add_argument(
        "--lists",
        nargs="+",
        default=None,
        help="lists: the list files (ksounds: train and test lists; vggsound: vggsound.csv)",
    )
    p.add_argument("--dataset", default="avdigits", choices=DATASETS)
    p.add_argument("--split", default="official", choices=SPLIT_RULES, help="split rule (data/splits.py)")
    p.add_argument(
        "--data-dir",
        default=None,
        help="the data folder (default: <repository>/data/<dataset> or $OGM_DATA_DIR/<dataset>)",
    )
    p.add_argument("--val-fraction", type=float, default=None, help="share of train held out for validation")
    p.add_argument("--seed", type=int, default=0, help="avdigits: the seed that draws validation and pairing")
    p.add_argument("--profile", default="cpu", choices=tuple(PROFILES), help="data sizes to build avdigits at")
    p.add_argument(
        "--deep",
        action="store_true",
        help="hash the large arrays even if this process has already (every SHA-256 is checked by default)",
    )
    p.add_argument("--out", default=None, help="where to write the split manifest (JSON)")


def data_command(args) -> int:
    """Run `data check`; returns the exit status (1 when a store is damaged)."""
    if args.action == "lists":
        from .split_lists import check_lists

        if not args.lists:
            raise ValueError("data lists: pass the list files with --lists")
        report = check_lists(args.dataset, args.lists)
        print(report.text())
        return 0 if report.ok else 1
    from ..paths import dataset_dir
    from . import build_datasets
    from .fingerprint import fingerprinted
    from .splits import split_manifest, split_report

    overrides = dict(dataset=args.dataset, split=args.split, data_dir=args.data_dir, seed=args.seed)
    if args.val_fraction is not None:
        overrides["val_fraction"] = args.val_fraction
    config = make_config(args.profile, **overrides)
    folder = Path(config.data_dir) if config.data_dir else dataset_dir(config.dataset)
    if config.dataset in PREPARED_DATASETS:
        if not store_ok(folder, args.deep):
            return 1
    config = fingerprinted(config)  # the manifest names the data (a store's fingerprint, fingerprint.py)
    splits = build_datasets(config)
    manifest = split_manifest(splits, config)
    print(split_report(manifest))
    out = (
        Path(args.out)
        if args.out
        else (folder / "split-manifests" / f"{config.dataset}-{config.split}-{manifest['hash']}.json")
    )
    atomic_write_bytes(out, json.dumps(manifest, indent=1).encode())
    print(f"split manifest written to {out}")
    return 0


def store_ok(folder: Path, deep: bool) -> bool:
    """Print the store's check; False (after naming every damaged file) when it is not good."""
    from .prepare import read_manifest
    from .store import REPAIR_HINT, problems

    manifest = read_manifest(folder)
    if manifest is None:
        raise FileNotFoundError(f"no prepared store at {folder} (manifest.json missing)")
    found = problems(folder, manifest, deep)
    if found:
        print(f"store {folder}: {len(found)} problem(s)")
        for name, problem in found:
            print(f"  {folder / name}: {problem}")
        print(REPAIR_HINT.format(dataset=manifest.get("dataset", "<dataset>"), root=folder))
        return False
    print(
        f"store {folder}: good (sizes, shapes and every file's SHA-256 as in its manifest; fingerprint "
        f"{manifest.get('store_fingerprint')})"
    )
    return True
