"""The book's one table style: any DataFrame as a compact HTML table that fits the text column, never cut.

pandas' own HTML (`DataFrame._repr_html_`) cuts long cells at `display.max_colwidth` characters ("..."),
shows 10 of 62 rows past `display.max_rows`, adds an empty header row for the index name and lets a wide
table run out of the page. `html_table` instead writes every row and every character; the table takes the
column's width (`table-layout: fixed; width: 100%`) and long text wraps inside its cell, so a table is never
wider than the page at 1280 px. Missing values show as "—", never "NaN".

`verdict_view` is the compact layout of a verdict table (`claims.verdict_table`): claim | the paper's effect |
ours with its interval | verdict, the verdict colour-coded by its label; every other column (seeds, MDE,
adjusted p-values, the opposite test, the paper protocol's verdict, re-runs, ...) goes in a collapsible
"details" part. Columns are found by name (`VERDICT_COLUMNS`), so a verdict table with more or renamed columns
still lays out, and unknown columns land in the details. A MultiIndex's first level (chapter 10's chapters)
becomes group rows.

`install()` makes this the HTML of every DataFrame a notebook displays (an IPython formatter), so chapters need
no call of their own; a verdict table is recognised by its columns and shown as `verdict_view`.
"""

from __future__ import annotations

import html
import math
import re
from typing import Iterable, Sequence

MISSING = "—"
#: a role -> the patterns (lower case, tried in order) of the column names that fill it
VERDICT_COLUMNS = {
    "verdict": (r"^verdict$",),
    "ours": (r"^ours\b",),
    "paper": (r"^paper: a − b$", r"^paper\b.*a − b", r"^paper's effect"),
}
#: label -> (background, text colour); labels not listed are grey. Light tints so black text stays readable.
LABEL_COLORS = {
    "reproduced": ("#d8f0d8", "#14501a"),
    "smaller than the paper's": ("#fdf0c8", "#6a4a00"),
    "equivalent to no effect": ("#e4e4f4", "#30306a"),
    "contradicted": ("#f8d6d4", "#7a1410"),
    "inconclusive": ("#ececec", "#333333"),
}
CSS_CLASS = "ogm-table"
#: the style, written once per table (a page may show one table alone); no external resource
CSS = f"""<style>
table.{CSS_CLASS} {{table-layout: fixed; width: 100%; max-width: 100%; border-collapse: collapse;
  font-size: 0.82em; line-height: 1.3; margin: 0.3em 0 0.8em 0;}}
table.{CSS_CLASS} th, table.{CSS_CLASS} td {{overflow-wrap: anywhere; hyphens: auto; word-break: normal; white-space: normal;
  padding: 0.25em 0.35em; border-bottom: 1px solid #ddd; vertical-align: top; text-align: left;}}
table.{CSS_CLASS} thead th {{border-bottom: 2px solid #999; font-weight: 600;}}
table.{CSS_CLASS} td.num {{text-align: right; font-variant-numeric: tabular-nums;}}
table.{CSS_CLASS} tr.group th {{background: #f3f3f3; font-weight: 600; border-top: 1px solid #bbb;}}
table.{CSS_CLASS} span.label {{display: inline-block; padding: 0 0.35em; border-radius: 0.3em;}}
details.{CSS_CLASS}-details > summary {{cursor: pointer; font-size: 0.85em; color: #555;}}
div.{CSS_CLASS}-wrap {{max-width: 100%; overflow-x: hidden;}}
</style>"""  # noqa: E501 (the style block stays as the committed pages hold it)


class HTMLTable:
    """An HTML fragment with `_repr_html_` (what a notebook displays), `text/plain` for nbval and terminals."""

    def __init__(self, body: str, plain: str = "") -> None:
        self.body, self.plain = body, plain

    def _repr_html_(self) -> str:
        return self.body

    def __repr__(self) -> str:
        return self.plain or "<table>"

    def __str__(self) -> str:
        return self.body


