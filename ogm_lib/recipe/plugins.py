"""The runs of the paper's Tables 3, 4 and 5: OGM-GE as a plug-in for other video models, other audio encoders
and audio-visual event localisation.

Each table's rows are pairs, a model without and with OGM-GE ("+"), on the default data in one of the book's
regimes (`regimes.py`; default the **paper-like** one, whose unimodal accuracies are calibrated to the paper's
CREMA-D numbers) on the regimes' `converged` schedule, with the regime's alpha (chosen on validation by its
sweep, `regimes.ALPHA`), so nothing here is tuned toward OGM-GE's result on these models:

- **Table 3** (`table3_rows`): TSN-AV, TSM-AV, TBN and PSP (`models/video.py`, `RunConfig.video_model`) on
  clips of `CLIP_FRAMES` frames (the default data's `n_frames`: each clip shows its digit in that many
  frames, each with its own jitter and pixel noise; the models cut them into `video.SEGMENTS` segments).
- **Table 4** (`table4_rows`): the x-vector encoder and the i-vector and MWTSM stand-ins in place of the audio
  ResNet-18 (`models/speech.py`, `RunConfig.audio_model`), on the regime's one-frame clips (CREMA-D: one frame
  per clip in the official code).
- **Table 5** (`table5_rows`): AVGA and PSP localising events (`models/localisation.py`) on event sequences
  made from the default data's clips (`RunConfig.task = "events"`, `data/events.py`), scored by AVE's
  segment-level accuracy.
- Tables 3 and 4 also have a **reference pair**, the book's ResNet-18 concatenation model without and with OGM-GE on
  the same clips (`REFERENCE`): it says whether a plug-in model changes the picture the book's own model gives.
  Table 4's reference pair is the regime's headline pair of chapter 12 (same configs, so the same committed
  runs), run over `headline_seeds` as there; Table 3's, on six-frame clips, is a pair of its own, run over
  `seeds` like the plug-in rows (the book's rule, `book.row_seeds`).

`SEEDS` seeds per row, paired by seed in the verdicts (`report/plugins.py`). `runs()` lists every run of the
three tables (every seed); `runs.book_runs` lists them with the book's own runs (their results are committed),
and the closing chapter judges them (`report.chapters.book_claims`, chapters 13-15 of the registry,
`chapters.py`) as notebooks 13-15 do.
"""

from __future__ import annotations

from ..method.config import DATASET_DEFAULTS, RunConfig
from .book import PROFILE as BOOK_PROFILE
from .book import SEEDS, row_seeds
from .grid import train_grid
from .regimes import ALPHA, regime_config

#: the regime the tables run in by default (the one calibrated to the paper's CREMA-D unimodal accuracies; the
#: book's rows moved to the testbed, issue 23, the plug-in tables' runs are not yet trained there), and the seeds
#: of their reference pair (the paper-like regime's headline pair has 10)
REGIME = "paper-like"
HEADLINE_SEEDS = 10
#: Table 3's clips: frames per clip (3 segments of 2 frames: TSN's sampling draws one of each segment's two)
CLIP_FRAMES = 6
#: the paper's row label -> our `RunConfig.video_model` (Table 3) / `audio_model` (Table 4)
VIDEO_ROWS = {"TSN-AV": "tsn", "TSM-AV": "tsm", "TBN": "tbn", "PSP": "psp"}
AUDIO_ROWS = {"I-vector": "ivector", "X-vector": "xvector", "MWTSM": "mwtsm"}
#: the reference pair's label (the book's model on the same clips); "+" marks OGM-GE, as in the paper
REFERENCE = "ResNet-18 (book's model)"
PLUS = "+"


def _alpha(regime: str, alpha: float | None) -> float:
    return ALPHA[regime] if alpha is None else alpha


def _pairs(row, models: dict[str, dict], alpha: float) -> dict[str, RunConfig]:
    rows: dict[str, RunConfig] = {}
    for label, changes in models.items():
        rows[label] = row(**changes)
        rows[label + PLUS] = row(method="ogm_ge", alpha=alpha, **changes)
    return rows


