"""The "rerun this chapter" box every chapter shows, generated from the book's recipe and the committed runs.

Per chapter: the papermill command that reruns it on the default data (it reads the committed runs in
`results/` and trains nothing that is there), the command for a real dataset on a GPU with a fresh results
folder (so every run is trained, not read back: the device is not part of a run's key, `config.py`), and the
expected time to train the chapter's runs from nothing on 2 CPU cores:

    expected time = (sum over the chapter's runs of their committed `wall_time_s`) / 2,

two runs at a time, one thread each, as `make retrain` trains them; the committed wall times were measured that
way on a 2-core machine (README). `chapter_runs` (`recipe/runs.py`) lists a chapter's runs at its default
parameters from the chapter registry (`recipe/chapters.py`), the same rows and seeds the notebook trains, each once.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass
from pathlib import Path

from ..recipe.chapters import CHAPTER
from ..recipe.runs import chapter_runs

CORES = 2


@dataclass(frozen=True)
class Estimate:
    runs: int  # the chapter's runs
    committed: int  # of them, committed (a wall time known)
    run_time_s: float  # their summed wall time
    cores: int = CORES

    @property
    def expected_s(self) -> float:
        """Training every committed run again, `cores` at a time."""
        return self.run_time_s / self.cores


def estimate(chapter: str, results_dir: str | Path | None = None) -> Estimate:
    """The chapter's runs and their committed wall times (`results/<key>.json`'s `wall_time_s`)."""
    from ..method.results import result_path

    configs = chapter_runs(chapter)
    total, found = 0.0, 0
    for c in configs:
        path = result_path(c, results_dir)
        if not path.exists():
            continue
        wall = json.loads(path.read_text()).get("wall_time_s")
        if isinstance(wall, (int, float)) and math.isfinite(wall):
            total += float(wall)
            found += 1
    return Estimate(len(configs), found, total)


def duration_text(seconds: float) -> str:
    """'40 s', '12 min', '3.5 h'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def commands(chapter: str) -> dict[str, str]:
    """'default': rerun on the default data (reads the committed runs); 'retrain': the same, training every run
    again into a fresh folder; 'gpu': a real dataset on a GPU, fresh folder."""
    nb = f"{chapter}.ipynb"
    base = f"cd notebooks && papermill {nb} out.ipynb"
    cmds = {"default": base, "retrain": f"{base} -p results_dir ../results-fresh"}
    ds = CHAPTER[chapter].real_dataset  # the paper's dataset for that table; None: the default data only
    if ds is None:
        cmds["gpu"] = f"{base} -p profile gpu -p device cuda -p results_dir ../results-gpu"
    else:
        cmds["gpu"] = f"{base} -p dataset {ds} -p profile paper -p device cuda -p results_dir ../results-{ds}-gpu"
    return cmds


def box_html(chapter: str, est: Estimate | None = None, how_to: str = "../how_to_rerun.html") -> str:
    """The box: three commands and the expected time, as an HTML fragment (class `ogm-rerun`)."""
    est = estimate(chapter) if est is None else est
    cmds = commands(chapter)
    if est.committed:
        time = (
            f"Training its {est.runs} runs from nothing takes about {duration_text(est.expected_s)} on "
            f"{est.cores} CPU cores ({duration_text(est.run_time_s)} of committed run time, {est.cores} runs at a "
            f"time{'' if est.committed == est.runs else f'; {est.runs - est.committed} runs are not committed'})."
        )
    else:
        time = f"None of its {est.runs} runs is committed: every one is trained."
    real = CHAPTER[chapter].real_dataset
    ds = "the default data" if real is None else real + " (prepared first, see the appendix)"
    code = lambda s: (
        f'<pre style="white-space: pre-wrap; overflow-wrap: anywhere"><code>'  # noqa: E731
        f"{html.escape(s)}</code></pre>"
    )
    return (
        f'<div class="admonition ogm-rerun" data-chapter="{html.escape(chapter)}">'
        f'<p class="admonition-title">Rerun this chapter</p>'
        f"<p>On the default data (reads the committed runs in <code>results/</code>, trains nothing "
        f"that is there):</p>{code(cmds['default'])}"
        f"<p>To train instead of reading the committed runs, give a fresh results folder:</p>"
        f"{code(cmds['retrain'])}<p>{html.escape(time)}</p>"
        f"<p>On {html.escape(ds)}, on a GPU, into a fresh folder:</p>{code(cmds['gpu'])}"
        f'<p>Every profile and option: <a href="{how_to}">How to rerun</a>.</p></div>'
    )


