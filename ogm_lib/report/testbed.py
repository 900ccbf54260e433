"""The testbed chapter's numbers: the search (every design and its distance to the criteria), the choice,
alpha on validation, and the headline pair judged by the book's rule on the chosen design.

The rules live in `phenomenon.py` (the criteria) and `testbed.py` (the designs, the choice, the rows), written
before the runs; this file reads the committed runs and shows what the rules chose. It trains nothing.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..recipe import phenomenon as ph
from ..recipe import testbed
from . import calibration as cal
from . import claims as cl
from .explain import explain_claims

#: the glue prefix of the testbed's claims
TAG = "tb"


def runs_of(chosen: str, alpha: float, results_dir=None) -> dict[str, list]:
    """The chosen design's four rows: the unimodal models (confirmation seeds) and the headline pair
    (`testbed.HEADLINE_SEEDS`), read from the committed runs."""
    rows = testbed.design_rows(chosen)
    out = testbed.read_rows({k: rows[k] for k in ("Audio-only", "Visual-only")}, testbed.CONFIRM_SEEDS, results_dir)
    out.update(testbed.read_rows(testbed.headline_rows(chosen, alpha), testbed.HEADLINE_SEEDS, results_dir))
    return out


def claims(runs) -> list:
    """The claims judged on the testbed: `explain.explain_claims` (OGM-GE's gain, the encoders, the fit, the
    ceiling), OGM-GE's gain as the primary claim tested alone, the others the paper's or the book's."""
    out = []
    for c in explain_claims(runs, "testbed"):
        family = {"gain": "primary", "ceiling": "book", "underfit": "book"}.get(c.key, "paper")
        out.append(dataclasses.replace(c, family=family))
    return out


