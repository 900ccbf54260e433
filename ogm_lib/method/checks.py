"""Checks of the book's notebook parameters, which papermill may hand over as strings.

`papermill -p seeds '[0,1]'` gives the string `"[0,1]"`, `-p seeds 0` the integer 0; a list parameter such
as `alphas` or `batch_sizes` may arrive as a list or as its text. These functions turn every accepted form
into the value the notebook needs, and refuse anything else with the parameter's name, the value, and the
forms it accepts, before any run is trained. (Values that end up in a `RunConfig`, such as an alpha or a
batch size, are checked again there, with the field's range.)

- `seed_list(seeds, name)`: a count n >= 1 -> `[0, ..., n-1]`; a non-empty list of distinct integers >= 0
  (or its text) -> that list. What `book.seed_list` accepts today, minus what fails later (0 seeds, an
  empty list, 1.5, a negative seed, a duplicate that would pair a run with itself).
- `number_list(value, name, kind, low, ...)`: a non-empty list of numbers (or its text, or one number) in
  a range.
- `number(value, name, kind, low, ...)`: one number (or its text) in a range.
- `workers(value)`: None (the default count) or a count of processes >= 1 (or its text): `-p workers two`
  is refused here, in one line, instead of a TypeError inside the grid runner.
- `folder(value, name)`: None or a path (a string or a `PathLike`); a number or a list is refused.
"""

from __future__ import annotations

import ast
import math
import numbers
import os
from typing import Any

from .config import describe_range


def _parse(value: Any, name: str, expected: str) -> Any:
    """A papermill string as the Python literal it spells (`"[0, 1]"` -> `[0, 1]`)."""
    if not isinstance(value, str):
        return value
    try:
        return ast.literal_eval(value.strip())
    except (ValueError, SyntaxError):
        raise ValueError(f"parameter {name} = {value!r} is not {expected}") from None


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def seed_list(seeds: Any, name: str = "seeds") -> list[int]:
    """The seeds a row runs over: a count n >= 1 gives `[0, ..., n-1]`; a non-empty list (or tuple, or
    its text, as papermill passes `-p seeds '[0,1]'`) of distinct integers >= 0 gives itself."""
    expected = "a count >= 1 (e.g. 5) or a non-empty list of distinct integers >= 0 (e.g. [0, 1, 2])"
    value = _parse(seeds, name, expected)
    if _is_int(value):
        if value < 1:
            raise ValueError(f"parameter {name} = {seeds!r} asks for no seed; expected {expected}")
        return list(range(int(value)))
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError(f"parameter {name} = {seeds!r} is not {expected}")
    bad = [s for s in value if not _is_int(s) or s < 0]
    if bad:
        raise ValueError(f"parameter {name} = {seeds!r}: {bad[0]!r} is not an integer >= 0; expected {expected}")
    if len(set(value)) != len(value):
        dup = next(s for s in value if list(value).count(s) > 1)
        raise ValueError(
            f"parameter {name} = {seeds!r} repeats seed {dup} (a run would be paired with itself); expected {expected}"
        )
    return [int(s) for s in value]


def number(
    value: Any,
    name: str,
    kind: type = float,
    low=None,
    high=None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> Any:
    """One number parameter (or its text): of `kind` (`int`: integers only), finite, in the range."""
    rng = describe_range(name, low, high, low_inclusive, high_inclusive)
    expected = f"{'an integer' if kind is int else 'a number'} with {rng}"
    v = _parse(value, name, expected)
    ok = _is_int(v) if kind is int else isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
    if not ok:
        raise ValueError(f"parameter {name} = {value!r} is not {expected}")
    if (low is not None and (v < low or (v == low and not low_inclusive))) or (
        high is not None and (v > high or (v == high and not high_inclusive))
    ):
        raise ValueError(f"parameter {name} = {value!r} is out of range; expected {rng}")
    return int(v) if kind is int else v


def number_list(
    value: Any,
    name: str,
    kind: type = float,
    low=None,
    high=None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
    allow_single: bool = True,
) -> list:
    """A non-empty list parameter of numbers (or its text, e.g. papermill's `-p alphas '[0.3, 0.8]'`; or one
    number, taken as a list of one when `allow_single`), each checked as `number`."""
    rng = describe_range("x", low, high, low_inclusive, high_inclusive)
    expected = f"a non-empty list of {'integers' if kind is int else 'numbers'} x with {rng} (e.g. [1, 2])"
    v = _parse(value, name, expected)
    if allow_single and not isinstance(v, (list, tuple)):
        v = [v]
    if not isinstance(v, (list, tuple)) or not v:
        raise ValueError(f"parameter {name} = {value!r} is not {expected}")
    out = []
    for item in v:
        try:
            out.append(number(item, name, kind, low, high, low_inclusive, high_inclusive))
        except ValueError:
            what = "an integer" if kind is int else "a number"
            raise ValueError(
                f"parameter {name} = {value!r}: {item!r} is not {what} with {rng}; expected {expected}"
            ) from None
    return out


def workers(value: Any, name: str = "workers") -> int | None:
    """None (one process per core, `grid.default_workers`) or a number of processes >= 1 (or its text)."""
    if value is None or (isinstance(value, str) and value.strip() in ("None", "")):
        return None
    return number(value, name, int, low=1)


def folder(value: Any, name: str) -> str | os.PathLike | None:
    """None (the default folder) or a path: a non-empty string or a `PathLike`."""
    if value is None or isinstance(value, os.PathLike) or (isinstance(value, str) and value.strip()):
        return value
    raise ValueError(f"parameter {name} = {value!r} is not a folder path (a string such as 'results-retrain') or None")
