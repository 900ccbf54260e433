"""Every chapter's claims, as functions of its runs: the chapter prints them, and the closing chapter
collects them all (`book_claims`) and judges each chapter exactly as the chapter itself does, on runs trained
(or read back) by the recipe (`recipe.verdict_runs.train`): nothing here trains. Which chapters are judged, in
which order and how, is the chapter registry's (`recipe/chapters.py`).

A claim reads "A beats B" in the paper's direction and carries the paper's own A - B (`paper.py`), in points
for accuracies, and, for OGM-GE against plain concatenation, the published re-runs' gains (`ledger.py`).
"""

from __future__ import annotations

from ..ground.paper import TABLE1, TABLE2, TABLE6, TABLE7, difference, figure1_difference
from ..method.results import RunResult
from ..recipe.book import ALPHA, FUSIONS, OPM
from ..recipe.chapters import CHAPTER, TITLES, parameter  # noqa: F401  (TITLES: the chapters judged, in order)
from . import plugins as plugin_claims
from .claims import Claim, Verdict, judge, rerun_gains
from .figure3 import rho_claims
from .reduce import gap_per_seed, probe
from .table7 import noise_claims
from .tables import slug
from .where_judged import judged_where as _ref

Runs = dict[str, list[RunResult]]
ACC1 = ["CREMA-D Acc", "VGGSound Acc"]


def imbalance_claims(runs: Runs) -> list[Claim]:
    """Chapter 01 (Figure 1 and Table 1)."""
    return [
        Claim(
            "visual",
            "the visual encoder is worse inside the joint model than trained alone (linear probe)",
            probe(runs["Visual-only"], "visual"),
            probe(runs["Joint"], "visual"),
            paper=figure1_difference("visual", "visual-only", "joint"),
            short="visual encoder: alone beats joint",
            family="primary",
            judged_in=_ref(runs, "12_when_ogm_ge_helps", "imbalance"),
        ),
        Claim(
            "audio",
            "the audio encoder is worse inside the joint model than trained alone (linear probe)",
            probe(runs["Audio-only"], "audio"),
            probe(runs["Joint"], "audio"),
            paper=figure1_difference("audio", "audio-only", "joint"),
            short="audio encoder: alone beats joint",
        ),
        Claim(
            "ogmge",
            "OGM-GE improves the joint model's visual encoder (linear probe)",
            probe(runs["Joint + OGM-GE"], "visual"),
            probe(runs["Joint"], "visual"),
            paper=figure1_difference("visual", "joint + OGM-GE", "joint"),
            short="OGM-GE: better visual encoder",
        ),
        Claim(
            "joint",
            "the joint model beats the audio-only model",
            runs["Joint"],
            runs["Audio-only"],
            paper=difference(TABLE1, "Concatenation", "Audio-only", ACC1),
            short="joint beats audio-only",
            judged_in=_ref(runs, "05_table1", "audio_joint"),
        ),
    ]


def ogm_claims(runs: Runs, alpha: float = ALPHA) -> list[Claim]:
    """Chapter 02: OGM-GE at each alpha against plain joint training, in accuracy and visual probe. At the
    chapter's main `alpha` the two are the headline rows' comparisons, judged in chapters 05 and 01."""
    out = []
    for label in (name for name in runs if name != "Joint"):
        a = label.split("=")[1]
        main = float(a) == float(alpha)
        out.append(
            Claim(
                f"acc_{slug(a)}",
                f"{label} beats Joint (test accuracy)",
                runs[label],
                runs["Joint"],
                paper=difference(TABLE1, "Concatenation+", "Concatenation", ACC1),
                short=f"OGM-GE α={a}: accuracy",
                family="primary" if main else "paper",
                judged_in=_ref(runs, "05_table1", "concat_ge") if main else None,
            )
        )
        out.append(
            Claim(
                f"probe_{slug(a)}",
                f"{label} beats Joint (visual linear probe)",
                probe(runs[label], "visual"),
                probe(runs["Joint"], "visual"),
                paper=figure1_difference("visual", "joint + OGM-GE", "joint"),
                short=f"OGM-GE α={a}: visual probe",
                judged_in=_ref(runs, "01_imbalance", "ogmge") if main else None,
            )
        )
    return out


