"""The edits issue 25 makes to the chapters' SOURCES, as one idempotent script (outputs are left alone).

    python -m ogm_lib.report.notebook_edits            # every notebooks/NN_*.ipynb
    python -m ogm_lib.report.notebook_edits --check    # exit 1 if a notebook would change

Run it on any version of the notebooks, then execute them (scripts/build_book.sh). Per notebook:
1. a generated first code cell (tag `ogm-book-head`, input removed) just before the parameters cell: it installs
   the book's table and figure styles (`table_style.install`, `figure_style.install`) and shows the chapter's
   "rerun this chapter" box and the parameters' prose (`rerun_box.chapter_head`); refreshed if present;
2. every other code cell but the parameters cell is tagged `hide-input` (readers can expand it), unless it is
   already `remove-cell`, `remove-input` or `hide-input`; the parameters cell stays visible;
3. chapter-specific sources: chapter 01's Figure 1 (`plots.figure1`: three panels, no empty fourth one),
   chapter 03's set-up and figures (`sgd_noise`), chapter 10's findings box (`findings.glue_findings`, glued
   after the cell that gathers `all_val`, and shown under the title).
A cell is recognised by its tag or by a line of its source, so a step that has been done is not done twice.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAD_TAG = "ogm-book-head"
FINDINGS_TAG = "ogm-findings"
FINDINGS_MD_TAG = "ogm-findings-box"
KEEP = {"parameters", "injected-parameters", "remove-cell", "remove-input", "hide-input"}


def _lines(text: str) -> list[str]:
    lines = text.strip("\n").split("\n")
    return [line + "\n" for line in lines[:-1]] + [lines[-1]]


def _src(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _tags(cell) -> list[str]:
    return cell.setdefault("metadata", {}).setdefault("tags", [])


def _code(source: str, tags: list[str]) -> dict:
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": uuid.uuid4().hex[:8],
        "metadata": {"tags": list(tags)},
        "outputs": [],
        "source": _lines(source),
    }


def _markdown(source: str, tags: list[str]) -> dict:
    return {
        "cell_type": "markdown",
        "id": uuid.uuid4().hex[:8],
        "metadata": {"tags": list(tags)},
        "source": _lines(source),
    }


def head_source(chapter: str) -> str:
    return (
        f"from ogm_lib.report import figure_style, rerun_box, table_style\n\n"
        f"table_style.install()\nfigure_style.install()\nrerun_box.chapter_head({chapter!r})"
    )


def _set_source(cell, source: str) -> bool:
    new = _lines(source)
    if cell["source"] == new or _src(cell) == "".join(new):
        return False
    cell["source"] = new
    if cell["cell_type"] == "code":
        cell["outputs"], cell["execution_count"] = [], None
    return True


def ensure_head(nb, chapter: str) -> bool:
    cells = nb["cells"]
    heads = [c for c in cells if HEAD_TAG in _tags(c)]
    if heads:
        return _set_source(heads[0], head_source(chapter))
    p = next(i for i, c in enumerate(cells) if "parameters" in _tags(c))
    cells.insert(p, _code(head_source(chapter), [HEAD_TAG, "remove-input"]))
    return True


def hide_inputs(nb) -> bool:
    changed = False
    for c in nb["cells"]:
        if c["cell_type"] != "code":
            continue
        tags = _tags(c)
        if not (set(tags) & KEEP) and HEAD_TAG not in tags:
            tags.append("hide-input")
            changed = True
    return changed


def _replace(nb, marker: str, source: str) -> bool:
    """Replace the code cell whose source holds `marker` (or, if already replaced, the one equal to `source`)."""
    for c in nb["cells"]:
        if c["cell_type"] == "code" and (marker in _src(c) or _src(c).strip() == source.strip()):
            return _set_source(c, source)
    return False


FIGURE1 = """plots.figure1(runs, FIGURE1, f"Encoder quality, {tables.setting_text(dataset, profile, runs)}")
plt.show()"""

SGD_SETUP = """import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from myst_nb import glue

from ogm_lib.method.noise import (compare_to_theory, minibatch_noise_trace, noise_trace_formula,
                                  official_ge_noise_trace, sgd_ge_noise_trace, update_noise_traces)
from ogm_lib.recipe import noise_model
from ogm_lib.report import sgd_noise, text
from ogm_lib.method.temperature import FORM_LABELS, temperature_factor, temperature_table

