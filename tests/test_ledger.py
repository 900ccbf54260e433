"""The ledger of published OGM-GE numbers (ogm_lib/ground/ledger.json and ledger.py)."""

import copy
import json
import re
from pathlib import Path

import pytest

from ogm_lib.ground.ledger import DATASETS, LEDGER_PATH, SETTING_KEYS, ledger_gains, ledger_table, load_ledger

BIB = Path(__file__).resolve().parents[1] / "book" / "references.bib"

#: the numbers the ledger must carry: id -> (dataset, fusion, baseline, ogm_ge)
EXPECTED = {
    "peng2022-t1-cremad-concat": ("CREMA-D", "concat", 51.7, 61.9),
    "peng2022-t1-vggsound-concat": ("VGGSound", "concat", 49.1, 50.6),
    "peng2022-t2-ks-concat": ("Kinetics-Sounds", "concat", 59.8, 62.3),
    "official-ckpt-cremad-concat": ("CREMA-D", "concat", 59.81, 64.11),
    "pmr2023-t2-cremad-concat": ("CREMA-D", "concat", 53.2, 57.7),
    "pmr2023-t2-cremad-film": ("CREMA-D", "FiLM", 57.2, 58.0),
    "pmr2023-t2-ave-concat": ("AVE", "concat", 65.4, 65.9),
    "pmr2023-t2-ave-film": ("AVE", "FiLM", 64.4, 65.1),
    "balancebench2025-cremad": ("CREMA-D", "not stated", 65.50, 67.76),
    "balancebench2025-ks": ("Kinetics-Sounds", "not stated", 65.63, 67.04),
    "balancebench2025-vggsound": ("VGGSound", "not stated", 48.08, 48.25),
}


def test_ledger_loads_and_validates():
    data = load_ledger()
    assert isinstance(data["version"], int)
    ids = [e["id"] for e in data["entries"]]
    assert len(ids) == len(set(ids))
    for e in data["entries"]:
        assert isinstance(e["baseline"], float) and isinstance(e["ogm_ge"], float)
        assert e["metric"] == "Acc"
        assert set(SETTING_KEYS) <= set(e["setting"])


def test_ledger_carries_the_published_numbers():
    by_id = {e["id"]: e for e in load_ledger()["entries"]}
    for id_, (dataset, fusion, baseline, ogm_ge) in EXPECTED.items():
        e = by_id[id_]
        assert (e["dataset"], e["fusion"], e["baseline"], e["ogm_ge"]) == (dataset, fusion, baseline, ogm_ge), id_


def test_paper_cremad_concat_gain_is_10_2():
    gains = ledger_gains(dataset="CREMA-D", fusion="concat")
    assert abs(gains["Peng et al., CVPR 2022, Table 1"] - 10.2) < 1e-9
    t = ledger_table("CREMA-D", "concat")
    assert abs(t.loc["Peng et al., CVPR 2022, Table 1", "gain (points)"] - 10.2) < 1e-9


def test_gains_tell_apart_a_source_reporting_several_datasets():
    gains = ledger_gains(fusion="concat")
    assert abs(gains["Peng et al., CVPR 2022, Table 1 [CREMA-D]"] - 10.2) < 1e-9
    assert abs(gains["Peng et al., CVPR 2022, Table 1 [VGGSound]"] - 1.5) < 1e-9
    assert abs(gains["Fan et al., CVPR 2023 (PMR), Table 2 [AVE]"] - 0.5) < 1e-9
    # fusion=None: PMR's CREMA-D rows are told apart by fusion too
    all_gains = ledger_gains(dataset="CREMA-D", fusion=None)
    assert abs(all_gains["Fan et al., CVPR 2023 (PMR), Table 2 [CREMA-D, FiLM]"] - 0.8) < 1e-9
    assert len(all_gains) == sum(1 for d, *_ in EXPECTED.values() if d == "CREMA-D")


def test_ledger_table_filters_by_dataset_and_fusion():
    t = ledger_table(dataset="AVE")
    assert list(t.columns) == [
        "dataset",
        "fusion",
        "without OGM-GE",
        "with OGM-GE",
        "gain (points)",
        "selection",
        "seeds",
        "notes",
    ]
    assert t.index.name == "source"
    assert len(t) == 2 and set(t["dataset"]) == {"AVE"}
    assert set(t["fusion"]) == {"concat", "FiLM"}
    film = ledger_table(dataset="CREMA-D", fusion="FiLM")
    assert len(film) == 1 and film.iloc[0]["with OGM-GE"] == 58.0
    assert len(ledger_table()) == len(load_ledger()["entries"])
    with pytest.raises(ValueError):
        ledger_table(dataset="ImageNet")


def test_every_entry_has_a_url_and_a_known_cite_key():
    keys = set(re.findall(r"@\w+\{([^,\s]+),", BIB.read_text(encoding="utf-8")))
    for e in load_ledger()["entries"]:
        assert e["url"].strip(), e["id"]
        assert e["cite"] in keys, f"{e['id']}: cite key {e['cite']!r} not in {BIB.name}"
        assert e["dataset"] in DATASETS


def _broken(tmp_path, mutate):
    data = json.loads(LEDGER_PATH.read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    mutate(data)
    p = tmp_path / "ledger.json"
    p.write_text(json.dumps(data), encoding="utf-8")
    return p


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda d: d["entries"][1].pop("ogm_ge"), "peng2022-t1-vggsound-concat.*missing"),
        (lambda d: d["entries"][2]["setting"].pop("selection"), "peng2022-t2-ks-concat.*setting"),
        (lambda d: d["entries"][3].__setitem__("id", d["entries"][0]["id"]), "duplicate id"),
        (lambda d: d["entries"][4].__setitem__("baseline", 153.2), "pmr2023-t2-cremad-concat.*baseline"),
        (lambda d: d["entries"][4].__setitem__("ogm_ge", -1), "ogm_ge"),
        (lambda d: d["entries"][5].__setitem__("baseline", "57.2"), "baseline"),
        (lambda d: d["entries"][6].__setitem__("dataset", "ImageNet"), "dataset"),
        (lambda d: d.__setitem__("version", "1"), "version"),
    ],
    ids=[
        "missing-key",
        "missing-setting-key",
        "duplicate-id",
        "baseline-above-100",
        "ogm_ge-negative",
        "baseline-string",
        "unknown-dataset",
        "version-not-int",
    ],
)
def test_broken_ledger_is_refused(tmp_path, mutate, match):
    with pytest.raises(ValueError, match=match):
        load_ledger(_broken(tmp_path, mutate))


def test_nan_is_refused(tmp_path):
    p = tmp_path / "ledger.json"
    p.write_text(
        LEDGER_PATH.read_text(encoding="utf-8").replace('"baseline": 51.7', '"baseline": NaN', 1), encoding="utf-8"
    )
    with pytest.raises(ValueError, match="peng2022-t1-cremad-concat"):
        load_ledger(p)