def ge_claims(runs: Runs) -> list[Claim]:
    """Chapter 04: GE with and without OGM, and the generalisation gap."""
    return [
        Claim(
            "ogmge_vs_ogm",
            "OGM-GE beats OGM",
            runs["OGM-GE"],
            runs["OGM"],
            paper=difference(TABLE2, "OGM-GE", "OGM"),
            short="OGM-GE beats OGM",
            judged_in=_ref(runs, "06_table2", "ogmge_vs_ogm"),
        ),
        Claim(
            "ge_vs_normal",
            "GE alone beats normal training",
            runs["GE only"],
            runs["Normal"],
            paper=difference(TABLE7, "b64 lr1e-3 GE only", "b64 lr1e-3"),
            short="GE alone beats normal",
            judged_in=_ref(runs, "08_table7", "ge_only"),
        ),
        Claim(
            "ogmge_vs_normal",
            "OGM-GE beats normal training",
            runs["OGM-GE"],
            runs["Normal"],
            paper=difference(TABLE2, "OGM-GE", "Concatenation"),
            ledger=rerun_gains(),
            short="OGM-GE beats normal",
            family="primary",
            judged_in=_ref(runs, "05_table1", "concat_ge"),
        ),
        Claim(
            "gap_ogm",
            "OGM-GE has a smaller train − test gap than OGM",
            gap_per_seed(runs["OGM"]),
            gap_per_seed(runs["OGM-GE"]),
            short="smaller gap: OGM-GE vs OGM",
            family="book",
        ),
        Claim(
            "gap_ge",
            "GE alone has a smaller train − test gap than normal training",
            gap_per_seed(runs["Normal"]),
            gap_per_seed(runs["GE only"]),
            short="smaller gap: GE vs normal",
            family="book",
        ),
    ] + ge_noise_claims(runs)


#: chapter 04's rows with the paper's GE noise (`ge_variants.GE_VARIANTS`) -> their claim keys
GE_NOISE_ROWS = {"OGM-GE (paper's noise)": "sgd", "OGM-GE (noise x k)": "sgdk", "OGM-GE (SGD temperature)": "restore"}


def ge_noise_claims(runs: Runs) -> list[Claim]:
    """Chapter 04, GE with the paper's noise (`ge_noise`): the paper's two GE claims (GE alone beats plain
    training; OGM-GE beats OGM) with each noise, and, beyond the paper, whether restoring the dominant
    encoder's SGD temperature (chapter 03) beats the official GE."""
    out = [
        Claim(
            "ge_sgd_vs_normal",
            "GE alone with the paper's noise beats normal training",
            runs["GE alone (paper's noise)"],
            runs["Normal"],
            paper=difference(TABLE7, "b64 lr1e-3 GE only", "b64 lr1e-3"),
            short="GE (paper's noise) beats normal",
        )
    ]
    out += [
        Claim(
            f"ogmge_{key}_vs_ogm",
            f"{label} beats OGM",
            runs[label],
            runs["OGM"],
            paper=difference(TABLE2, "OGM-GE", "OGM"),
            short=f"{label} beats OGM",
            family="paper" if key == "sgd" else "book",
        )  # the paper's noise; the other two are ours
        for label, key in GE_NOISE_ROWS.items()
    ]
    out.append(
        Claim(
            "restore_vs_official",
            "OGM-GE at SGD's temperature beats the official OGM-GE (beyond the paper)",
            runs["OGM-GE (SGD temperature)"],
            runs["OGM-GE"],
            short="SGD temperature beats official GE",
            family="book",
        )
    )
    return out


def table1_claims(runs: Runs) -> list[Claim]:
    """Chapter 05: OGM-GE with each fusion, and the unimodal comparisons."""
    out = [
        Claim(
            f"{fusion}_ge",
            f"{name} + OGM-GE beats {name}",
            runs[f"{name}+"],
            runs[name],
            paper=difference(TABLE1, f"{name}+", name, ACC1),
            short=f"{name}: + OGM-GE",
            ledger=rerun_gains() if fusion == "concat" else {},
            family="primary" if fusion == "concat" else "paper",
        )
        for name, fusion in FUSIONS.items()
    ]
    out += [
        Claim(
            "audio_visual",
            "Audio-only beats Visual-only (audio is the dominant modality)",
            runs["Audio-only"],
            runs["Visual-only"],
            paper=difference(TABLE1, "Audio-only", "Visual-only", ACC1),
            short="audio-only beats visual-only",
        ),
        Claim(
            "audio_joint",
            "Audio-only beats Concatenation (joint training does not beat audio alone)",
            runs["Audio-only"],
            runs["Concatenation"],
            paper=difference(TABLE1, "Audio-only", "Concatenation", ACC1),
            short="audio-only beats concatenation",
        ),
        Claim(
            "joint_plus_audio",
            "Concatenation + OGM-GE beats Audio-only",
            runs["Concatenation+"],
            runs["Audio-only"],
            paper=difference(TABLE1, "Concatenation+", "Audio-only", ACC1),
            short="concatenation + OGM-GE beats audio-only",
        ),
    ]
    return out


