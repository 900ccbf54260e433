"""What the `prepare_<dataset>.py` scripts share: the common options, the one-line errors, the summary.

Import as `from data_scripts.cli import ...` (each script puts the repository root on `sys.path`).
"""

from __future__ import annotations

import argparse
import os
from typing import Callable

from ogm_lib.method.data.features import SPECS
from ogm_lib.method.data.prepare import PrepareReport, default_out_dir


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    pass


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def open_fraction(text: str) -> float:
    """argparse type: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected 0 < x < 1, got {value}")
    return value


def base_parser(dataset: str, description: str) -> argparse.ArgumentParser:
    """Options every prepare script shares."""
    p = argparse.ArgumentParser(description=description, formatter_class=_HelpFormatter)
    p.add_argument("--raw", required=True, help="the raw download (see the layout above)")
    p.add_argument("--out", default=str(default_out_dir(dataset)), help="prepared store to write")
    p.add_argument("--workers", type=positive_int, default=max(1, (os.cpu_count() or 2) - 1), help="decoding processes")
    p.add_argument("--frame-size", type=positive_int, default=256, help="stored frame side (square); >= image_size")
    p.add_argument(
        "--max-frames", type=positive_int, default=SPECS[dataset].max_frames, help="1-fps frames kept per clip"
    )
    p.add_argument("--retry-failed", action="store_true", help="try clips that failed before again")
    p.add_argument(
        "--remove-clips",
        action="store_true",
        help="delete the per-clip files after packing (reruns then rely on the packed store)",
    )
    p.add_argument(
        "--verify",
        action="store_true",
        help="hash the large arrays of an existing store again even if this process has (every "
        "SHA-256 is checked by default)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--debug", action="store_true", help="on an error, show the full traceback instead of one line")
    return p


def run_cli(main: Callable[[list[str] | None], object], argv: list[str] | None = None) -> int:
    """Run a data script's `main(argv)` as a command: an error is one line on stderr (`error: ...`, exit
    status 1), or its full traceback with `--debug`. Argument errors stay argparse's (exit status 2)."""
    import sys

    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        main(argv)
    except KeyboardInterrupt:
        if "--debug" in argv:
            raise
        print("interrupted; the same command resumes where it stopped", file=sys.stderr)
        return 130
    except Exception as err:
        if "--debug" in argv:
            raise
        text = " ".join(str(err).split()) or type(err).__name__
        if isinstance(err, ImportError) and err.name == "av":
            text = "PyAV is not installed: the data scripts decode media with it (pip install -e '.[data]')"
        elif not isinstance(err, (OSError, ValueError, RuntimeError)):
            text = f"{type(err).__name__}: {text} (run again with --debug for the traceback)"
        print(f"error: {text}", file=sys.stderr)
        return 1
    return 0


def common_kwargs(args: argparse.Namespace) -> dict:
    return dict(
        workers=args.workers,
        frame_size=args.frame_size,
        max_frames=args.max_frames,
        retry_failed=args.retry_failed,
        remove_clips=args.remove_clips,
        quiet=args.quiet,
        verify=args.verify,
    )


def summarise(report: PrepareReport) -> str:
    """One human line per run, plus the failures."""
    if report.extracted == 0 and report.failed_now == 0 and not report.packed:
        head = f"{report.out_dir}: already prepared ({report.prepared} clips), nothing to do"
    else:
        head = (
            f"{report.out_dir}: {report.prepared} clips in the store; this run decoded {report.extracted}, "
            f"failed {report.failed_now}, skipped {report.skipped} in {report.seconds:.1f} s"
        )
    lines = [head]
    if report.repaired:
        lines.append(f"repaired a damaged store ({len(report.repaired)} problem(s) found):")
        lines += [f"  {r}" for r in report.repaired]
    if report.failed:
        lines.append(f"{len(report.failed)} clip(s) left out (listed in manifest.json):")
        lines += [f"  {f['name']}: {f['reason']}" for f in report.failed[:20]]
        if len(report.failed) > 20:
            lines.append(f"  ... and {len(report.failed) - 20} more")
    return "\n".join(lines)