trained = noise_model.train(dataset, profile, device, regime, seed, alpha, workers, results_dir, headline_seeds)
s = sgd_noise.setup(trained, alpha, pool, batch_sizes, lr_factors, update_batch_sizes, update_draws, ks)
config, data, model, per_sample, flat, k = s.config, s.data, s.model, s.per_sample, s.flat, s.k
batch_sizes, lr_factors, update_batch_sizes, update_draws, ks = (s.batch_sizes, s.lr_factors, s.update_batch_sizes,
                                                                 s.update_draws, s.ks)
glue("sgd_rho_a", f"{s.rho_a:.2f}", display=False)
glue("sgd_k_a", f"{k['audio']:.3f}", display=False)
glue("sgd_runs_k_a", sgd_noise.runs_k_text(s), display=False)"""

SGD_FIGURES = [
    (
        'ax.loglog(grp["batch size"], grp["measured"], "o", label=f"{m}: measured")',
        "sgd_noise.batch_noise_figure(noise)\nplt.show()",
    ),
    (
        "fig, axes = plt.subplots(1, 2, figsize=(8, 3.4), sharey=True)",
        "sgd_noise.update_noise_figure(updates)\nplt.show()",
    ),
    (
        "ge[cols].plot.bar(ax=ax, logy=True, rot=0)",
        'cols = ["SGD", "OGM (measured)", "OGM-GE, paper (k^2+1)", "OGM-GE, ge_noise=sgd (measured)", '
        '"OGM-GE, official code"]\nsgd_noise.ge_noise_figure(ge, cols, b)\nplt.show()',
    ),
    ("grid = np.logspace(-2, 0, 200)", 'sgd_noise.temperature_figure(forms, k["audio"], ks, r_audio)\nplt.show()'),
]


def findings_source() -> str:
    return (
        "from ogm_lib.recipe import book as recipe_book, regimes\n"
        "from ogm_lib.report import findings\n\n"
        "_head_runs = headline_runs(dataset, profile, device, seeds, headline_seeds, workers, results_dir, regime)\n"
        "_checks = (findings.regime_checks(regimes.train_regime(regime or recipe_book.REGIME, workers=workers, "
        "results_dir=results_dir))\n"
        '           if dataset == "avdigits" else None)\n'
        "findings.glue_findings(findings.book_setting_text(dataset, profile, _head_runs, seeds), head, all_val,\n"
        "                       cl.counts, _checks,\n"
        '                       real_data=dataset not in ("avdigits", "synthetic"),\n'
        '                       leads=split.loc["all"].drop("all").to_dict())'
    )


FINDINGS_MD = "```{glue} fin_box\n```"


def ensure_findings(nb) -> bool:
    cells = nb["cells"]
    changed = False
    existing = [c for c in cells if FINDINGS_TAG in _tags(c)]
    if existing:
        changed |= _set_source(existing[0], findings_source())
    else:
        i = next((i for i, c in enumerate(cells) if c["cell_type"] == "code" and "all_val = " in _src(c)), None)
        if i is None:
            raise ValueError("chapter 10: no cell defines all_val (the verdicts the findings box counts)")
        cells.insert(i + 1, _code(findings_source(), [FINDINGS_TAG, "remove-cell"]))
        changed = True
    if not any(FINDINGS_MD_TAG in _tags(c) for c in cells):
        first_md = next(i for i, c in enumerate(cells) if c["cell_type"] == "markdown")
        cells.insert(first_md + 1, _markdown(FINDINGS_MD, [FINDINGS_MD_TAG]))
        changed = True
    return changed


def edit(nb, chapter: str) -> bool:
    changed = ensure_head(nb, chapter)
    if chapter == "01_imbalance":
        changed |= _replace(nb, 'axes.flat[3].axis("off")', FIGURE1)
    if chapter == "03_sgd_noise":
        changed |= _replace(nb, "per_sample = {m: per_sample_gradients(model", SGD_SETUP)
        changed |= _replace(nb, "s = sgd_noise.setup(", SGD_SETUP)  # refreshed when the template changes
        for marker, source in SGD_FIGURES:
            changed |= _replace(nb, marker, source)
    if chapter == "10_verdicts":
        changed |= ensure_findings(nb)
    changed |= hide_inputs(nb)
    return changed


def edit_file(path: Path, write: bool = True) -> bool:
    text = path.read_text(encoding="utf-8")
    nb = json.loads(text)
    changed = edit(nb, path.stem)
    if changed and write:
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return changed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/NN_*.ipynb")
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook would change")
    args = ap.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    changed = [p for p in paths if edit_file(p, write=not args.check)]
    for p in changed:
        print(f"{'would change' if args.check else 'edited'}: {p}")
    return 1 if (args.check and changed) else 0


if __name__ == "__main__":
    sys.exit(main())