def cell_text(value, digits: int | None = None) -> str:
    """A cell as text: missing (None, NaN) -> '—'; floats shown as pandas shows them, integral ones without '.0'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    try:
        import pandas as pd

        if pd.isna(value) is True:
            return MISSING
    except (TypeError, ValueError, ImportError):
        pass
    if isinstance(value, float):
        if digits is not None:
            return f"{value:.{digits}f}"
        return f"{value:g}" if abs(value) >= 1e-4 or value == 0 else f"{value:.3g}"
    return str(value)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _label_span(label: str) -> str:
    bg, fg = LABEL_COLORS.get(str(label), ("#ececec", "#333333"))
    return (
        f'<span class="label" style="background:{bg};color:{fg}" data-label="{html.escape(str(label))}">'
        f"{html.escape(str(label))}</span>"
    )


def _index_names(df) -> list[str]:
    return [str(n) if n is not None else "" for n in df.index.names]


def _flat(col) -> str:
    return " · ".join(str(c) for c in col if str(c)) if isinstance(col, tuple) else str(col)


def _rows_html(
    df, columns: Sequence, label_columns: Iterable = (), group: bool = True, widths: dict | None = None
) -> str:
    """<table> of `df[columns]`, the index as the first column(s); with `group` and a MultiIndex, the first
    level becomes one group row per value."""
    import pandas as pd

    label_columns = set(label_columns)
    multi = isinstance(df.index, pd.MultiIndex)
    grouped = group and multi
    names = _index_names(df)
    index_heads = names[1:] if grouped else names
    index_heads = [n or "" for n in index_heads]
    heads = index_heads + [_flat(c) for c in columns]
    widths = widths or {}
    cols = "".join(f'<col style="width:{widths[h]}"/>' if h in widths else "<col/>" for h in heads)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in heads)
    out = [f'<table class="{CSS_CLASS}"><colgroup>{cols}</colgroup><thead><tr>{head}</tr></thead><tbody>']
    last_group = object()
    for key, row in zip(df.index, df[list(columns)].itertuples(index=False, name=None)):
        parts = list(key) if multi else [key]
        if grouped:
            if parts[0] != last_group:
                out.append(f'<tr class="group"><th colspan="{len(heads)}">{html.escape(cell_text(parts[0]))}</th></tr>')
                last_group = parts[0]
            parts = parts[1:]
        cells = [f"<th>{html.escape(cell_text(p))}</th>" for p in parts]
        for col, value in zip(columns, row):
            if col in label_columns:
                cells.append(f"<td>{_label_span(value)}</td>")
            else:
                cls = ' class="num"' if _is_number(value) else ""
                cells.append(f"<td{cls}>{html.escape(cell_text(value))}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _plain(df) -> str:
    import pandas as pd

    with pd.option_context(
        "display.max_rows", None, "display.max_columns", None, "display.max_colwidth", None, "display.width", 200
    ):
        return df.to_string()


def html_table(
    df,
    details: Sequence | None = None,
    summary: str = "more columns",
    caption: str | None = None,
    label_columns: Iterable = (),
) -> HTMLTable:
    """Every row and every character of `df`, wrapped to the page width. `details`: columns shown only in a
    collapsible part below (a second table with the same rows); `label_columns`: columns whose values are
    verdict labels (colour-coded)."""
    df = _as_frame(df)
    details = [c for c in (details or []) if c in df.columns]
    main = [c for c in df.columns if c not in details]
    parts = [CSS, f'<div class="{CSS_CLASS}-wrap">']
    if caption:
        parts.append(f'<p class="{CSS_CLASS}-caption"><strong>{html.escape(caption)}</strong></p>')
    parts.append(_rows_html(df, main, label_columns))
    if details:
        parts.append(
            f'<details class="{CSS_CLASS}-details"><summary>{html.escape(summary)}: '
            f"{html.escape(', '.join(_flat(c) for c in details))}</summary>"
        )
        parts.append(_rows_html(df, details, label_columns))
        parts.append("</details>")
    parts.append("</div>")
    return HTMLTable("".join(parts), _plain(df))


def _as_frame(df):
    import pandas as pd

    if isinstance(df, pd.Series):
        return df.to_frame()
    return df


def find_column(columns: Sequence, role: str) -> object | None:
    """The first column whose lower-cased name matches one of `VERDICT_COLUMNS[role]`, else None."""
    for pattern in VERDICT_COLUMNS[role]:
        for c in columns:
            if re.search(pattern, _flat(c).lower()):
                return c
    return None


def is_verdict_table(df) -> bool:
    """A table with a 'verdict' column and one starting with 'ours' (what `claims.verdict_table` returns)."""
    cols = list(getattr(df, "columns", []))
    return find_column(cols, "verdict") is not None and find_column(cols, "ours") is not None


def verdict_view(df, summary: str = "details") -> HTMLTable:
    """claim | paper's effect | ours with interval | verdict (colour-coded), the other columns collapsible."""
    import pandas as pd

    cols = list(df.columns)
    verdict, ours, paper = (find_column(cols, r) for r in ("verdict", "ours", "paper"))
    if verdict is None or ours is None:
        raise ValueError(f"not a verdict table: no 'verdict' and 'ours ...' columns among {cols}")
    main = [c for c in (paper, ours, verdict) if c is not None]
    rest = [c for c in cols if c not in main]
    view = df[main + rest].rename(columns={paper: "paper's effect", ours: "ours, 95% CI", verdict: "verdict"})
    renamed = {paper: "paper's effect", ours: "ours, 95% CI", verdict: "verdict"}
    main_named = [renamed[c] for c in main]
    label_cols = {"verdict"} | {c for c in rest if _flat(c).lower().startswith("verdict")}
    names = _index_names(df)
    claim_head = names[-1] or "claim"
    grouped = isinstance(df.index, pd.MultiIndex)
    widths = {claim_head: "34%", "paper's effect": "20%", "ours, 95% CI": "26%", "verdict": "20%"}
    body = [
        CSS,
        f'<div class="{CSS_CLASS}-wrap">',
        _rows_html(view, main_named, label_cols, group=grouped, widths=widths),
    ]
    if rest:
        body.append(
            f'<details class="{CSS_CLASS}-details"><summary>{html.escape(summary)}: '
            f"{html.escape(', '.join(_flat(c) for c in rest))}</summary>"
        )
        body.append(_rows_html(view, rest, label_cols, group=grouped))
        body.append("</details>")
    body.append("</div>")
    return HTMLTable("".join(body), _plain(df))


def render(obj) -> HTMLTable:
    """The book's HTML of a DataFrame or Series: `verdict_view` for a verdict table, else `html_table`."""
    obj = _as_frame(obj)
    return verdict_view(obj) if is_verdict_table(obj) else html_table(obj)


def _formatter(obj) -> str:
    return render(obj)._repr_html_()


def install(ip=None) -> bool:
    """Show every DataFrame and Series the notebook displays with `render` (IPython's text/html formatter for
    those types); a no-op outside IPython. Returns whether it was installed."""
    if ip is None:
        try:
            from IPython import get_ipython
        except ImportError:  # pragma: no cover - IPython comes with the notebook stack
            return False
        ip = get_ipython()
    if ip is None:
        return False
    import pandas as pd

    fmt = ip.display_formatter.formatters["text/html"]
    fmt.for_type(pd.DataFrame, _formatter)
    fmt.for_type(pd.Series, _formatter)
    return True


__all__ = [
    "html_table",
    "verdict_view",
    "render",
    "install",
    "is_verdict_table",
    "find_column",
    "cell_text",
    "HTMLTable",
    "LABEL_COLORS",
    "VERDICT_COLUMNS",
    "MISSING",
]
