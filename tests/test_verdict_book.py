"""The book's verdicts as a whole, on the committed runs: each comparison has one verdict (the other chapters
refer to it), chapter 10 counts each once, primary claims stand alone; and every glued sentence of every
chapter is made by the library, not typed into the notebook."""

import ast
import json
from pathlib import Path

import pytest

from ogm_lib.report import chapters, stats
from ogm_lib.report import claims as cl

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def book():
    from ogm_lib.recipe import verdict_runs

    return chapters.book_claims(verdict_runs.train(results_dir=ROOT / "results"))


def test_each_comparison_is_judged_once_by_the_chapter_with_most_seeds(book):
    claims = {(ch, c.key): c for ch, (cs, _, _) in book.items() for c in cs}
    verdicts = {(ch, k): v for ch, (_, val, _) in book.items() for k, v in val.items()}
    groups: list[set] = []
    for x, y in chapters.duplicates(book):
        g = next((g for g in groups if x in g or y in g), None)
        g = groups.append({x, y}) or groups[-1] if g is None else g
        g.update({x, y})
    assert groups, "the book has comparisons in several chapters (the headline pair at least)"
    for g in groups:
        judges = [k for k in g if claims[k].judged_in is None]
        assert len(judges) == 1, f"{sorted(g)} is judged {len(judges)} times"
        judge = judges[0]
        for k in g - {judge}:
            assert claims[k].judged_in == judge, f"{k} refers to {claims[k].judged_in}, not {judge}"
            assert verdicts[judge].n >= verdicts[k].n
    # every reference names a claim of the book that is the same comparison
    for c in claims.values():
        if c.judged_in is not None:
            assert c.judged_in in claims and chapters.same_comparison(c, claims[c.judged_in])


def test_chapter_10_counts_each_comparison_once_split_by_phenomenon(book):
    judged = chapters.judged_verdicts(book)
    table = chapters.count_table(book)
    assert table.loc["all", "all"] == len(judged)
    assert list(table.index[:-1]) == list(stats.LABELS)
    keys = {(ch, v.claim.key) for ch, v in judged}
    assert not [p for p in chapters.duplicates(book) if p[0] in keys and p[1] in keys]
    # the rows where vision or neither leads are counted apart from the rows with the paper's phenomenon
    cols = (chapters.AUDIO_LEADS, chapters.VISION_LEADS, chapters.NEITHER_LEADS, chapters.NO_JOINT_ROW)
    assert list(table.columns) == [*cols, "all"]
    assert sum(table.loc["all", c] for c in cols) == len(judged)
    # Table 3's video models: vision leads in their baselines (chapter 13), so their claims are not counted as tests
    t3 = [v for ch, v in judged if ch == "13_table3" and v.claim.key != "reference_ge"]
    assert t3 and {chapters.phenomenon(v.claim) for v in t3} <= {chapters.VISION_LEADS, chapters.NEITHER_LEADS}


def test_primary_claims_are_alone_at_the_full_alpha_and_families_are_known(book):
    for ch, (cs, val, _) in book.items():
        for c in cs:
            assert c.family in stats.FAMILIES, (ch, c.key)
            v = val[c.key]
            if c.family == stats.PRIMARY and not v.referred:
                assert v.judgement.family_size == 1 and v.judgement.level == stats.ALPHA


def test_equivalence_margin_is_the_smallest_cremad_rerun_gain():
    from ogm_lib.ground.ledger import load_ledger

    gains = [
        e["ogm_ge"] - e["baseline"]
        for e in load_ledger()["entries"]
        if e["dataset"] == "CREMA-D" and e["cite"] != "peng2022balanced" and e["fusion"] in ("concat", "not stated")
    ]
    assert cl.EQUIVALENCE_MARGIN == pytest.approx(min(gains))
    assert f"{cl.EQUIVALENCE_MARGIN:g}" in (ROOT / "book" / "judging_claims.md").read_text()


