"""The ledger: published OGM-GE numbers, as data with their sources (`ledger.json`, beside this module).

Each entry quotes one published pair of accuracies (%) for one source, dataset and fusion: `baseline`
(the model without OGM-GE) and `ogm_ge` (with it), and a `setting` saying how they were obtained (frames,
audio, optimiser, alpha, epochs, how the reported epoch was selected, seeds, notes), with "not stated"
wherever the source does not say. The numbers are quoted, never computed; this module only loads them,
checks them and lays them out:

- `load_ledger(path)`   the json, validated (a malformed ledger raises ValueError naming the entry);
- `ledger_table(...)`   one row per entry, without / with OGM-GE and the gain in points;
- `ledger_gains(...)`   {source: gain in points}, e.g. for forest plots or a claim's "re-runs" column.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

#: the ledger shipped with the book, beside this module
LEDGER_PATH = Path(__file__).with_name("ledger.json")

#: keys every entry must have, and keys its "setting" object must have
ENTRY_KEYS = ("id", "source", "cite", "url", "dataset", "fusion", "metric", "baseline", "ogm_ge", "setting")
SETTING_KEYS = ("frames", "audio", "optimizer", "alpha", "epochs", "selection", "seeds", "notes")
#: the datasets an entry may name (those of the paper, plus AVE)
DATASETS = ("CREMA-D", "Kinetics-Sounds", "VGGSound", "AVE")
#: the columns of `ledger_table`, in order
TABLE_COLUMNS = ["dataset", "fusion", "without OGM-GE", "with OGM-GE", "gain (points)", "selection", "seeds", "notes"]


def _is_number(x) -> bool:
    """A JSON number (int or float), not a bool (which Python counts as an int)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _check_entry(i: int, e) -> None:
    """Raise ValueError if entry number `i` is malformed; the message names the entry (its id if any)."""
    name = f"entry {i}" + (f" ({e['id']!r})" if isinstance(e, dict) and "id" in e else "")
    if not isinstance(e, dict):
        raise ValueError(f"ledger {name}: not an object")
    missing = [k for k in ENTRY_KEYS if k not in e]
    if missing:
        raise ValueError(f"ledger {name}: missing key(s) {missing}")
    for k in ("id", "source", "cite", "url", "fusion", "metric"):
        if not isinstance(e[k], str) or not e[k].strip():
            raise ValueError(f"ledger {name}: {k!r} must be a non-empty string")
    if e["dataset"] not in DATASETS:
        raise ValueError(f"ledger {name}: dataset {e['dataset']!r} is not one of {DATASETS}")
    for k in ("baseline", "ogm_ge"):
        v = e[k]
        if not _is_number(v) or not math.isfinite(v) or not 0.0 <= v <= 100.0:
            raise ValueError(f"ledger {name}: {k!r} must be a finite number in [0, 100], got {v!r}")
    s = e["setting"]
    if not isinstance(s, dict):
        raise ValueError(f"ledger {name}: 'setting' must be an object")
    missing = [k for k in SETTING_KEYS if k not in s]
    if missing:
        raise ValueError(f"ledger {name}: setting is missing key(s) {missing}")


def load_ledger(path=LEDGER_PATH) -> dict:
    """Read the ledger json and validate it.

    Checks: "version" is an int; "entries" is a list; every entry has the keys of `ENTRY_KEYS` (and its
    "setting" those of `SETTING_KEYS`), a known dataset, and baseline / ogm_ge finite numbers in [0, 100];
    ids are unique. Raises ValueError naming the offending entry. baseline and ogm_ge come back as floats.
    """
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict):
        raise ValueError(f"ledger {path}: the top level must be an object")
    if not isinstance(data.get("version"), int) or isinstance(data.get("version"), bool):
        raise ValueError(f"ledger {path}: 'version' must be an int, got {data.get('version')!r}")
    entries = data.get("entries")
    if not isinstance(entries, list):
        raise ValueError(f"ledger {path}: 'entries' must be a list")
    seen = set()
    for i, e in enumerate(entries):
        _check_entry(i, e)
        if e["id"] in seen:
            raise ValueError(f"ledger entry {i} ({e['id']!r}): duplicate id")
        seen.add(e["id"])
        e["baseline"], e["ogm_ge"] = float(e["baseline"]), float(e["ogm_ge"])
    return data


def _select(entries, dataset=None, fusion=None) -> list:
    """The entries of `dataset` and / or `fusion` (None: any), in file order."""
    if dataset is not None and dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; the ledger knows {DATASETS}")
    return [
        e for e in entries if (dataset is None or e["dataset"] == dataset) and (fusion is None or e["fusion"] == fusion)
    ]


def _gain(e) -> float:
    """ogm_ge - baseline in points, rounded to 2 decimals (61.9 - 51.7 gives 10.2, not 10.199999...)."""
    return round(e["ogm_ge"] - e["baseline"], 2)


def ledger_table(dataset=None, fusion=None, path=LEDGER_PATH) -> pd.DataFrame:
    """One row per ledger entry (index: its source), filtered by dataset and / or fusion when given.

    Columns: dataset, fusion, "without OGM-GE", "with OGM-GE", "gain (points)" (with - without, rounded to
    2 decimals), selection, seeds, notes. A source that reports several datasets or fusions has one row
    each, so the index can repeat; read the dataset and fusion columns alongside it.
    """
    rows = [
        {
            "source": e["source"],
            "dataset": e["dataset"],
            "fusion": e["fusion"],
            "without OGM-GE": e["baseline"],
            "with OGM-GE": e["ogm_ge"],
            "gain (points)": _gain(e),
            "selection": e["setting"]["selection"],
            "seeds": e["setting"]["seeds"],
            "notes": e["setting"]["notes"],
        }
        for e in _select(load_ledger(path)["entries"], dataset, fusion)
    ]
    return pd.DataFrame(rows, columns=["source"] + TABLE_COLUMNS).set_index("source")


def ledger_gains(dataset=None, fusion="concat", path=LEDGER_PATH) -> dict[str, float]:
    """{source: ogm_ge - baseline in points} for the entries of `dataset` (None: all) and `fusion`
    (default concatenation, the paper's main backbone; None: all), in file order, for forest plots.

    A source that appears more than once in the selection (e.g. one table covering two datasets) gets
    its rows told apart by a suffix " [dataset]", or " [dataset, fusion]" if that is not enough.
    """
    chosen = _select(load_ledger(path)["entries"], dataset, fusion)
    sources = np.array([e["source"] for e in chosen], dtype=object)
    gains = {}
    for e in chosen:
        label = e["source"]
        if np.sum(sources == label) > 1:
            same = [c for c in chosen if c["source"] == label and c["dataset"] == e["dataset"]]
            label += f" [{e['dataset']}]" if len(same) == 1 else f" [{e['dataset']}, {e['fusion']}]"
        gains[label] = _gain(e)
    return gains


__all__ = ["LEDGER_PATH", "DATASETS", "load_ledger", "ledger_table", "ledger_gains"]