def table3_rows(
    dataset: str = "avdigits",
    profile: str = BOOK_PROFILE,
    device: str = "cpu",
    alpha: float | None = None,
    regime: str = REGIME,
) -> dict[str, RunConfig]:
    """Table 3: each video model without and with OGM-GE, and the reference pair, on `CLIP_FRAMES`-frame clips
    of the default data (a prepared dataset: its own frames per clip, `config.DATASET_DEFAULTS`, 3 for
    Kinetics-Sounds and VGGSound as in the official code)."""
    frames = (
        CLIP_FRAMES if dataset in ("avdigits", "synthetic") else DATASET_DEFAULTS.get(dataset, {}).get("n_frames", 3)
    )

    def row(**c):
        return regime_config(regime, dataset, profile, device, fusion="concat", n_frames=frames, **c)

    models = {label: dict(video_model=v) for label, v in VIDEO_ROWS.items()}
    models[REFERENCE] = {}
    return _pairs(row, models, _alpha(regime, alpha))


def table4_rows(
    dataset: str = "avdigits",
    profile: str = BOOK_PROFILE,
    device: str = "cpu",
    alpha: float | None = None,
    regime: str = REGIME,
) -> dict[str, RunConfig]:
    """Table 4: each audio encoder without and with OGM-GE, and the reference pair (the regime's own pair)."""

    def row(**c):
        return regime_config(regime, dataset, profile, device, fusion="concat", **c)

    models = {label: dict(audio_model=a) for label, a in AUDIO_ROWS.items()}
    models[REFERENCE] = {}
    return _pairs(row, models, _alpha(regime, alpha))


def is_reference(label: str) -> bool:
    return label in (REFERENCE, REFERENCE + PLUS)


def per_seed(rows: dict[str, RunConfig], seeds=SEEDS, headline_seeds=HEADLINE_SEEDS) -> dict[str, list[RunConfig]]:
    """label -> the row's config at each of its seeds, by the book's rule (`book.row_seeds`): `headline_seeds`
    for the book's headline pair (Table 4's reference pair), `seeds` for every other row (Table 3's reference
    pair included: on six-frame clips it is a pair of its own). Both rows of a pair get the same seeds (the
    union of theirs), so that the verdict pairs every run."""

    def pair_seeds(label: str) -> list[int]:
        base = label.removesuffix(PLUS)
        pair = [rows[x] for x in (base, base + PLUS) if x in rows]
        return sorted(set().union(*(row_seeds(c, seeds, headline_seeds) for c in pair)))

    return {label: [c.replace(seed=s) for s in pair_seeds(label)] for label, c in rows.items()}


def train(
    rows: dict[str, RunConfig], seeds=SEEDS, headline_seeds=HEADLINE_SEEDS, workers: int | None = None, results_dir=None
) -> dict[str, list]:
    """Train every row over its seeds in one parallel batch (cached runs are read back); label -> runs."""
    return train_grid(per_seed(rows, seeds, headline_seeds), results_dir=results_dir, workers=workers)


#: Table 5's localisation models: the paper's row label -> our `RunConfig.video_model` (with `task = "events"`)
EVENT_ROWS = {"AVGA": "avga", "PSP": "psp"}


def table5_rows(
    dataset: str = "avdigits",
    profile: str = BOOK_PROFILE,
    device: str = "cpu",
    alpha: float | None = None,
    regime: str = REGIME,
) -> dict[str, RunConfig]:
    """Table 5: AVGA and PSP localising events (`task = "events"`, `data/events.py`), without and with OGM-GE;
    no linear probes (they classify clips; `probe_every = 0`). No reference pair: the book's model does not
    localise."""

    def row(**c):
        return regime_config(regime, dataset, profile, device, task="events", n_frames=1, probe_every=0, **c)

    return _pairs(row, {label: dict(video_model=v) for label, v in EVENT_ROWS.items()}, _alpha(regime, alpha))


#: the three tables' row functions (chapters 13, 14 and 15)
TABLES = (table3_rows, table4_rows, table5_rows)


def runs(
    dataset: str = "avdigits",
    profile: str = BOOK_PROFILE,
    device: str = "cpu",
    seeds=SEEDS,
    headline_seeds=HEADLINE_SEEDS,
) -> list[RunConfig]:
    """Every run of Tables 3, 4 and 5 at the notebooks' default parameters, each once (runs shared with the book,
    such as Table 4's reference pair, are listed too: `run_grid` reads those back); a prepared dataset's runs
    come fingerprinted (`data.fingerprint.fingerprinted`: their keys name the store)."""
    from ..method.data.fingerprint import fingerprinted

    out: dict[str, RunConfig] = {}
    for rows_of in TABLES:
        for cs in per_seed(rows_of(dataset, profile, device), seeds, headline_seeds).values():
            for c in map(fingerprinted, cs):
                out.setdefault(c.key(), c)
    return list(out.values())