def table2_claims(runs: Runs) -> list[Claim]:
    """Chapter 06: every method against concatenation, and OGM-GE against every other method."""
    methods = [label for label in runs if label != "Concatenation"]
    out = [
        Claim(
            f"{slug(m)}_vs_concat",
            f"{m} beats Concatenation",
            runs[m],
            runs["Concatenation"],
            paper=difference(TABLE2, m, "Concatenation"),
            short=f"{m} beats concatenation",
            ledger=rerun_gains() if m == "OGM-GE" else {},
            family=_table2_family(m),
            judged_in=_ref(runs, "05_table1", "concat_ge") if m == "OGM-GE" else None,
        )
        for m in methods
    ]
    out += [
        Claim(
            f"ogmge_vs_{slug(m)}",
            f"OGM-GE beats {m}",
            runs["OGM-GE"],
            runs[m],
            paper=difference(TABLE2, "OGM-GE", m),
            short=f"OGM-GE beats {m}",
            family="book" if m == OPM else "paper",
        )
        for m in methods
        if m != "OGM-GE"
    ]
    return out


def _table2_family(method: str) -> str:
    return "primary" if method == "OGM-GE" else "book" if method == OPM else "paper"


def table6_claims(runs: Runs) -> list[Claim]:
    """Chapter 07: OGM-GE with SGD and with Adam; SGD against Adam. SGD + OGM-GE against SGD is the headline
    pair, judged in chapter 05."""

    def claim(key, a, b, text):
        head = key == "sgd_plus"
        return Claim(
            key,
            text,
            runs[a],
            runs[b],
            paper=difference(TABLE6, a, b),
            short=text,
            family="primary" if head else "paper",
            judged_in=_ref(runs, "05_table1", "concat_ge") if head else None,
        )

    return [
        claim("sgd_plus", "SGD+", "SGD", "SGD + OGM-GE beats SGD"),
        claim("adam_plus", "Adam+", "Adam", "Adam + OGM-GE beats Adam"),
        claim("sgd_adam", "SGD", "Adam", "SGD beats Adam"),
        claim("sgd_plus_adam_plus", "SGD+", "Adam+", "SGD + OGM-GE beats Adam + OGM-GE"),
    ]


def figure3_claims(runs: Runs, fraction: float = parameter("09_figure3", "fraction")) -> list[Claim]:
    """Chapter 09."""
    return rho_claims(runs["Concatenation"], runs["Concatenation + OGM-GE"], fraction)


#: chapter -> the claims of its runs, for the chapters the registry judges on their rows (`Chapter.claims` "rows")
CLAIMS = {
    "01_imbalance": imbalance_claims,
    "02_ogm": ogm_claims,
    "04_ge": ge_claims,
    "05_table1": table1_claims,
    "06_table2": table2_claims,
    "07_table6": table6_claims,
    "09_figure3": figure3_claims,
    "13_table3": plugin_claims.table3_claims,
    "14_table4": plugin_claims.table4_claims,
    "15_table5": plugin_claims.table5_claims,
}


def chapter_claims(chapter: str, runs: dict, settings=()) -> list[Claim]:
    """One chapter's claims, as the registry says it is judged (`Chapter.claims`): "rows", a function of its
    rows' runs (`CLAIMS`); "noise", of its runs and its grid's `settings` (chapter 08, `table7.noise_claims`);
    "regimes", of each regime's runs (chapter 12, `explain.chapter_claims`)."""
    from .explain import chapter_claims as regime_claims

    kind = CHAPTER[chapter].claims
    if kind == "rows":
        return CLAIMS[chapter](runs)
    if kind == "noise":
        return noise_claims(settings, runs)
    if kind == "regimes":
        return regime_claims(runs)
    raise ValueError(f"chapter {chapter} states no claims the closing chapter judges")


def book_claims(book_runs) -> dict[str, tuple[list[Claim], dict[str, Verdict], dict[str, Verdict]]]:
    """Every judged chapter's claims at its default parameters, judged per chapter under both protocols:
    chapter -> (claims, verdicts at the best validation epoch, verdicts at the best test epoch), in the
    registry's order. `book_runs`: the chapters' runs (`recipe.verdict_runs.train`, which trains what is
    missing; the plug-in chapters 13-15 are judged on `chapters.PLUGIN_DATASETS` only, chapter 12 on the default
    data only)."""
    out = {}
    for chapter, runs in book_runs.runs.items():
        claims = chapter_claims(chapter, runs, book_runs.settings)
        out[chapter] = (claims, judge(claims, "val"), judge(claims, "test"))
    return out


# ---------------------------------------------------------------------------------------------------------
# The closing chapter's count: each comparison once, split by whether its row has the paper's phenomenon

