"""# The Free Spoken Digit Dataset: getting it, checking it, splitting it

The book's default data (`avdigits`) pairs spoken digits with handwritten digit images. The audio half is
the [Free Spoken Digit Dataset](https://github.com/Jakobovski/free-spoken-digit-dataset) (FSDD): 3,000
real recordings (6 speakers x 10 digits x 50 takes), 8 kHz mono 16-bit WAV, CC BY-SA 4.0.

Reproducibility starts with the bytes, so this module pins them: `fsdd_sha256.txt` (shipped next to this
file) lists the SHA-256 of every one of the 3,000 files of tag **v1.0.10**, and nothing is used that does
not match it.

`fetch_fsdd(dest)` makes `dest/recordings/*.wav` complete and verified, trying in order:

1. **the copy already at `dest`**: if every file matches, nothing is done;
2. **a local mirror**: the `mirror` argument, else the environment variable `OGM_FSDD_MIRROR`, else a
   `../shared/data/fsdd` found next to the repository root or the working directory; files are copied one
   by one, each verified before it is renamed into place (so an interrupted copy never leaves a truncated
   file under its final name);
3. **the public source**: the GitHub archive of tag v1.0.10; only `recordings/*.wav` is extracted, each
   member is verified the same way.

Setting `OGM_FSDD_MIRROR=none` (or empty) switches the mirror auto-detection off.

The official split is by take index, stated in the dataset's README: takes 0-4 of every speaker and digit
are the test set (300 clips), takes 5-49 the training set (2,700 clips). `fsdd_split` encodes it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ...ground.catalogue import FSDD_CHECKSUMS_SHA256, FSDD_SPEAKERS, FSDD_TAKES
from ..fileio import atomic_write_bytes

if TYPE_CHECKING:  # numpy is imported where a recording is read
    import numpy as np
from ..paths import dataset_dir, repo_root

#: the pinned public source: a tag, so the bytes cannot drift
FSDD_TAG = "v1.0.10"
FSDD_URL = f"https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/{FSDD_TAG}.tar.gz"
#: sha256 of every recording, `<hex>  recordings/<name>.wav`, one a line (3,000 lines)
CHECKSUM_FILE = Path(__file__).with_name("fsdd_sha256.txt")
SAMPLE_RATE = 8000
#: how to get the data, quoted by every "data missing" error
FETCH_HINT = (
    "fetch it with `python data_scripts/fetch_fsdd.py --dest {dest}` or "
    "`python -m ogm_lib fetch avdigits` (it copies a local mirror if one is found, "
    "set OGM_FSDD_MIRROR=/path/to/fsdd to name one, else downloads tag "
    f"{FSDD_TAG} from GitHub)"
)

_NAME = re.compile(r"^(\d)_([a-z]+)_(\d+)\.wav$")


class FSDDChecksumError(RuntimeError):
    """Some recordings are missing or do not match their pinned SHA-256."""


class FSDDDownloadError(ConnectionError):
    """The public archive could not be downloaded (offline, no mirror) or is not the expected archive."""


# ---------------------------------------------------------------------------------------------------------
# Names and the official split
# ---------------------------------------------------------------------------------------------------------


def parse_fsdd_name(filename: str | os.PathLike) -> tuple[int, str, int]:
    """`"7_jackson_32.wav"` (or a path to it) -> `(digit 7, speaker "jackson", take index 32)`."""
    name = Path(filename).name
    m = _NAME.match(name)
    if not m:
        raise ValueError(f"not an FSDD recording name (expected '<digit>_<speaker>_<index>.wav'): {name!r}")
    return int(m.group(1)), m.group(2), int(m.group(3))


def fsdd_split(filename: str | os.PathLike) -> str:
    """The official split of a recording: `'test'` for take index 0-4, `'train'` for 5-49."""
    index = parse_fsdd_name(filename)[2]
    if not 0 <= index <= 49:
        raise ValueError(f"FSDD take index must be 0-49, got {index} in {Path(filename).name!r}")
    return "test" if index < 5 else "train"


def recording_names() -> list[str]:
    """The 3,000 recordings' file names, sorted (the order of `expected_checksums`), from the catalogue alone
    (`FSDD_SPEAKERS`, `FSDD_TAKES`): no file is read, so a config can check its split sizes while it is made."""
    return sorted(f"{d}_{s}_{t}.wav" for d in range(10) for s in FSDD_SPEAKERS for t in range(FSDD_TAKES))


def expected_checksums() -> dict[str, str]:
    """`{file name: sha256 hex}` for the 3,000 recordings of tag v1.0.10, sorted by name.

    The list itself is pinned by its hash (`catalogue.FSDD_CHECKSUMS_SHA256`, which avdigits' fingerprint and
    so every avdigits run's key is made of, without reading the list): a list edited without the pin is
    refused here, where the recordings are checked, rather than trained on under the old data's key."""
    data = CHECKSUM_FILE.read_bytes()
    if hashlib.sha256(data).hexdigest() != FSDD_CHECKSUMS_SHA256:
        raise FSDDChecksumError(
            f"{CHECKSUM_FILE} has SHA-256 {hashlib.sha256(data).hexdigest()}, not the pinned "
            f"{FSDD_CHECKSUMS_SHA256} (ground/catalogue.py FSDD_CHECKSUMS_SHA256); the list is part of every "
            "avdigits run's key (data/fingerprint.py): restore it, or change the pin with it (new keys)"
        )
    sums = {}
    for line in data.decode().splitlines():
        if line.strip():
            digest, path = line.split(maxsplit=1)
            sums[Path(path.strip()).name] = digest.lower()
    return dict(sorted(sums.items()))


# ---------------------------------------------------------------------------------------------------------
# Where data lives
# ---------------------------------------------------------------------------------------------------------


def default_data_dir(name: str) -> Path:
    """Default home of dataset `name`: `$OGM_DATA_DIR/<name>` if set, else `<repo root or cwd>/data/<name>`
    (`paths.dataset_dir`, the resolver every data folder goes through)."""
    return dataset_dir(name)


def find_mirror(mirror: str | os.PathLike | None = None) -> Path | None:
    """The local FSDD mirror to copy from, or None.

    An explicit `mirror` must exist. Otherwise `$OGM_FSDD_MIRROR` (`none` or empty: no mirror), else the
    first `../shared/data/fsdd` next to the repository root or the working directory that has recordings.
    """
    if mirror is not None:
        path = _recordings_of(Path(mirror).expanduser())
        if path is None:
            raise FileNotFoundError(f"FSDD mirror {mirror} has no recordings/*.wav")
        return path
    env = os.environ.get("OGM_FSDD_MIRROR")
    if env is not None:
        if env.strip().lower() in ("", "none", "0", "off"):
            return None
        path = _recordings_of(Path(env).expanduser())
        if path is None:
            raise FileNotFoundError(f"OGM_FSDD_MIRROR={env} has no recordings/*.wav")
        return path
    for base in (repo_root(), Path.cwd()):
        if base is not None:
            path = _recordings_of(base.resolve().parent / "shared" / "data" / "fsdd")
            if path is not None:
                return path
    return None


def _recordings_of(path: Path) -> Path | None:
    """`path/recordings` or `path` itself, whichever holds the wav files."""
    for cand in (path / "recordings", path):
        if cand.is_dir() and any(cand.glob("*.wav")):
            return cand
    return None


# ---------------------------------------------------------------------------------------------------------
# Verification
# ---------------------------------------------------------------------------------------------------------


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verify_fsdd(dest: str | os.PathLike) -> tuple[list[str], list[str]]:
    """Check `dest/recordings` against the pinned checksums: returns `(missing, mismatched)` file names."""
    rec = Path(dest) / "recordings"
    missing, mismatched = [], []
    for name, digest in expected_checksums().items():
        f = rec / name
        if not f.is_file():
            missing.append(name)
        elif _sha256(f.read_bytes()) != digest:
            mismatched.append(name)
    return missing, mismatched


def describe_problems(missing: list[str], mismatched: list[str], where: str | os.PathLike) -> str:
    """A readable summary of a failed verification (the first few names of each kind)."""

    def some(names):
        return ", ".join(names[:5]) + (f", ... ({len(names) - 5} more)" if len(names) > 5 else "")

    parts = []
    if missing:
        parts.append(f"{len(missing)} missing ({some(missing)})")
    if mismatched:
        parts.append(f"{len(mismatched)} failing their SHA-256 ({some(mismatched)})")
    return f"FSDD at {where}: " + "; ".join(parts)


# ---------------------------------------------------------------------------------------------------------
# Fetching
# ---------------------------------------------------------------------------------------------------------


@dataclass
class FetchReport:
    """What `fetch_fsdd` did."""

    dest: Path
    already_ok: int = 0  # files that were already present and correct
    copied: int = 0  # from the local mirror
    downloaded: int = 0  # from the public archive
    replaced: list[str] = field(default_factory=list)  # files present but failing their checksum
    mirror: Path | None = None
    url: str | None = None

    def __str__(self) -> str:
        if self.copied == self.downloaded == 0:
            return f"FSDD at {self.dest}: all {self.already_ok} recordings present and verified; nothing to do"
        lines = [f"FSDD at {self.dest}: {self.already_ok} already verified"]
        if self.copied:
            lines.append(f"copied {self.copied} from mirror {self.mirror}")
        if self.downloaded:
            lines.append(f"extracted {self.downloaded} from {self.url}")
        if self.replaced:
            lines.append(
                f"replaced {len(self.replaced)} that failed their checksum "
                f"({', '.join(self.replaced[:5])}{', ...' if len(self.replaced) > 5 else ''})"
            )
        return "; ".join(lines) + "; all 3000 verified"


def fetch_fsdd(
    dest: str | os.PathLike | None = None,
    mirror: str | os.PathLike | None = None,
    *,
    url: str = FSDD_URL,
    allow_download: bool = True,
    quiet: bool = True,
) -> FetchReport:
    """Make `dest/recordings/*.wav` complete and verified (see the module docstring for the sources).

    `dest` defaults to `default_data_dir("avdigits")`. Raises `FSDDChecksumError` when, after every
    allowed source, some file is still missing or wrong (for instance a corrupt mirror with
    `allow_download=False`).
    """
    dest = Path(dest) if dest is not None else default_data_dir("avdigits")
    rec = dest / "recordings"
    rec.mkdir(parents=True, exist_ok=True)
    want = expected_checksums()
    report = FetchReport(dest=dest)
    say = (lambda *a: None) if quiet else print

    # 1. what is already there
    todo = {}
    for name, digest in want.items():
        f = rec / name
        if f.is_file():
            if _sha256(f.read_bytes()) == digest:
                report.already_ok += 1
                continue
            report.replaced.append(name)
        todo[name] = digest
    if not todo:
        return report

    # 2. a local mirror, file by file
    src = find_mirror(mirror)
    bad_in_mirror = []
    if src is not None and src.resolve() != rec.resolve():
        report.mirror = src
        say(f"copying {len(todo)} recordings from {src}")
        for name in list(todo):
            f = src / name
            if not f.is_file():
                continue
            data = f.read_bytes()
            if _sha256(data) != todo[name]:
                bad_in_mirror.append(name)
                continue
            atomic_write_bytes(rec / name, data)
            report.copied += 1
            del todo[name]

    # 3. the public archive: stream it to a temporary file, extract only recordings/*.wav
    if todo and allow_download:
        report.url = url
        say(f"downloading {url} for {len(todo)} recordings")
        with tempfile.TemporaryFile() as tmp:
            try:
                with urllib.request.urlopen(url, timeout=60) as resp:
                    shutil.copyfileobj(resp, tmp)
            except OSError as err:  # URLError, HTTPError, timeouts: offline or a wrong --url
                reason = getattr(err, "reason", None) or err
                mirror_note = (
                    f"the mirror {src} lacked {len(todo)} of them"
                    if src is not None
                    else "no local mirror was found (pass --mirror /path/to/fsdd or set OGM_FSDD_MIRROR)"
                )
                raise FSDDDownloadError(
                    f"could not download {url} ({reason}) for {len(todo)} FSDD recordings; {mirror_note}"
                ) from None
            tmp.seek(0)
            try:
                tar = tarfile.open(fileobj=tmp, mode="r:*")
            except tarfile.TarError as err:
                raise FSDDDownloadError(f"{url} is not a tar archive ({err}); check --url") from None
            with tar:
                for member in tar:
                    parts = Path(member.name).parts
                    if not member.isfile() or len(parts) < 2 or parts[-2] != "recordings":
                        continue
                    name = parts[-1]
                    if name not in todo:
                        continue
                    data = tar.extractfile(member).read()
                    if _sha256(data) != todo[name]:
                        continue  # left in `todo`, reported below
                    atomic_write_bytes(rec / name, data)
                    report.downloaded += 1
                    del todo[name]

    if todo:
        missing = [n for n in todo if not (rec / n).is_file()]
        mismatched = [n for n in todo if (rec / n).is_file()]
        msg = describe_problems(missing, mismatched, rec)
        if bad_in_mirror:
            msg += f"; the mirror {src} itself has {len(bad_in_mirror)} bad file(s): {', '.join(bad_in_mirror[:5])}"
        if not allow_download:
            msg += "; downloading was not allowed"
        raise FSDDChecksumError(msg)
    return report


def ensure_fsdd(dest: str | os.PathLike) -> None:
    """Used by the loaders: verified recordings at `dest`, copied silently from a local mirror if one is
    found; otherwise a FileNotFoundError (or FSDDChecksumError) that says how to fetch them."""
    dest = Path(dest)
    missing, mismatched = verify_fsdd(dest)
    if not missing and not mismatched:
        return
    try:
        mirror = find_mirror()
    except FileNotFoundError:
        mirror = None
    if mirror is not None:
        fetch_fsdd(dest, mirror, allow_download=False)
        return
    problem = describe_problems(missing, mismatched, dest / "recordings")
    if len(missing) == len(expected_checksums()):
        raise FileNotFoundError(f"FSDD recordings not found in {dest / 'recordings'}; " + FETCH_HINT.format(dest=dest))
    raise FSDDChecksumError(f"{problem}; re-run the fetch to repair: " + FETCH_HINT.format(dest=dest))


def read_wav(path: str | os.PathLike) -> "np.ndarray":
    """A 16-bit mono 8 kHz FSDD recording as float32 in [-1, 1)."""
    import wave

    import numpy as np

    with wave.open(str(path), "rb") as w:
        if (w.getnchannels(), w.getsampwidth(), w.getframerate()) != (1, 2, SAMPLE_RATE):
            raise ValueError(
                f"{path}: expected mono 16-bit {SAMPLE_RATE} Hz PCM, got "
                f"{w.getnchannels()} ch, {8 * w.getsampwidth()} bit, {w.getframerate()} Hz"
            )
        raw = w.readframes(w.getnframes())
    return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
