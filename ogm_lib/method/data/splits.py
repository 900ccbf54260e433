"""Which clips train, select and test a run, and who speaks in them: the split rules and the split manifest.

**Two rules** (`RunConfig.split`):

- `official` (the default): the dataset's own split, the paper's protocol. For CREMA-D that is the OGM-GE
  repository's `train.csv` / `test.csv`, which puts the same actors in train and test (the overlap was raised
  in lihongcs/AGM issue #2; the official repository's issue #43 asks for a validation split), with validation
  carved from train by clip.
  For the default data, FSDD's takes 0-4 as test and validation drawn per digit: all six speakers are in
  every split.
- `speaker`: train, validation and test speakers disjoint. The test speakers are the `TEST_FRACTION` of the
  distinct speakers whose salted SHA-1 sorts first (`lists.pick_fraction`, salt `speaker-test`), the
  validation speakers the `val_fraction` of the others (salt `speaker-val`), at least one each. The draw
  depends only on the speaker ids, not on the seed, so every seed is scored on the same held-out people.
  CREMA-D: 91 actors -> 9 test, 8 validation (at `val_fraction` 0.1), 74 train; every clip of the store is
  used, whichever list it was in. FSDD (`avdigits`): 6 speakers -> 1 test, 1 validation, 4 train.
  Only datasets with speaker ids have this rule (`SPEAKER_DATASETS`); the others refuse it.

**Split manifest** (`split_manifest`): for each split its clips (names), class counts and speakers, the
speakers shared between splits, and a hash over those (`manifest_hash`). `python -m ogm_lib data check` prints it and
writes it next to the data; runs record its hash (`AVSplits.split_hash`) in their provenance, so a result
says exactly which clips it was trained, selected and tested on.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from itertools import combinations

#: the share of the speakers held out for test under the `speaker` rule (CREMA-D's official test is 10 %)
TEST_FRACTION = 0.1
SPLITS = ("train", "val", "test")


def speaker_of(dataset: str, name: str) -> str | None:
    """The speaker of a clip from its name: the CREMA-D actor (`1001` of `1001_DFA_ANG_XX`), the FSDD
    speaker (`jackson` of `7_jackson_32.wav`); None where names carry none."""
    if dataset == "cremad":
        return name.split("_")[0]
    if dataset == "avdigits":
        from .fsdd import parse_fsdd_name

        return parse_fsdd_name(name)[1]
    return None


def speaker_split(speakers: list[str], val_fraction: float, test_fraction: float = TEST_FRACTION) -> list[str]:
    """`train` / `val` / `test` per item, disjoint by speaker (the `speaker` rule, see the module doc)."""
    from .lists import pick_fraction

    distinct = sorted(set(speakers))
    if len(distinct) < 3:
        raise ValueError(
            f"split 'speaker' needs at least 3 speakers (train, validation, test), found "
            f"{len(distinct)}: {', '.join(distinct)}"
        )
    test = pick_fraction(distinct, test_fraction, "speaker-test")
    val = pick_fraction([s for s in distinct if s not in test], val_fraction, "speaker-val")
    return ["test" if s in test else "val" if s in val else "train" for s in speakers]


def _names_of(ds) -> list[str] | None:
    return list(getattr(ds, "names", None) or getattr(ds, "clip_ids", None) or []) or None


def split_manifest(splits, config=None) -> dict:
    """What each split holds: clips, classes, speakers, the speakers two splits share; and its `hash`.

    `splits`: an `AVSplits`; its datasets may carry `names` (or `clip_ids`) and `speakers`."""
    body = {}
    if config is not None:
        body.update(
            dataset=config.dataset,
            split=config.split,
            val_fraction=config.val_fraction,
            data_fingerprint=config.data_fingerprint,
        )
        if config.dataset == "avdigits":  # its validation draw and pairing depend on the seed
            body["seed"] = config.seed
    names = splits.class_names
    speakers = {}
    body["splits"] = {}
    for s in SPLITS:
        ds = getattr(splits, s)
        labels = [int(x) for x in ds.labels.tolist()] if hasattr(ds, "labels") else []
        spk = list(getattr(ds, "speakers", None) or [])
        spk = spk if spk and all(x is not None for x in spk) else None
        speakers[s] = set(spk) if spk else None
        body["splits"][s] = {
            "clips": len(ds),
            "classes": {names[k]: n for k, n in sorted(Counter(labels).items())},
            "speakers": dict(sorted(Counter(spk).items())) if spk else None,
            "names": _names_of(ds),
        }
    body["speaker_overlap"] = {
        f"{a}-{b}": sorted(speakers[a] & speakers[b])
        for a, b in combinations(SPLITS, 2)
        if speakers[a] is not None and speakers[b] is not None
    }
    body["hash"] = manifest_hash(body)
    return body


def manifest_hash(body: dict) -> str:
    """16 hex digits of SHA-256 over what the splits hold (`splits`, `speaker_overlap`; canonical JSON), not
    over the config fields that produced them: the same clips give the same hash, as a run records it."""
    content = {k: body[k] for k in ("splits", "speaker_overlap")}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]


def split_report(manifest: dict) -> str:
    """The manifest as the checker prints it: per split, clips, class counts and speakers; then overlaps."""
    lines = []
    for s, part in manifest["splits"].items():
        classes = ", ".join(f"{c} {n}" for c, n in part["classes"].items())
        lines.append(f"{s:5s} {part['clips']:6d} clips  classes: {classes}")
        if part["speakers"] is not None:
            who = (
                ", ".join(part["speakers"])
                if len(part["speakers"]) <= 12
                else ", ".join(list(part["speakers"])[:12]) + ", ..."
            )
            lines.append(f"      {len(part['speakers'])} speakers: {who}")
    if manifest["speaker_overlap"]:
        for pair, shared in manifest["speaker_overlap"].items():
            lines.append(
                f"speakers in both {pair}: {len(shared)}"
                + (f" ({', '.join(shared[:12])}{', ...' if len(shared) > 12 else ''})" if shared else "")
            )
    else:
        lines.append("speakers: the clips carry no speaker ids")
    lines.append(f"split manifest hash {manifest['hash']}")
    return "\n".join(lines)
