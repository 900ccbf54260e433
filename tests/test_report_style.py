"""The book's look (issue 25): the table style, the figure style, the rerun box, the findings box and the script
that edits the notebooks' sources."""

from __future__ import annotations

import html
import json
import math
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from ogm_lib.recipe import runs as run_list
from ogm_lib.report import figure_style, findings, notebook_edits, rerun_box, table_style

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------------- tables


def test_html_table_writes_every_row_and_character():
    long = "rises from about 1.5 to about 9 within about 12 epochs, then falls back " * 4
    df = pd.DataFrame({"text": [f"{i} {long}" for i in range(80)], "x": [0.5] * 79 + [math.nan]})
    out = table_style.render(df)._repr_html_()
    assert out.count("<tr>") == 81  # header + 80 rows: nothing cut at display.max_rows
    assert long.strip() in out and "..." not in out and "…" not in out
    assert "NaN" not in out and table_style.MISSING in out
    assert "table-layout: fixed" in out and "width: 100%" in out


def test_multiindex_becomes_group_rows():
    df = pd.DataFrame(
        {"v": [1, 2, 3]},
        index=pd.MultiIndex.from_tuples([("ch A", "r1"), ("ch A", "r2"), ("ch B", "r3")], names=["chapter", "row"]),
    )
    out = table_style.html_table(df)._repr_html_()
    assert out.count('class="group"') == 2 and ">ch A<" in out and ">r3<" in out


def _verdict_frame(extra: dict | None = None, ours="ours: A − B, 95% CI"):
    rows = {
        "A beats B": {
            "verdict": "reproduced",
            ours: "+3.7 points, 95% CI -0.3 to +7.8",
            "seeds": 10,
            "paper: A − B": "CREMA-D Acc +10.2",
            "paper inside our CI": "no",
            **(extra or {}),
        },
        "C beats D": {
            "verdict": "equivalent to no effect",
            ours: "+0.1 points",
            "seeds": 5,
            "paper: A − B": "—",
            "paper inside our CI": "—",
            **(extra or {}),
        },
    }
    df = pd.DataFrame.from_dict(rows, orient="index")
    df.index.name = "claim (A beats B)"
    return df


@pytest.mark.parametrize(
    "extra,ours",
    [
        ({}, "ours: A − B, 95% CI"),
        (
            {
                "MDE (80% power, at the claim's level)": "4.2 points",
                "verdict, paper's protocol": "smaller than the paper's",
            },
            "ours: A − B, 95% CI (unadjusted)",
        ),
    ],
)
def test_verdict_view_finds_its_columns_by_name(extra, ours):
    df = _verdict_frame(extra, ours)
    assert table_style.is_verdict_table(df)
    out = table_style.render(df)._repr_html_()
    main, details = out.split("<details", 1)
    heads = [html.unescape(h) for h in re.findall(r"<th>([^<]*)</th>", main.split("<tbody>")[0])]
    assert heads == ["claim (A beats B)", "paper's effect", "ours, 95% CI", "verdict"]
    for col in ["seeds", "paper inside our CI", *extra]:
        assert col in html.unescape(details.split("</summary>")[0])
    # each label colour-coded, an unknown label grey
    assert f"background:{table_style.LABEL_COLORS['reproduced'][0]}" in main
    assert f"background:{table_style.LABEL_COLORS['equivalent to no effect'][0]}" in main
    if extra:
        assert 'data-label="smaller than the paper&#x27;s"' in details


def test_verdict_view_refuses_other_tables():
    with pytest.raises(ValueError):
        table_style.verdict_view(pd.DataFrame({"a": [1]}))
    assert not table_style.is_verdict_table(pd.DataFrame({"verdict": ["x"]}))


def test_install_registers_the_formatter():
    class Fmt:
        def __init__(self):
            self.types = {}

        def for_type(self, t, f):
            self.types[t] = f

    fmts = {"text/html": Fmt(), "image/png": Fmt()}
    ip = SimpleNamespace(display_formatter=SimpleNamespace(formatters=fmts))
    assert table_style.install(ip)
    assert fmts["text/html"].types[pd.DataFrame](_verdict_frame()).count("<details") == 1
    assert figure_style.install(ip)
    from matplotlib.figure import Figure

    assert fmts["image/png"].types[Figure] is figure_style.figure_png


# ---------------------------------------------------------------------------------------------- figures


