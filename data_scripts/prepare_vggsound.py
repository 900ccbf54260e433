#!/usr/bin/env python
"""Prepare VGGSound for ogm_lib: raw clips + vggsound.csv -> prepared store.

Raw layout (www.robots.ox.ac.uk/~vgg/data/vggsound/):
  <raw>/vggsound.csv                 official list, `youtube_id,start_seconds,label,split` (no header)
  <raw>/**/<youtube_id>_<start:06d>.mp4   the 10 s clips, anywhere under --raw (e.g. <raw>/video/)
Clips listed but not downloaded are reported in manifest.json as failed ("missing ...").
Audio: 16 kHz, log |STFT| n_fft 256 hop 128 of the whole 10 s (129 x 1251 stored); the loader gives the
model a 5 s window (129 x 626), random in training. 1 frame/s, up to 10 kept.

Example:
  python data_scripts/prepare_vggsound.py --raw ~/vggsound --out data/vggsound --workers 15 --frame-size 224
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runs from a checkout without installing

from data_scripts.cli import base_parser, common_kwargs, run_cli, summarise  # noqa: E402
from ogm_lib.method.data.prepare import prepare_vggsound  # noqa: E402


def main(argv=None):
    p = base_parser("vggsound", __doc__)
    p.add_argument("--csv", dest="csv_path", help="the list (default <raw>/vggsound.csv)")
    args = p.parse_args(argv)
    report = prepare_vggsound(args.raw, args.out, csv_path=args.csv_path, **common_kwargs(args))
    print(summarise(report))
    return report


if __name__ == "__main__":
    sys.exit(run_cli(main))