class RerunBox:
    def __init__(self, chapter: str, est: Estimate | None = None) -> None:
        self.chapter, self.est = chapter, est

    def _repr_html_(self) -> str:
        return box_html(self.chapter, self.est)

    def __repr__(self) -> str:
        c = commands(self.chapter)
        return f"Rerun this chapter:\n  {c['default']}\n  {c['retrain']}\n  {c['gpu']}"


def box(chapter: str) -> RerunBox:
    """What the chapter's rerun cell displays."""
    return RerunBox(chapter, estimate(chapter))


#: each profile in words (its numbers are read from `config.PROFILES`, `profile_html`)
PROFILE_PROSE = {
    "converged": "the book's default: the paper's steps per epoch on the default data (batch 24, 102 steps), "
    "long enough that validation accuracy stops rising (chapter 11); narrow encoders, CPU-sized",
    "cpu": "a shorter CPU schedule (bigger batches, fewer epochs) for a quick look; not what the book reports",
    "smoke": "seconds per run, for the tests only: the numbers mean nothing",
    "paper": "the paper's model and schedule (ResNet-18 width 64, 224-pixel frames, 100 epochs, batch 64): "
    "for a real dataset on a GPU",
    "gpu": "the paper's model width and schedule on the default data's small images: the default data on a GPU",
}


def profile_rows() -> list[tuple[str, str, str]]:
    """(profile, its numbers, its prose) for every profile of `config.PROFILES`."""
    from ..method.config import PROFILES

    out = []
    for name, p in PROFILES.items():
        nums = (
            f"width {p['width']}, {p['epochs']} epochs, batch {p['batch_size']}, lr {p['lr']:g} "
            f"(÷10 at epoch {p['lr_step']}), modulation epochs {p['modulation_start']}–{p['modulation_end']}, "
            f"{p['image_size']}-pixel frames"
        )
        out.append((name, nums, PROFILE_PROSE[name]))
    return out


def profile_html() -> str:
    rows = "".join(
        f"<li><code>{html.escape(n)}</code>: {html.escape(prose)} ({html.escape(nums)}).</li>"
        for n, nums, prose in profile_rows()
    )
    return (
        '<details class="ogm-params"><summary>The parameters cell below: what each parameter and profile '
        "means</summary><p>Each chapter's first code cell holds its parameters; papermill overrides any of "
        "them (<code>-p name value</code>). <code>dataset</code>: <code>avdigits</code> (the default data, "
        "no download), <code>synthetic</code> (tests) or a prepared real dataset; <code>device</code>: "
        "<code>cpu</code> or <code>cuda</code>; <code>seeds</code>: runs per row; <code>results_dir</code>: "
        "where runs are read from and written to (a fresh folder retrains). The profiles:</p>"
        f"<ul>{rows}</ul></details>"
    )


class ChapterHead:
    """The box and the parameters' prose, what the generated first cell of a chapter shows."""

    def __init__(self, chapter: str) -> None:
        self.chapter = chapter

    def _repr_html_(self) -> str:
        return box_html(self.chapter, estimate(self.chapter)) + profile_html()

    def __repr__(self) -> str:
        return repr(RerunBox(self.chapter))


def chapter_head(chapter: str) -> ChapterHead:
    return ChapterHead(chapter)


__all__ = [
    "chapter_runs",
    "estimate",
    "Estimate",
    "commands",
    "box_html",
    "box",
    "duration_text",
    "CORES",
    "profile_rows",
    "profile_html",
    "chapter_head",
    "PROFILE_PROSE",
]
