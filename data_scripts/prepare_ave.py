#!/usr/bin/env python
"""Prepare AVE (Audio-Visual Event) for ogm_lib: AVE_Dataset -> prepared store.

Raw layout (github.com/YapengTian/AVE-ECCV18, the AVE_Dataset download):
  <raw>/AVE/<VideoID>.mp4                         4,143 videos of 10 s (found anywhere under --raw)
  <raw>/trainSet.txt, valSet.txt, testSet.txt     `Category&VideoID&Quality&StartTime&EndTime`,
                                                  one header line (the format of Annotations.txt)
Each whole video is one sample labelled with its category (28 classes); the official validation list
is kept as the validation split. Audio: 16 kHz, scipy spectrogram nperseg 512 noverlap 353, log,
per-clip z-score -> 257 x 1004. 1 frame/s, up to 10 kept.

Example:
  python data_scripts/prepare_ave.py --raw ~/AVE_Dataset --out data/ave
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runs from a checkout without installing

from data_scripts.cli import base_parser, common_kwargs, run_cli, summarise  # noqa: E402
from ogm_lib.method.data.prepare import prepare_ave  # noqa: E402


def main(argv=None):
    p = base_parser("ave", __doc__)
    args = p.parse_args(argv)
    report = prepare_ave(args.raw, args.out, **common_kwargs(args))
    print(summarise(report))
    return report


if __name__ == "__main__":
    sys.exit(run_cli(main))
