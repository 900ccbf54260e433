#!/usr/bin/env python
"""Prepare CREMA-D for ogm_lib: raw download -> prepared store (frames + spectrograms, splits, manifest).

Raw layout (github.com/CheyneyComputerScience/CREMA-D, files under Git LFS):
  <raw>/AudioWAV/1001_DFA_ANG_XX.wav    audio used for the spectrogram (22,050 Hz, 3 s, 257 x 188)
  <raw>/VideoFlash/1001_DFA_ANG_XX.flv  video, 1 frame per second kept (at most 3)
Names are <actor>_<sentence>_<emotion>_<level>; the label is the emotion (NEU HAP SAD FEA DIS ANG).

Split: --split-dir with the OGM-GE train.csv / test.csv (lines `name,label`) when you have them;
otherwise a deterministic 90/10 split by hash of the clip name, or of the actor with
--speaker-independent. The validation split is carved from train when loading (RunConfig.val_fraction).
Whatever the lists, a run with RunConfig.split = "speaker" splits the store's clips again with train,
validation and test actors disjoint; `python -m ogm_lib data check --dataset cremad [--split speaker]`
shows the actors of each split and those two splits share.

The store goes to <repository>/data/cremad (or $OGM_DATA_DIR/cremad) unless --out says otherwise: where
runs look for it, whatever their working directory. A rerun repairs a damaged store (every file's
SHA-256 is checked; a damaged per-clip file is decoded again).

Example:
  python data_scripts/prepare_cremad.py --raw ~/CREMA-D --split-dir ~/OGM-GE/data/CREMAD
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runs from a checkout without installing

from data_scripts.cli import base_parser, common_kwargs, open_fraction, run_cli, summarise  # noqa: E402
from ogm_lib.method.data.prepare import prepare_cremad  # noqa: E402


def main(argv=None):
    p = base_parser("cremad", __doc__)
    p.add_argument("--split-dir", help="folder with the official train.csv and test.csv")
    p.add_argument(
        "--speaker-independent",
        action="store_true",
        help="hash split by actor: no actor in both train and test (ignored with --split-dir)",
    )
    p.add_argument("--test-fraction", type=open_fraction, default=0.1, help="test share of the hash split")
    args = p.parse_args(argv)
    if args.split_dir and args.speaker_independent:
        p.error("--speaker-independent applies to the hash split only; drop it or --split-dir")
    report = prepare_cremad(
        args.raw,
        args.out,
        split_dir=args.split_dir,
        speaker_independent=args.speaker_independent,
        test_fraction=args.test_fraction,
        **common_kwargs(args),
    )
    print(summarise(report))
    return report


if __name__ == "__main__":
    sys.exit(run_cli(main))
