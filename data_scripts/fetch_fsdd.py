#!/usr/bin/env python
"""Fetch the Free Spoken Digit Dataset (the audio of the default `avdigits` data) and verify it.

Makes `<dest>/recordings/*.wav` complete, every file checked against the SHA-256 list pinned in
`ogm_lib/method/data/fsdd_sha256.txt` (tag v1.0.10, 3,000 files). Sources, in order: the copy already at
`dest`; a local mirror (`--mirror`, else $OGM_FSDD_MIRROR, else `../shared/data/fsdd` next to the repository
or the working directory); the public GitHub archive of tag v1.0.10.

    python data_scripts/fetch_fsdd.py                    # into <repository>/data/avdigits (or $OGM_DATA_DIR/avdigits)
    python data_scripts/fetch_fsdd.py --dest /data/fsdd --mirror /mnt/share/fsdd
    python data_scripts/fetch_fsdd.py --no-download      # only a local mirror, never the network
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from ogm_lib.method.data.fsdd import FSDD_URL, FSDDChecksumError, default_data_dir, fetch_fsdd  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--dest", type=Path, default=None, help=f"target directory (default: {default_data_dir('avdigits')})"
    )
    ap.add_argument(
        "--mirror", type=Path, default=None, help="local FSDD copy to copy from (a directory with recordings/*.wav)"
    )
    ap.add_argument("--url", default=FSDD_URL, help="archive to download when no mirror has the files")
    ap.add_argument("--no-download", action="store_true", help="never use the network")
    args = ap.parse_args(argv)
    try:
        report = fetch_fsdd(args.dest, args.mirror, url=args.url, allow_download=not args.no_download, quiet=False)
    except (FSDDChecksumError, FileNotFoundError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
