"""What a restructuring of the training step must not change, as one JSON file: tiny runs, bit for bit.

    python scripts/step_snapshot.py write before.json          # the code as it stands (about 5 min, 1 thread)
    ... restructure train.py / modulation.py / strategies.py / models/ ...
    python scripts/step_snapshot.py write after.json
    python scripts/step_snapshot.py compare before.json after.json

`write` trains every config of `CONFIGS` (the `smoke` profile on `synthetic` data, CPU, one thread, three
epochs: the last one outside the modulation window) and keeps, per config, its key, a SHA-256 of the final
weights, every epoch's metrics, the per-step trace and the predictions. The configs cover every method
(OGM, OGM-GE and GE alone with each GE noise, modality dropout, gradient blending, OPM), every fusion, the
unimodal models, the plug-in and localisation models (`models/plugin.py`, `models/localisation.py`), bf16
autocast and the fused optimiser. `compare` prints each config as identical or the fields that differ, and
exits 1 if any does. bf16 runs on CPU came out identical across two runs of one code (issue 27, item 5), so
every config is expected to be identical; `write ... NAME...` trains only the configs whose name contains one.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PLUGIN = dict(n_frames=6, synthetic_size=96)
EVENTS = dict(task="events", n_frames=1, synthetic_size=120)
CONFIGS: dict[str, dict] = {
    **{f"concat-{m}": dict(method=m) for m in ("normal", "ogm", "ogm_ge", "ge", "mdrop_audio", "mdrop_visual", "opm")},
    "concat-grad_blend": dict(method="grad_blend", gb_super_epoch=1),
    **{f"concat-ogm_ge-{n}": dict(method="ogm_ge", ge_noise=n) for n in ("sgd", "sgd_k", "sgd_restore")},
    "concat-ge-sgd": dict(method="ge", ge_noise="sgd"),
    "concat-ogm_ge-sgd-window0": dict(method="ogm_ge", ge_noise="sgd", modulation_end=0),
    "concat-ogm_ge-all": dict(method="ogm_ge", modulate="all", optimizer="adam", lr=1e-3),
    **{
        f"{f}-{m}": dict(fusion=f, method=m, gb_super_epoch=1)
        for f in ("sum", "film", "gated")
        for m in ("normal", "ogm_ge", "grad_blend", "opm")
    },
    **{f"{f}-ogm_ge-sgd": dict(fusion=f, method="ogm_ge", ge_noise="sgd") for f in ("sum", "film", "gated")},
    **{
        f"uni-{u}{'-eval_train' * e}": dict(modalities=u, method="normal", eval_train=e)
        for u in ("audio", "visual")
        for e in (False, True)
    },
    "uni-audio-bf16": dict(modalities="audio", method="normal", amp="bf16"),
    **{f"plugin-{v}-ogm_ge": dict(method="ogm_ge", video_model=v, **PLUGIN) for v in ("tsn", "tbn", "psp")},
    "plugin-tbn-ge-sgd": dict(method="ge", ge_noise="sgd", video_model="tbn", **PLUGIN),
    "plugin-tbn-grad_blend": dict(method="grad_blend", gb_super_epoch=1, video_model="tbn", **PLUGIN),
    "plugin-xvector-ogm_ge": dict(method="ogm_ge", audio_model="xvector"),
    **{f"events-{v}-ogm_ge": dict(method="ogm_ge", video_model=v, **EVENTS) for v in ("avga", "psp")},
    "events-psp-ogm_ge-sgd": dict(method="ogm_ge", ge_noise="sgd", video_model="psp", **EVENTS),
    "events-avga-opm": dict(method="opm", video_model="avga", **EVENTS),
    "concat-ogm_ge-bf16": dict(method="ogm_ge", amp="bf16"),
    "film-ogm_ge-sgd-bf16": dict(fusion="film", method="ogm_ge", ge_noise="sgd", amp="bf16"),
    "concat-grad_blend-bf16": dict(method="grad_blend", gb_super_epoch=1, amp="bf16"),
    "concat-normal-fused": dict(method="normal", fused_optimizer=True),
}


def weights_hash(model) -> str:
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:20]


def write(path: str, only: list[str]) -> None:
    sys.path.insert(0, str(ROOT))
    import torch

    torch.set_num_threads(1)
    import ogm_lib
    from ogm_lib.method.config import make_config
    from ogm_lib.method.train import Trainer

    print(f"code: {Path(ogm_lib.__file__).parent}", flush=True)
    out = {}
    for name, overrides in CONFIGS.items():
        if only and not any(o in name for o in only):
            continue
        t0 = time.perf_counter()
        config = make_config(
            "smoke", **{**dict(dataset="synthetic", synthetic_size=192, epochs=3, quiet=True), **overrides}
        )
        with tempfile.TemporaryDirectory() as tmp:
            trainer = Trainer(config, tmp)
            result = trainer.run()
        out[name] = {
            "key": config.key(),
            "weights": weights_hash(trainer.model),
            "epochs": result.epochs,
            "steps": result.steps,
            "best_epoch": result.best_epoch,
            "predictions": result.predictions,
        }
        print(f"{name:28s} {time.perf_counter() - t0:5.1f} s  weights {out[name]['weights']}", flush=True)
    Path(path).write_text(json.dumps(out, sort_keys=True))


def same(x, y) -> bool:
    """Equal, NaN equal to NaN (the trace of a unimodal run)."""
    if isinstance(x, float) and isinstance(y, float):
        return x == y or (math.isnan(x) and math.isnan(y))
    if isinstance(x, list) and isinstance(y, list):
        return len(x) == len(y) and all(same(a, b) for a, b in zip(x, y))
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(same(x[k], y[k]) for k in x)
    return x == y


def compare(before_path: str, after_path: str) -> int:
    before, after = (json.loads(Path(p).read_text()) for p in (before_path, after_path))
    n_same = 0
    for name in sorted(before.keys() | after.keys()):
        if name not in before or name not in after:
            print(f"{name}: only in {'after' if name in after else 'before'}")
            continue
        diff = [k for k in before[name] if not same(before[name][k], after[name].get(k))]
        n_same += not diff
        print(f"{name:28s} {'identical' if not diff else 'DIFFERS: ' + ', '.join(diff)}")
    total = len(before.keys() | after.keys())
    print(f"{n_same}/{total} identical")
    return 0 if n_same == total else 1


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "write":
        write(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)