#: `phenomenon`'s four answers: who leads in the claim's B row (`who_leads`, the phenomenon's criterion 4), or no
#: joint row to read rho^a from
AUDIO_LEADS, VISION_LEADS, NEITHER_LEADS, NO_JOINT_ROW = (
    "audio leads (tests the paper's claim)",
    "vision leads",
    "neither leads",
    "no joint row to read ρᵃ from",
)


def phenomenon(claim: Claim) -> str:
    """Who leads in the claim's B row (the model without what is tested: plain concatenation, a plug-in model
    without OGM-GE), by the rule of `who_leads` (the phenomenon's criterion 4: audio leads when rho^a, Eq. 9, is
    above 1 over the first epoch of every seed and on at least 90 % of the modulation window's steps; vision
    leads in the mirror case; else neither). Only a row where audio leads tests the paper's claim. Claims whose
    B side is not a joint model's runs (unimodal rows, probes, rho^a itself, the ceiling check) have no such
    row."""
    from .who_leads import AUDIO, VISION, condition

    side = claim.b
    if callable(side) or isinstance(side, dict) or not side or any(r.config.get("modalities") != "av" for r in side):
        return NO_JOINT_ROW
    try:
        leader = condition(side).leader
    except (KeyError, ValueError):
        return NO_JOINT_ROW
    return {AUDIO: AUDIO_LEADS, VISION: VISION_LEADS}.get(leader, NEITHER_LEADS)


def judged_verdicts(book: dict) -> list[tuple[str, Verdict]]:
    """(chapter, verdict) of every claim judged where it stands (each comparison once: a claim another chapter
    judges is left out), under our protocol."""
    return [(ch, v) for ch, (_, val, _) in book.items() for v in val.values() if not v.referred]


def count_table(book: dict):
    """Labels (rows) by `phenomenon` of the claim's row (columns), over every claim judged where it stands."""
    import pandas as pd

    from .stats import LABELS

    vs = judged_verdicts(book)
    cols = (AUDIO_LEADS, VISION_LEADS, NEITHER_LEADS, NO_JOINT_ROW)
    data = {
        label: {c: sum(v.label == label and phenomenon(v.claim) == c for _, v in vs) for c in cols} for label in LABELS
    }
    table = pd.DataFrame.from_dict(data, orient="index")
    table["all"] = table.sum(axis=1)
    table.loc["all"] = table.sum()
    table.index.name = "label"
    return table


def same_comparison(x: Claim, y: Claim, protocol: str = "val") -> bool:
    """Whether two claims compare the same numbers (in either direction): on the seeds they share (two at
    least) their sides hold the same values, and those values tell runs apart: sides that are constant over
    the seeds (every seed at 100 % training accuracy, say) match any other such side, so they are not taken
    for the same comparison."""
    sx, ax, bx = x.pairs(protocol)
    sy, ay, by = y.pairs(protocol)
    shared = sorted(set(sx) & set(sy))
    if len(shared) < 2:
        return False
    pick = lambda seeds, vals: [vals[seeds.index(s)] for s in shared]
    ax, bx, ay, by = pick(sx, ax), pick(sx, bx), pick(sy, ay), pick(sy, by)
    if len(set(ax)) == 1 and len(set(bx)) == 1:
        return False
    return (ax == ay and bx == by) or (ax == by and bx == ay)


def duplicates(book: dict, protocol: str = "val") -> list[tuple[tuple[str, str], tuple[str, str]]]:
    """Every pair of claims of the book that compare the same numbers: ((chapter, key), (chapter, key))."""
    flat = [(ch, c) for ch, (claims, _, _) in book.items() for c in claims]
    out = []
    for i, (ch1, c1) in enumerate(flat):
        for ch2, c2 in flat[i + 1 :]:
            if same_comparison(c1, c2, protocol):
                out.append(((ch1, c1.key), (ch2, c2.key)))
    return out


def imbalance_reading(verdict: Verdict) -> str:
    """Chapter 01's reading of its visual-encoder claim, chosen by the verdict (or naming the chapter that
    judges it)."""
    from .claims import by_label

    return by_label(
        verdict,
        reproduced="On this data the joint model under-trains its visual encoder: the imbalance the paper describes.",
        smaller="On this data the joint model's visual encoder falls short of the one trained alone by less than the "
        "paper's Figure 1 shows, if at all.",
        equivalent="On this data the joint model's visual encoder is as good as the one trained alone, within the "
        "equivalence margin.",
        contradicted="On this data the joint model's visual encoder is better than the one trained alone: the opposite "
        "of the paper's imbalance.",
        inconclusive="On this data we cannot tell whether the joint model under-trains its visual encoder.",
        referred=f"This chapter has {verdict.n} seeds of it; the book's verdict is that of the chapter that judges "
        "it, which has at least as many.",
    )
