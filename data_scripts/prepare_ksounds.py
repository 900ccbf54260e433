#!/usr/bin/env python
"""Prepare Kinetics-Sounds for ogm_lib: raw clips + lists -> prepared store.

Kinetics-Sounds (Arandjelovic & Zisserman, 2017) is a subset of Kinetics-400: the classes that can be
heard as well as seen (31 in OGM-GE's lists: 14,799 train / 2,597 test clips of 10 s).
Raw layout:
  <raw>/**/<clip>.mp4          clips anywhere under --raw (.mp4 .mkv .webm .avi .flv .mov)
  <raw>/train.csv, test.csv    one clip a line: `clip,label` (optional header `clip,label`), where clip is
                               a path relative to --raw with its extension, or a clip id found as
                               <id>.<ext> anywhere under --raw (e.g. <youtube_id>_<start:06d>_<end:06d>)
Audio: Kaldi-style log mel fbank, 128 bins, 10 ms shift, 1024 frames (16 kHz); 1 frame/s, up to 10 kept.

Example:
  python data_scripts/prepare_ksounds.py --raw ~/kinetics_sounds --out data/ksounds --workers 8
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runs from a checkout without installing

from data_scripts.cli import base_parser, common_kwargs, run_cli, summarise  # noqa: E402
from ogm_lib.method.data.prepare import prepare_ksounds  # noqa: E402


def main(argv=None):
    p = base_parser("ksounds", __doc__)
    p.add_argument("--train-list", help="train list (default <raw>/train.csv)")
    p.add_argument("--test-list", help="test list (default <raw>/test.csv)")
    args = p.parse_args(argv)
    report = prepare_ksounds(
        args.raw, args.out, train_list=args.train_list, test_list=args.test_list, **common_kwargs(args)
    )
    print(summarise(report))
    return report


if __name__ == "__main__":
    sys.exit(run_cli(main))
