"""Where the project keeps data and results by default, whatever the working directory.

Notebooks run with `notebooks/` as their working directory and the CLI from anywhere; both must find the
same `data/` and `results/`. The project root is the checkout this package was installed from (an
editable install); outside a checkout it is the working directory. `$OGM_DATA_DIR` and
`$OGM_RESULTS_DIR` override both.
"""
from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path | None:
    """The checkout holding this package (pyproject.toml beside ogm_lib/), or None if installed elsewhere."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() and (root / "ogm_lib").is_dir() else None


def project_dir() -> Path:
    return repo_root() or Path.cwd()


def default_results_dir() -> Path:
    """`$OGM_RESULTS_DIR` if set, else `<project>/results`."""
    env = os.environ.get("OGM_RESULTS_DIR")
    return Path(env).expanduser() if env else project_dir() / "results"