def test_figure_png_has_the_intended_size():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3))
    ax.plot([0, 1], [0, 1], label=figure_style.MATH["rho_a"])
    figure_style.legend_outside(ax)
    data, meta = figure_style.figure_png(fig)
    w, h = figure_style.png_size(data)
    plt.close(fig)
    assert w > 6 * figure_style.DPI  # at least 6 of the figure's 7 inches, at 200 dpi
    assert meta["width"] == min(round(w * figure_style.CSS_PX_PER_INCH / figure_style.DPI), figure_style.MAX_CSS_WIDTH)
    assert w >= 2 * meta["width"] - 1  # at least two image pixels per CSS pixel


def test_one_marker_per_dataset():
    names = ["CREMA-D Acc", "CREMA-D mAP", "VGGSound Acc", "Kinetics-Sounds Acc", "AVE Acc"]
    marks = {n: figure_style.marker_of(n) for n in names}
    assert marks["CREMA-D Acc"] == marks["CREMA-D mAP"]
    assert len({marks[n] for n in names[1:]}) == 4


def test_figure1_has_no_empty_panel():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from ogm_lib.report import plots

    class Run:
        def __init__(self, s):
            self.epochs = [
                {"epoch": e, "probe_audio": 0.1 * e + s, "probe_visual": 0.05 * e, "test_acc": 0.3} for e in range(4)
            ]

    runs = {label: [Run(0.0), Run(0.01)] for label in ["Audio-only", "Visual-only", "Joint", "Joint + OGM-GE"]}
    from ogm_lib.ground.paper import FIGURE1

    try:
        fig = plots.figure1(runs, FIGURE1, "t")
    except (AttributeError, KeyError, TypeError) as e:  # the runs' reader needs RunResult fields
        pytest.skip(f"figure1 needs RunResult: {e}")
    assert len(fig.axes) == 3 and all(ax.has_data() for ax in fig.axes)
    assert fig.legends and not any(ax.get_legend() for ax in fig.axes)
    plt.close(fig)
    np.testing.assert_allclose(fig.get_size_inches()[0], plots.WIDTH)


# ---------------------------------------------------------------------------------------------- rerun box


def test_chapter_runs_are_the_notebooks_runs():
    from ogm_lib.recipe import book

    runs = rerun_box.chapter_runs("05_table1")
    rows = book.table1_rows("avdigits", book.PROFILE, "cpu", regime=book.REGIME)
    want = {c.replace(seed=s).key() for c in rows.values() for s in book.row_seeds(c)}
    assert {c.key() for c in runs} == want
    every = {c.key() for c in run_list.book_runs()}
    for ch in ("01_imbalance", "03_sgd_noise", "11_regimes", "12_when_ogm_ge_helps", "13_table3", "15_table5"):
        assert {c.key() for c in rerun_box.chapter_runs(ch)} <= every, ch


def test_estimate_is_the_committed_wall_time_over_two_cores(tmp_path):
    runs = rerun_box.chapter_runs("04_ge")
    for i, c in enumerate(runs[:3]):
        (tmp_path / f"{c.key()}.json").write_text(json.dumps({"wall_time_s": 10.0 * (i + 1)}))
    est = rerun_box.estimate("04_ge", tmp_path)
    assert (est.runs, est.committed, est.run_time_s) == (len(runs), 3, 60.0)
    assert est.expected_s == 30.0
    html = rerun_box.box_html("04_ge", est)
    assert "30 s" in html and f"{len(runs) - 3} runs are not committed" in html


def test_commands_retrain_into_a_fresh_folder():
    for ch in ("01_imbalance", "13_table3", "11_regimes"):
        c = rerun_box.commands(ch)
        assert c["default"].endswith(f"papermill {ch}.ipynb out.ipynb")
        assert "-p results_dir ../results-" in c["retrain"] and "-p device cuda" in c["gpu"]
        assert "-p results_dir ../results-" in c["gpu"]
    assert "-p dataset ksounds" in rerun_box.commands("13_table3")["gpu"]


def test_every_profile_is_explained():
    from ogm_lib.method.config import PROFILES

    assert [r[0] for r in rerun_box.profile_rows()] == list(PROFILES)
    page = (ROOT / "book" / "how_to_rerun.md").read_text()
    for name in PROFILES:
        assert re.search(rf"^`{name}`\n: ", page, re.M), f"how_to_rerun.md does not explain profile {name}"


# ---------------------------------------------------------------------------------------------- findings


class _V:
    def __init__(self, label):
        self.label = label


def test_label_counts_take_any_labels():
    vs = [_V("reproduced"), _V("inconclusive"), _V("equivalent to no effect"), _V("inconclusive")]
    n = findings.label_counts(vs)
    assert n == {"reproduced": 1, "inconclusive": 2, "equivalent to no effect": 1}
    assert findings.label_counts(vs, lambda v: {"reproduced": 0, "inconclusive": 3}) == {
        "reproduced": 0,
        "inconclusive": 3,
    }


