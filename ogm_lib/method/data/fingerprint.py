"""What data a run reads, as a hash in its cache key (`RunConfig.data_fingerprint`).

A result is named by the hash of its config (`config.config_key`); `data_dir` is left out of it (the same
data may live anywhere), so the data itself must be in it, or a store completed, repaired with other
content or replaced would silently answer with the result of the old data. `RunConfig` fills
`data_fingerprint` in when it is made (`data_fingerprint` below):

- **prepared store** (cremad, ksounds, vggsound, ave): the manifest's `store_fingerprint`, a hash of every
  file's SHA-256 and of the preparation parameters (`store.py`); other bytes, another fingerprint, another
  key. No store yet: None, and such a config cannot train (`prepared.load_prepared` says how to make the
  store, or that the config was made before its store and must be made again).
- **avdigits**: its inputs are pinned, not prepared: the FSDD checksum list (every recording is verified
  against it before use) and the preprocessing version (`avdigits.PREPROCESS_VERSION`); the fingerprint
  hashes both. Its value for today's inputs is `config.PINNED_FINGERPRINTS["avdigits"]`, which the key
  leaves out, so the book's committed runs keep the keys they were committed under; change the inputs and
  the fingerprint changes and enters every key.
- **synthetic**: None: the data is generated from the config alone.
"""
from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path

from ...ground.catalogue import AVDIGITS_PREPROCESS_VERSION, PREPARED_DATASETS
from ..paths import dataset_dir


def data_fingerprint(dataset: str, data_dir: str | os.PathLike | None = None) -> str | None:
    """The fingerprint of the data `dataset` reads from `data_dir` (default: its folder, `paths.dataset_dir`)."""
    if dataset == "avdigits":
        return avdigits_fingerprint()
    if dataset in PREPARED_DATASETS:
        manifest = Path(data_dir) if data_dir else dataset_dir(dataset)
        manifest = manifest / "manifest.json"
        try:
            st = manifest.stat()
        except OSError:
            return None
        return _store_fingerprint(str(manifest.resolve()), st.st_mtime_ns, st.st_size)
    return None


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


@lru_cache(maxsize=1)
def avdigits_fingerprint() -> str:
    """16 hex digits over the pinned FSDD checksum list and the avdigits preprocessing version."""
    from .fsdd import CHECKSUM_FILE
    content = {"fsdd_sha256": hashlib.sha256(CHECKSUM_FILE.read_bytes()).hexdigest(),
               "preprocess_version": AVDIGITS_PREPROCESS_VERSION}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]