# ------------------------------------------------------------------------ glued sentences come from the library


def _library_names(tree: ast.Module) -> set[str]:
    """Names a notebook binds from ogm_lib (modules, aliases, functions) by its imports."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ogm_lib"):
            names |= {a.asname or a.name for a in node.names}
        elif isinstance(node, ast.Import):
            names |= {a.asname or a.name.split(".")[0] for a in node.names if a.name.startswith("ogm_lib")}
    return names


def _prose(node: ast.AST) -> list[str]:
    """The words typed into a glued value: string literals (and f-string text) with letters, except where they
    are a key or an argument (s[f"acc_{k}"], f(x, "test")); the sentences passed to `by_label` count as typed."""
    out = []
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value] if any(ch.isalpha() for ch in node.value) else []
    if isinstance(node, ast.JoinedStr):
        out += [v.value for v in node.values if isinstance(v, ast.Constant) and any(ch.isalpha() for ch in v.value)]
        return out + [w for v in node.values if isinstance(v, ast.FormattedValue) for w in _prose(v.value)]
    if isinstance(node, ast.Subscript):
        return _prose(node.value)
    if isinstance(node, ast.Call):
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        inner = _prose(node.func.value) if isinstance(node.func, ast.Attribute) else []
        if name == "by_label":
            inner += [w for a in [*node.args, *(k.value for k in node.keywords)] for w in _prose_any(a)]
        return inner
    for child in ast.iter_child_nodes(node):
        out += _prose(child)
    return out


def _prose_any(node: ast.AST) -> list[str]:
    return [
        n.value
        for n in ast.walk(node)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and any(ch.isalpha() for ch in n.value)
    ]


def _from_library(node: ast.AST, lib: set[str]) -> bool:
    """A glued value is made by the library: no words typed into it (`_prose`)."""
    return not _prose(node)


NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_glued_sentences_are_made_by_the_library(path):
    nb = json.loads(path.read_text())
    src = "\n".join(
        "".join(c["source"])
        for c in nb["cells"]
        if c["cell_type"] == "code" and "injected-parameters" not in c.get("metadata", {}).get("tags", [])
    )
    tree = ast.parse(src)
    lib = _library_names(tree)
    bad = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name == "glue" and len(node.args) >= 2:
            values = [node.args[1]]
        elif name == "glue_texts" and node.args and isinstance(node.args[0], ast.Dict):
            values = node.args[0].values
        elif isinstance(node.func, ast.Subscript) or name not in ("glue", "glue_texts"):
            continue
        else:
            values = []
        bad += [ast.unparse(v)[:80] for v in values if not _from_library(v, lib)]
        # a dict filled cell by cell (texts[...] = ...) is checked where it is filled
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.targets[0], ast.Subscript)
            and isinstance(node.targets[0].value, ast.Name)
            and node.targets[0].value.id == "texts"
        ):
            if not _from_library(node.value, lib):
                bad.append(ast.unparse(node.value)[:80])
    assert not bad, f"{path.name}: glued values typed in the notebook: {bad}"


def test_same_comparison_needs_values_that_tell_runs_apart():
    """Two claims on different runs whose sides are constant over the seeds (saturated training accuracy, say)
    hold equal numbers without being one comparison; two claims on the same varying numbers are."""
    from ogm_lib.report.claims import Claim

    flat = {0: 1.0, 1: 1.0, 2: 1.0}
    assert not chapters.same_comparison(Claim("x", "x", flat, dict(flat)), Claim("y", "y", dict(flat), dict(flat)))
    a, b = {0: 0.5, 1: 0.6, 2: 0.7}, {0: 0.4, 1: 0.4, 2: 0.5}
    assert chapters.same_comparison(Claim("x", "x", a, b), Claim("y", "y", dict(b), dict(a)))
    assert not chapters.same_comparison(Claim("x", "x", a, b), Claim("y", "y", a, {0: 0.4, 1: 0.4, 2: 0.6}))
