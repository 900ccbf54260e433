"""Where the project keeps data and results by default, whatever the working directory.

Notebooks run with `notebooks/` as their working directory, the CLI and the data scripts from anywhere;
all must find the same `data/` and `results/`. The project root is the checkout this package was
installed from (an editable install); outside a checkout it is the working directory. `$OGM_DATA_DIR`
and `$OGM_RESULTS_DIR` override both.

`dataset_dir(name)` is the one resolver of a dataset's folder: the default data (`avdigits`, fetched by
`data_scripts/fetch_fsdd.py`), every prepared store (`data_scripts/prepare_<name>.py` writes there by
default, `RunConfig.data_dir = None` reads there) and the data checker all call it, so a store prepared
from the repository root is the store a notebook finds from `notebooks/`.
"""

from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path | None:
    """The checkout holding this package (pyproject.toml beside ogm_lib/), or None if installed elsewhere."""
    root = Path(__file__).resolve().parents[2]  # ogm_lib/method/paths.py
    return root if (root / "pyproject.toml").is_file() and (root / "ogm_lib").is_dir() else None


def project_dir() -> Path:
    return repo_root() or Path.cwd()


def data_root() -> Path:
    """`$OGM_DATA_DIR` if set, else `<project>/data`: the folder that holds one folder per dataset."""
    env = os.environ.get("OGM_DATA_DIR")
    return Path(env).expanduser() if env else project_dir() / "data"


def dataset_dir(name: str) -> Path:
    """The default folder of dataset `name`: `data_root() / name`."""
    return data_root() / name


def default_results_dir() -> Path:
    """`$OGM_RESULTS_DIR` if set, else `<project>/results`."""
    env = os.environ.get("OGM_RESULTS_DIR")
    return Path(env).expanduser() if env else project_dir() / "results"
