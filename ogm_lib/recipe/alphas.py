"""The OGM strength alpha of every dataset, each with where it comes from, and the rule for the others.

alpha sets how hard OGM slows the dominant encoder, k = 1 - tanh(alpha * rho) (paper Eq. 10); the paper
does not report the alpha of each dataset. The official README recommends two ("Here we recommend
alpha=0.1 for VGGSound and alpha=0.8 for CREMA-D", GeWu-Lab/OGM-GE_CVPR2022, README "Tips"), and its
`main.py` has no default (`--alpha` is required). For Kinetics-Sounds and AVE no value has been published
(users asked: official repository issue #45), so this project gives none: it gives the rule instead,
the one that chose the default data's alpha (chapter 11, `regimes.py`):

    joint concatenation + OGM-GE runs at every alpha of `regimes.ALPHA_GRID` (0.1 ... 1.0), `seeds` seeds
    each, on the dataset's own VALIDATION split; the alpha with the highest mean validation fused accuracy
    (each run at its best validation epoch; ties: the smaller alpha, `regimes.choose_alpha`). The test split
    plays no part.

`sweep(dataset, ...)` runs it. Until a dataset has been swept, a run on it with no alpha of its own takes
`RunConfig`'s default, 0.8 (CREMA-D's). `config.DATASET_DEFAULTS` applies the two official values at the
`paper` profile; `tests/test_split_lists.py` checks that it agrees with this table.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

from . import regimes

OFFICIAL_README = (
    'official README, "Tips": "Here we recommend alpha=0.1 for VGGSound and alpha=0.8 for '
    'CREMA-D" (GeWu-Lab/OGM-GE_CVPR2022)'
)
RULE = (
    "none published (official issue #45): choose it on the dataset's validation split by the sweep rule "
    "(alphas.sweep; regimes.ALPHA_GRID, highest mean validation accuracy of concatenation + OGM-GE)"
)


class Alpha(NamedTuple):
    value: float | None  # None: not chosen yet; `sweep` chooses it
    source: str


ALPHAS: dict[str, Alpha] = {
    "cremad": Alpha(0.8, OFFICIAL_README),
    "vggsound": Alpha(0.1, OFFICIAL_README),
    "ksounds": Alpha(None, RULE),
    "ave": Alpha(None, RULE),
    "avdigits": Alpha(
        regimes.ALPHA["paper-like"],
        "the sweep rule on validation, committed runs (chapter 11, regimes.ALPHA: paper-like regime)",
    ),
    "synthetic": Alpha(None, "test data: none chosen (RunConfig's default 0.8)"),
}


def sweep_rows(
    dataset: str, profile: str = "paper", device: str = "cpu", alphas: Sequence[float] = regimes.ALPHA_GRID, **changes
) -> dict:
    """The sweep of one dataset: concatenation + OGM-GE at each alpha, `"alpha=0.4"` -> config."""
    from ..method.config import make_config

    return {
        f"alpha={a:g}": make_config(
            profile, dataset=dataset, device=device, fusion="concat", method="ogm_ge", alpha=a, quiet=True, **changes
        )
        for a in alphas
    }


def sweep(
    dataset: str,
    profile: str = "paper",
    device: str = "cpu",
    seeds: Sequence[int] = regimes.ALPHA_SEEDS,
    results_dir=None,
    executor=None,
    workers=None,
    **changes,
):
    """The rule for `dataset`: train the sweep (`grid.train_grid`, any executor) and choose alpha on validation.
    Returns (runs by label, the chosen alpha, alpha -> mean validation accuracy in %)."""
    from .grid import train_grid

    rows = sweep_rows(dataset, profile, device, **changes)
    runs = train_grid(
        {label: [c.replace(seed=s) for s in seeds] for label, c in rows.items()},
        results_dir,
        workers,
        executor=executor,
    )
    alpha, table = regimes.choose_alpha(regimes.alpha_values(runs))
    return runs, alpha, table