def test_testbed_gaps_name_failed_checks_only():
    ok = {
        "rho_first": [1.2, 1.1],
        "convergence": {"passes": True, "share": 0.9, "runs": 10},
        "late_gain": (0.1, -0.2, 0.3, 10),
    }
    assert findings.testbed_gaps(ok) == []
    bad = {
        "rho_first": [0.9, 1.1],
        "convergence": {"passes": False, "share": 0.5, "runs": 40},
        "late_gain": (1.0, 0.4, 1.6, 40),
    }
    assert len(findings.testbed_gaps(bad)) == 3


def test_findings_html_carries_the_counts():
    from ogm_lib.report.claims import Claim

    claim = Claim(
        "h", "concat+ beats concat", {0: 1.0}, {0: 0.0}, paper={"CREMA-D Acc": 10.2}, ledger={"re-run X": 3.3}
    )
    head = SimpleNamespace(claim=claim, __str__=None)
    head = type("H", (), {"claim": claim, "__str__": lambda self: "inconclusive (+1.0 points)"})()
    out = findings.findings_html(
        "avdigits, converged", head, {"reproduced": 2, "inconclusive": 5}, ["x fails"], repo_url="https://example.org/r"
    )
    assert 'data-label="reproduced" data-count="2"' in out and 'data-count="7"' in out
    assert "CREMA-D Acc +10.2" in out and "re-run X +3.3" in out and "x fails" in out
    assert 'href="https://example.org/r"' in out and 'href="../notebooks/10_verdicts.html"' in out


def test_repository_url_is_read_from_the_config(tmp_path):
    cfg = tmp_path / "_config.yml"
    cfg.write_text("title: x\nrepository:\n  url: https://example.org/a/b   # set me\n  branch: main\n")
    assert findings.repository_url(cfg) == "https://example.org/a/b"
    assert findings.repository_url() == "https://github.com/ogm-ge-book/ogm-ge-book"


# ---------------------------------------------------------------------------------------------- the script


@pytest.fixture
def notebooks(tmp_path):
    out = tmp_path / "notebooks"
    out.mkdir()
    for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        shutil.copy(p, out / p.name)
    return sorted(out.glob("*.ipynb"))


def test_notebook_edits_are_idempotent_and_complete(notebooks):
    for p in notebooks:
        notebook_edits.edit_file(p)
        assert not notebook_edits.edit_file(p), f"{p.name}: a second run changed it"
        cells = json.loads(p.read_text())["cells"]
        tags = [c["metadata"].get("tags", []) for c in cells]
        head = [i for i, t in enumerate(tags) if notebook_edits.HEAD_TAG in t]
        params = [i for i, t in enumerate(tags) if "parameters" in t]
        assert len(head) == 1 and head[0] == params[0] - 1, p.name
        assert p.stem in "".join(cells[head[0]]["source"])
        assert "hide-input" not in tags[params[0]]
        for c, t in zip(cells, tags):
            if c["cell_type"] == "code" and "parameters" not in t and notebook_edits.HEAD_TAG not in t:
                assert set(t) & {"hide-input", "remove-input", "remove-cell", "injected-parameters"}, p.name
    src = {p.stem: "".join("".join(c["source"]) for c in json.loads(p.read_text())["cells"]) for p in notebooks}
    assert 'axes.flat[3].axis("off")' not in src["01_imbalance"] and "plots.figure1(" in src["01_imbalance"]
    assert "per_sample_gradients(model" not in src["03_sgd_noise"] and "sgd_noise.setup(" in src["03_sgd_noise"]
    assert src["10_verdicts"].index("all_val = ") < src["10_verdicts"].index("findings.glue_findings(")
    assert "{glue} fin_box" in src["10_verdicts"]


def test_findings_box_says_which_verdicts_test_the_claim():
    from ogm_lib.report.claims import Claim

    claim = Claim("h", "concat+ beats concat", {0: 1.0}, {0: 0.0}, paper={"CREMA-D Acc": 10.2})
    head = type("H", (), {"claim": claim, "__str__": lambda self: "inconclusive (+1.0 points)"})()
    leads = {"audio leads (tests the paper's claim)": 3, "vision leads": 0, "neither leads": 20}
    assert findings.leads_text(leads) == "3 audio leads (tests the paper's claim), 20 neither leads"
    out = findings.findings_html(
        "avdigits", head, {"inconclusive": 23}, [], repo_url="https://example.org/r", leads=leads
    )
    assert "Which verdicts test the paper" in out and "20 neither leads" in out and "vision leads" not in out
    assert "Which verdicts" not in findings.findings_html("avdigits", head, {"inconclusive": 1}, [], repo_url="x")
