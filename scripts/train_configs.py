"""Train a list of runs into a results folder, two at a time, each written as its own file when it ends.

    python scripts/train_configs.py EXPR [--results-dir results] [--workers 2]

EXPR is a Python expression over `ogm_lib` giving a list of RunConfig (for example
`[c.replace(seed=s) for c in regimes.calibration_rows().values() for s in regimes.CALIBRATION_SEEDS]`).
Used for the regime runs while they are being calibrated; `python -m ogm_lib book retrain` trains the book's
whole list.
"""
import argparse
import time

from ogm_lib import book, regimes  # noqa: F401  (names for EXPR)
from ogm_lib.config import make_config  # noqa: F401

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("expr")
    ap.add_argument("--results-dir", default="results")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    configs = eval(args.expr)
    t0 = time.time()
    runs = book.run_grid(configs, results_dir=args.results_dir, workers=args.workers, progress=True)
    print(f"{len(runs)} runs in {time.time() - t0:.0f} s; runs' own wall times: "
          + ", ".join(f"{r.wall_time_s:.0f}" for r in runs))
