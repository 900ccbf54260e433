"""What data a run reads, as a hash in its cache key (`RunConfig.data_fingerprint`), and where it is filled in.

A result is named by the hash of its config (`config.config_key`); `data_dir` is left out of it (the same
data may live anywhere), so the data itself must be in it, or a store completed, repaired with other
content or replaced would silently answer with the result of the old data.

A `RunConfig` is data: making one reads no file. So the fingerprint comes from one of two places:

- **from the code, while the config is made** (`builtin_fingerprint`), for data whose inputs the code pins:
  - **avdigits**: the FSDD checksum list (every recording is verified against it before use) and the
    preprocessing version; the fingerprint hashes the list's SHA-256, which the catalogue pins
    (`FSDD_CHECKSUMS_SHA256`: the list is refused where it is read if it no longer has it), and the version
    (`AVDIGITS_PREPROCESS_VERSION`). Its value for today's inputs is `PINNED_FINGERPRINTS["avdigits"]`,
    which the key leaves out, so the book's committed runs keep the keys they were committed under; change
    the inputs and the fingerprint changes and enters every key.
  - **synthetic**: None: the data is generated from the config alone.
- **from the store, where the data is opened** (`fingerprinted`), for a prepared store (cremad, ksounds,
  vggsound, ave): the manifest's `store_fingerprint`, a hash of every file's SHA-256 and of the preparation
  parameters (`store.py`); other bytes, another fingerprint, another key. The config is made with None,
  and `fingerprinted(config)` returns it with the store's fingerprint; the places that open data or look a
  result up call it (`prepared.load_prepared`, `train.fit` and `Trainer`, `results.result_path`,
  `grid.run_grid`, the executors), and `RunConfig.key()` refuses a store's config that is not filled in
  (the reason is in its docstring). A filled-in config keeps its fingerprint: if the store is prepared
  again later, the loader refuses it (`prepared._check_fingerprint`) rather than file a result of the new
  data under the old data's key.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from ...ground.catalogue import AVDIGITS_PREPROCESS_VERSION, FSDD_CHECKSUMS_SHA256, PREPARED_DATASETS
from ..paths import dataset_dir

if TYPE_CHECKING:  # annotations only: the config names this module, not the other way
    from ..config import RunConfig


def builtin_fingerprint(dataset: str) -> str | None:
    """The fingerprint of `dataset` known from the code alone (no file read): avdigits' (`avdigits_fingerprint`),
    else None (synthetic: none; a prepared store: not known until its manifest is read, `fingerprinted`)."""
    return avdigits_fingerprint() if dataset == "avdigits" else None


def avdigits_fingerprint() -> str:
    """16 hex digits over the pinned FSDD checksum list (by its SHA-256) and the avdigits preprocessing version."""
    content = {"fsdd_sha256": FSDD_CHECKSUMS_SHA256, "preprocess_version": AVDIGITS_PREPROCESS_VERSION}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]


def needs_fingerprint(config: "RunConfig") -> bool:
    """Whether `config` reads a prepared store whose fingerprint is not filled in yet."""
    return config.dataset in PREPARED_DATASETS and config.data_fingerprint is None


def fingerprinted(config: "RunConfig") -> "RunConfig":
    """`config` with its data fingerprint filled in: a prepared store's, read from the store's manifest (at
    `data_dir`, default `paths.dataset_dir`); any other config as it is. Raises FileNotFoundError, naming the
    command that prepares the store, when there is no store: a run of data that does not exist has no name."""
    if not needs_fingerprint(config):
        return config
    return config.replace(data_fingerprint=store_fingerprint(config.dataset, config.data_dir))


def store_fingerprint(dataset: str, data_dir: str | os.PathLike | None = None) -> str:
    """The fingerprint of the prepared store of `dataset` at `data_dir` (default: its folder): the manifest's
    `store_fingerprint`."""
    root = Path(data_dir) if data_dir else dataset_dir(dataset)
    manifest = root / "manifest.json"
    try:
        st = manifest.stat()
    except OSError:
        from .store import missing_store

        raise missing_store(dataset, root) from None
    return _store_fingerprint(str(manifest.resolve()), st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=64)
def _store_fingerprint(path: str, mtime_ns: int, size: int) -> str:
    """The manifest's `store_fingerprint` (cached while the file is unchanged); a manifest without one (a
    store from before stores were checked, or not JSON) is named by the hash of its bytes, and the loader
    then says what is wrong with it."""
    data = Path(path).read_bytes()
    try:
        value = json.loads(data).get("store_fingerprint")
    except (ValueError, AttributeError, UnicodeDecodeError):
        value = None
    return value if isinstance(value, str) else "manifest-" + hashlib.sha256(data).hexdigest()[:16]
