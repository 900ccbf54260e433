"""Where a comparison is judged when several chapters make it: the chapter on the same data that judges it.

Each comparison has one verdict (`tests/test_verdict_book.py`); a chapter that makes a comparison judged elsewhere
names that claim (`Claim.judged_in`). That holds only between chapters on the same data: a chapter still on an
earlier regime than the book's (`recipe.chapters.ON_EARLIER_REGIME`) judges its own, except its headline pair,
which chapter 12 judges for every regime.
"""

from __future__ import annotations

from ..method.results import RunResult
from ..recipe.book import REGIME
from ..recipe.chapters import CHAPTER
from .explain import TAGS
from .tables import regime_name


def judged_where(runs: dict[str, list[RunResult]], chapter: str, key: str) -> tuple[str, str] | None:
    """Where a comparison these runs make is judged, when another chapter judges it: (chapter, claim key), if that
    chapter runs on the same data (its regime: `chapters.regime_parameters`); chapter 12 judges each regime's
    rows under the regime's tag (`explain.TAGS`), so the headline pair of a chapter still on another regime than
    the book's is judged there; None: judged where it stands."""
    here = regime_name(runs)  # None: data without a regime (the real datasets)
    if chapter == "12_when_ogm_ge_helps":
        regime = here or REGIME
        return (chapter, f"{TAGS[regime]}_{key}") if regime in TAGS else None
    if here is None or CHAPTER[chapter].parameters.get("regime") == here:
        return (chapter, key)
    if (chapter, key) == ("05_table1", "concat_ge") and here in TAGS:
        return ("12_when_ogm_ge_helps", f"{TAGS[here]}_gain")
    return None


__all__ = ["judged_where"]
