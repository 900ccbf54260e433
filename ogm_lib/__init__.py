"""ogm_lib: OGM-GE (Peng et al., CVPR 2022) as a small, tested library.

- `config`      RunConfig and the named profiles (paper / cpu / smoke)
- `data`        datasets: avdigits (default), synthetic, and the paper's datasets from a prepared store
- `models`      ResNet-18 encoders, the four fusions, the audio-visual classifier
- `modulation`  the paper in one file: scores, discrepancy ratio, coefficient, OGM scaling, GE noise
- `strategies`  comparison methods: modality dropout, gradient blending, OPM
- `train`       one training loop for every method; `fit(config) -> RunResult`, cached by config hash
- `probe`       linear probes of frozen encoders (Figure 1)
- `metrics`     accuracy and macro mAP
- `results`     one JSON file per run (config, metrics, trace, provenance): the runs are data
- `book`        the book's run recipe: every chapter's rows and seeds, the grid runner
- `executors`   where the grid trains (local CPU pool, one worker per GPU, SLURM via submitit); shards;
                `run_claims` (a claim per run on a shared results folder), `progress` (one line per run)
- `alphas`      every dataset's alpha and its source, and the validation sweep rule for the others
- `rerun`       committed runs checked by retraining them
- `checks`      notebook parameters (papermill may pass them as text) checked before any run
- `report`      the book's analysis of runs: statistics and verdicts, reductions, tables, plots, the paper's
                numbers and the ledger of published re-runs (nothing in the training wing imports it)
"""

from .method.config import PROFILES, RunConfig, make_config

__version__ = "0.1.0"
__all__ = ["RunConfig", "make_config", "PROFILES", "fit"]


def __getattr__(name):  # keep `import ogm_lib` light: torch loads on first use of the trainer
    if name == "fit":
        from .method import train

        return getattr(train, name)
    raise AttributeError(name)
