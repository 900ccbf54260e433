"""The book's environment, pinned: `requirements.lock` (what `make` installs) against pyproject.toml (the ranges).

The lock must pin every package that pyproject.toml names, for the project and for every extra that `dev`
pulls in (itself included: `ogm_lib[data,...]` names the project's own extras), and each pin must lie in the
range pyproject.toml gives it, so that the lock is one point of the space the ranges describe. Every pin
carries sha256 hashes (`pip install --require-hashes` refuses a file that matches none). PyTorch and
torchvision are pinned to the releases the book was run with (2.14.1, 0.29.1). The ruff of the pre-commit
hooks is the lock's ruff, so that `pre-commit` and `scripts/lint.sh` judge alike. `make lock` regenerates
the lock with the command written at its head.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
LOCK_TEXT = (ROOT / "requirements.lock").read_text()
BOOK_RUN_WITH = {"torch": "2.14.1", "torchvision": "0.29.1"}

# one entry: `name==version \` then one `--hash=sha256:...` per line (continued by backslashes)
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)((?:[ \t]*\\\n[ \t]*--hash=sha256:[0-9a-f]{64})*)", re.M)


def lock_pins(text: str) -> dict[str, tuple[Version, list[str]]]:
    """{canonical name: (pinned version, its sha256 hashes)} of a lock file written by `uv pip compile`."""
    pins = {}
    for name, version, hashes in PIN.findall(text):
        pins[canonicalize_name(name)] = (Version(version), re.findall(r"sha256:([0-9a-f]{64})", hashes))
    return pins


def requirements_of(project: dict, extras: list[str]) -> list[Requirement]:
    """The project's dependencies and those of `extras`, a self-reference (`ogm_lib[a,b]`) expanded into the
    extras it names, each extra read once."""
    own = canonicalize_name(project["name"])
    found = [Requirement(r) for r in project["dependencies"]]
    todo, seen = list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for text in project["optional-dependencies"][extra]:
            req = Requirement(text)
            if canonicalize_name(req.name) == own:
                todo.extend(req.extras)
            else:
                found.append(req)
    return found


PINS = lock_pins(LOCK_TEXT)
NAMED = requirements_of(PROJECT, ["dev"])


def test_the_lock_reads_as_pins_with_hashes():
    # every `name==` line of the lock was read, and each has hashes
    assert len(PINS) == len(re.findall(r"^[A-Za-z0-9][A-Za-z0-9._-]*==", LOCK_TEXT, re.M)) > 50
    assert all(hashes for _, hashes in PINS.values()), [n for n, (_, h) in PINS.items() if not h]
    assert not re.search(r"^-e |^\.|^file:", LOCK_TEXT, re.M), "the lock holds no local or editable entry"


def test_dev_names_every_extra():
    # the lock is made with `--extra dev`: dev must reach every other extra, or the lock would miss one
    reached = {canonicalize_name(r.name) for r in NAMED}
    for extra, reqs in PROJECT["optional-dependencies"].items():
        names = {canonicalize_name(Requirement(r).name) for r in reqs} - {canonicalize_name(PROJECT["name"])}
        assert names <= reached, f"extra {extra!r}: {sorted(names - reached)} not in dev"


@pytest.mark.parametrize("req", NAMED, ids=str)
def test_each_named_package_is_pinned_inside_its_range(req):
    name = canonicalize_name(req.name)
    assert name in PINS, f"{req.name} is named in pyproject.toml but not pinned in requirements.lock"
    version, _ = PINS[name]
    assert req.specifier.contains(version, prereleases=True), f"{name}=={version} is outside {req}"


def test_torch_and_torchvision_are_the_books():
    for name, version in BOOK_RUN_WITH.items():
        assert PINS[name][0] == Version(version), f"{name}=={PINS[name][0]}, the book ran with {version}"


def test_the_pre_commit_ruff_is_the_locks():
    config = (ROOT / ".pre-commit-config.yaml").read_text()
    hook_pins = set(re.findall(r'"ruff==([^"]+)"', config))
    assert hook_pins == {str(PINS["ruff"][0])}, f"pre-commit's ruff {hook_pins}, the lock's {PINS['ruff'][0]}"
    assert f"v{PINS['ruff'][0]}" in config  # the ruff-pre-commit rev the comment names


def test_make_lock_runs_the_command_the_lock_was_made_with():
    made_with = re.search(r"^#\s+uv (pip compile .*)$", LOCK_TEXT, re.M).group(1).split()
    recipe = re.search(r"^lock:.*\n\t\$\(UV\) (pip compile .*)$", (ROOT / "Makefile").read_text(), re.M)
    assert recipe and recipe.group(1).split() == made_with
