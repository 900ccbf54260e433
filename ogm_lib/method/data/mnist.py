"""# MNIST's test images: the slower visual half of the testbed search

The testbed search (`testbed.py`) needs a visual task that a ResNet learns more slowly than the 8x8
scikit-learn digits: MNIST's 10,000 handwritten **test** digits (28x28, grey), the only part of MNIST the
project carries (`t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`; CC BY-SA 3.0, Yann LeCun and Corinna
Cortes). `avdigits` with `visual_source = "mnist"` splits these 10,000 images into its own disjoint train,
validation and test pools (as it does the 1,797 scikit-learn digits), so "test" here is only MNIST's name.

The bytes are pinned by the SHA-256 of the **decompressed** IDX files (`SHA256`): a `.gz` re-compressed by a
mirror (the copy in `../shared/data/mnist_t10k` is one) has other bytes but the same payload, whose MD5s are
the canonical ones (`2646ac64...`, `27ae3e4e...`). `fetch_mnist(dest)` makes `dest/<name>` (decompressed)
complete and verified, from, in order: the copy already there; a local mirror (`mirror`, else
`$OGM_MNIST_MIRROR`, else `../shared/data/mnist_t10k` next to the repository or the working directory); the
public source `MNIST_URL` (the PyTorch project's mirror of the original files).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.request
from pathlib import Path

import numpy as np

from ..fileio import atomic_write_bytes
from ..paths import repo_root

#: sha256 of each decompressed IDX file (payload MD5s 2646ac647ad5339dbf082846283269ea,
#: 27ae3e4e09519cfbb04c329615203637)
SHA256 = {
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
N_IMAGES, SIDE = 10_000, 28


class MNISTChecksumError(RuntimeError):
    """An MNIST file is missing or does not match its pinned SHA-256."""


def find_mirror(mirror: str | os.PathLike | None = None) -> Path | None:
    """A folder holding `<name>.gz` or `<name>` for every pinned file: `mirror`, else `$OGM_MNIST_MIRROR`
    (`none` or empty: none), else the first `../shared/data/mnist_t10k` next to the repository or the cwd."""
    if mirror is not None:
        return Path(mirror)
    env = os.environ.get("OGM_MNIST_MIRROR")
    if env is not None:
        return None if env.strip().lower() in ("", "none") else Path(env)
    for base in filter(None, (repo_root(), Path.cwd())):
        path = base.resolve().parent / "shared" / "data" / "mnist_t10k"
        if all((path / f"{n}.gz").is_file() or (path / n).is_file() for n in SHA256):
            return path
    return None


def _payload(folder: Path, name: str) -> bytes | None:
    for path, opener in (
        (folder / name, Path.read_bytes),
        (folder / f"{name}.gz", lambda p: gzip.decompress(p.read_bytes())),
    ):
        if path.is_file():
            return opener(path)
    return None


def fetch_mnist(
    dest: str | os.PathLike,
    mirror: str | os.PathLike | None = None,
    *,
    url: str = MNIST_URL,
    allow_download: bool = True,
) -> list[str]:
    """Make `dest/<name>` of every pinned file present and verified; returns what was done, a line a file."""
    dest = Path(dest)
    done = []
    source = find_mirror(mirror)
    for name, digest in SHA256.items():
        target = dest / name
        if target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == digest:
            continue
        data, where = (_payload(source, name), str(source)) if source else (None, None)
        if data is None and allow_download:
            with urllib.request.urlopen(f"{url}{name}.gz", timeout=60) as response:
                data, where = gzip.decompress(response.read()), f"{url}{name}.gz"
        if data is None:
            raise MNISTChecksumError(
                f"{target} is missing and no mirror has it (set OGM_MNIST_MIRROR or allow the download)"
            )
        if hashlib.sha256(data).hexdigest() != digest:
            raise MNISTChecksumError(f"{name} from {where} does not match its pinned SHA-256 {digest[:12]}...")
        atomic_write_bytes(target, data)
        done.append(f"{name} from {where}")
    return done


def load_mnist(root: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (10000, 28, 28), labels int64 (10000,)) from the verified IDX files under `root`
    (fetched there first if missing)."""
    root = Path(root)
    fetch_mnist(root)
    images = np.frombuffer((root / "t10k-images-idx3-ubyte").read_bytes(), dtype=np.uint8, offset=16)
    labels = np.frombuffer((root / "t10k-labels-idx1-ubyte").read_bytes(), dtype=np.uint8, offset=8)
    return images.reshape(N_IMAGES, SIDE, SIDE), labels.astype(np.int64)