def criteria_table(runs_by_design, chosen: str):
    """The chosen design's criteria on validation (judged) beside the same numbers on test (reported)."""
    import pandas as pd

    runs = runs_by_design[chosen]
    val, test = ph.measure(runs, "val"), ph.measure(runs, "test")
    rows = {}
    for cv, ct in zip(ph.criteria(val), ph.criteria(test)):

        def fmt(c):
            return "—" if c.value != c.value else (f"{c.value:.0%}" if c.unit < 1 else f"{c.value:+.1f}")

        bound = (
            f"{'≥' if cv.at_least else '≤'} {cv.threshold:.0%}"
            if cv.unit < 1
            else f"{'≥' if cv.at_least else '≤'} {cv.threshold:+.1f}"
        )
        rows[cv.name] = {
            "rule": bound,
            "validation (judged)": fmt(cv),
            "met": "yes" if cv.met else "no",
            "test (reported)": fmt(ct),
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = f"{chosen}, {val['seeds']} seeds"
    return table


def section(results_dir=None) -> dict:
    """Everything the testbed section of the calibration chapter shows: tables and glued sentences."""
    designs = testbed.read_designs(seeds=testbed.SEARCH_SEEDS, results_dir=results_dir)
    try:
        search, confirmed, chosen = testbed.read_outcome(results_dir)
    except FileNotFoundError as err:  # the rule has not got that far on the committed runs
        search = testbed.ranking(designs)
        note = f"The confirmation is not complete on the committed runs ({err})."
        return {
            "search": cal.design_table(search),
            "search_test": cal.design_test_table(designs),
            "texts": {
                "tb_search": f"The search tried {sum(not n.endswith(' regime') for n in designs)} "
                f"designs on seed 0. {note}",
                "tb_alpha": note,
                "tb_verdict": note,
            },
        }
    confirmed_runs = testbed.read_designs([n for n, *_ in confirmed], testbed.CONFIRM_SEEDS, results_dir)
    sweep = testbed.alpha_values(chosen, results_dir)
    out = {
        "search": cal.design_table(search),
        "search_test": cal.design_test_table(designs),
        "confirmed": cal.design_table(confirmed),
        "criteria": criteria_table(confirmed_runs, chosen),
        "chosen": chosen,
        "texts": {"tb_search": cal.search_text(search, confirmed, chosen)},
    }
    if not sweep or any(len(v) < len(testbed.ALPHA_SEEDS) for v in sweep.values()):
        out["texts"]["tb_alpha"] = "The alpha sweep on the testbed has not been trained yet."
        return out
    from ..recipe.regimes import choose_alpha

    alpha, _ = choose_alpha(sweep)
    out["alpha"] = alpha
    out["alpha_table"] = cal.alpha_table({"testbed": sweep}, {"testbed": alpha})
    out["texts"]["tb_alpha"] = (
        f"On the testbed the rule chose alpha = {alpha:g} (the highest mean validation "
        f"accuracy of concatenation + OGM-GE over seeds {', '.join(map(str, testbed.ALPHA_SEEDS))})."
    )
    runs = runs_of(chosen, alpha, results_dir)
    n = min(len(runs["Concatenation"]), len(runs["Concatenation + OGM-GE"]))
    out["runs"] = runs
    if n < 2:
        out["texts"]["tb_verdict"] = "The headline pair on the testbed has not been trained yet."
        return out
    found = claims(runs)
    verdicts = cl.judge(found)
    out["claims"], out["verdicts"] = found, verdicts
    out["verdict_table"] = cl.verdict_table(found, verdicts, cl.judge(found, "test"))
    head = verdicts["gain"]
    seeds_note = (
        ""
        if n >= len(testbed.HEADLINE_SEEDS)
        else f" (only {n} of the {len(testbed.HEADLINE_SEEDS)} planned seeds are trained so far)"
    )
    out["texts"]["tb_verdict"] = f"On the testbed, concatenation + OGM-GE against concatenation: {head}{seeds_note}."
    out["texts"].update({f"{TAG}_{c.key}_verdict": str(verdicts[c.key]) for c in found})
    out["texts"][f"{TAG}_summary"] = cl.count_text([verdicts[c.key] for c in found])
    return out


def mean_test(runs) -> dict[str, float]:
    """label -> mean test accuracy (%) at the validation-chosen epoch."""
    return {label: float(np.mean([100 * r.best["test_acc"] for r in rs])) for label, rs in runs.items() if rs}


def rule_text() -> str:
    """The criteria and the choice, in one paragraph, from the constants that implement them."""
    return (
        f"a design passes when, on validation and from plain runs only, (1) concatenation beats the best "
        f"unimodal model by at most {ph.JOINT_GAIN_MAX:g} points; (2) the product of the two unimodal models' "
        f"probabilities beats concatenation by at least {ph.HEADROOM_MIN:g} points, with the 95 % interval of "
        f"the paired differences above 0; (3) the weak modality's encoder, linear-probed, is at least "
        f"{ph.PROBE_GAP_MIN:g} points worse inside the joint model than trained alone; (4) rho^a is above 1 over "
        f"the first epoch in every seed and on at least {ph.WINDOW_SHARE_MIN:.0%} of the modulation window's "
        f"steps; (5) at least {ph.CONVERGED_SHARE:.0%} of the runs are on their plateau (the mean validation "
        f"accuracy of the last {ph.LATE_SHARE:.0%} of epochs less than {ph.PLATEAU_GAIN_MAX:g} point above the "
        f"{ph.LATE_SHARE:.0%} before); and, secondary, (6) the unimodal accuracies lie within "
        f"{ph.UNIMODAL_TOLERANCE:g} points of CREMA-D's {ph.PAPER_UNIMODAL['audio']:g} and "
        f"{ph.PAPER_UNIMODAL['visual']:g}. Designs are ranked by their distance to the criteria (the sum of "
        f"the shortfalls, each in its own unit, the secondary one at half weight); every design is run at seed "
        f"{', '.join(map(str, testbed.SEARCH_SEEDS))}, the closest is confirmed at seeds "
        f"{', '.join(map(str, testbed.CONFIRM_SEEDS))} (the next one too, only if it then misses a primary "
        f"criterion), and the closest confirmed design is the testbed. Alpha is then chosen on validation "
        f"from {', '.join(f'{a:g}' for a in testbed.ALPHA_GRID)} (seeds "
        f"{', '.join(map(str, testbed.ALPHA_SEEDS))}), and the headline pair runs "
        f"{len(testbed.HEADLINE_SEEDS)} seeds."
    )


def section_for(dataset: str, profile: str, results_dir=None) -> dict:
    """`section` on the default data at the testbed's profile; elsewhere a note (the search is a calibration of
    the default data on its schedules, not something a smoke run or another dataset repeats)."""
    if dataset != "avdigits" or profile != testbed.PROFILE:
        note = (
            f"The testbed search runs on the default data at the {testbed.PROFILE} profile; this run "
            f"(dataset {dataset}, profile {profile}) shows the book's committed search only there."
        )
        return {"texts": {k: note for k in ("tb_search", "tb_alpha", "tb_verdict")}}
    return section(results_dir)


def table(tb: dict, name: str):
    """A table of `section`'s output, or a one-row note where it has none (not run at this profile, or its
    runs not trained yet)."""
    import pandas as pd

    if name in tb:
        return tb[name]
    return pd.DataFrame({"note": [tb["texts"].get("tb_verdict", "not available")]}, index=[name])
