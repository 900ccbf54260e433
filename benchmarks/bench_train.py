"""Throughput of the training step at the paper's shapes: samples/s for `normal` and `ogm_ge`.

What is timed is `train.train_step`, the library's own step: forward, loss, backward, modality scores,
rho and k, OGM-GE's scaling and noise (`ogm_ge`; `normal` computes and logs rho and k but applies
nothing), optimiser step, and the trace row that stays on the device. Inputs are random tensors ALREADY
on the device (the data pipeline is `bench_prepare.py`'s business), timing starts after warm-up steps,
and the device is synchronised before reading the clock. The two methods are measured in alternating
rounds in the same process, so the overhead ratio compares like with like on a shared machine.

Shapes (the official pipeline's, concat fusion, ResNet-18 at width 64, SGD lr 1e-3 momentum 0.9):

- CREMA-D: spectrogram 1 x 257 x 188, one 3 x 224 x 224 frame, 6 classes, alpha 0.8;
- VGGSound: spectrogram 1 x 129 x 626, three 224 x 224 frames, 309 classes, alpha 0.1.

Batch 64 (the paper's) on a GPU; `--quick` uses batch 4 and single-step rounds so a 2-core CPU finishes
in a couple of minutes. A whole step on a CPU takes seconds and a shared machine's load moves it by
+-10 %, more than OGM-GE's cost; so the modulation is also timed ALONE (`GradientModulator.compute` +
`apply` on the real gradients of the paper-sized encoders, repeated), which resolves the overhead that
the step-to-step comparison cannot. The official implementation's figure from the reference notes (one H100, CREMA-D
shapes, batch 64, GPU-resident inputs) is printed beside ours for comparison.

    python benchmarks/bench_train.py --quick                      # CPU, ~1-2 minutes
    python benchmarks/bench_train.py --quick --tiny               # tiny shapes: a dry run in seconds
    python benchmarks/bench_train.py --device cuda [--amp bf16 --channels-last --fused-optimizer]
    python benchmarks/bench_train.py --device cuda --check-sync   # a modulated step may not sync the host
    python benchmarks/bench_train.py ... --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from ogm_lib.method.config import make_config  # noqa: E402
from ogm_lib.method.data import AVSplits, AVTensorDataset  # noqa: E402
from ogm_lib.method.shards import Shard  # noqa: E402
from ogm_lib.method.train import Trainer, train_step  # noqa: E402

#: audio (C, F, T), visual frames T, classes; alpha and frames come from config.DATASET_DEFAULTS
SHAPES = {
    "cremad": dict(audio=(1, 257, 188), frames=1, classes=6),
    "vggsound": dict(audio=(1, 129, 626), frames=3, classes=309),
}
IMAGE = 224
#: the official implementation, measured for the reference notes (section 2): one H100, CREMA-D shapes,
#: batch 64, concat, GPU-resident random inputs
REFERENCE = {
    "device": "one NVIDIA H100",
    "dataset": "cremad",
    "batch": 64,
    "ogm_ge": (1302, 1339),
    "normal": (1590, 1812),
    "ogm_ge_cost_pct": (18, 26),
}


#: what a benchmark config names as its data (see `make_trainer`)
PLACEHOLDER_FINGERPRINT = "bench-placeholder"


def placeholder_data(dataset: str) -> AVSplits:
    """The Trainer wants splits; the benchmark feeds its own batches, so two tiny samples will do (two, not
    one: a training split that leaves a last batch of one clip is refused where BatchNorm cannot take it,
    as at the `--tiny` shapes' 1 x 1 last feature map; `batches.py`)."""
    s = SHAPES[dataset]
    ds = AVTensorDataset(
        torch.zeros(2, *s["audio"]),
        torch.zeros(2, 3, s["frames"], IMAGE, IMAGE),
        torch.zeros(2, dtype=torch.long),
        [str(c) for c in range(s["classes"])],
    )
    return AVSplits(ds, ds, ds, ds.class_names)


def use_tiny_shapes() -> None:
    """`--tiny`: every shape an eighth (spectrograms, 28-pixel frames) and encoders of width 8, so that a CPU
    runs the whole benchmark in seconds (scripts/gpu_check.sh's dry mode: the figures mean nothing)."""
    global IMAGE
    IMAGE = 28
    for s in SHAPES.values():
        s["audio"] = (1, s["audio"][1] // 8, s["audio"][2] // 8)


def make_trainer(dataset: str, method: str, args, results_dir: str) -> Trainer:
    tiny = dict(width=8, image_size=IMAGE) if getattr(args, "tiny", False) else {}
    cfg = make_config(
        "paper",
        dataset=dataset,
        fusion="concat",
        method=method,
        device=args.device,
        batch_size=args.batch,
        amp=args.amp,
        channels_last=args.channels_last,
        fused_optimizer=args.fused_optimizer,
        compile=args.compile,
        quiet=True,
        # the benchmark feeds its own tensors (`placeholder_data`, `make_batch`): no store is opened, so the
        # config names its data by this instead of a store's fingerprint (`data/fingerprint.py`)
        data_fingerprint=PLACEHOLDER_FINGERPRINT,
        **tiny,
    )
    assert cfg.n_frames == SHAPES[dataset]["frames"] and cfg.image_size == IMAGE
    return Trainer(cfg, results_dir, data=placeholder_data(dataset))


def make_batch(dataset: str, batch: int, device, seed: int = 0):
    s = SHAPES[dataset]
    g = torch.Generator().manual_seed(seed)
    audio = torch.randn(batch, *s["audio"], generator=g)
    visual = torch.randn(batch, 3, s["frames"], IMAGE, IMAGE, generator=g)
    labels = torch.randint(s["classes"], (batch,), generator=g)
    return tuple(t.to(device) for t in (audio, visual, labels))


def sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def run_steps(trainer: Trainer, batch, steps: int) -> float:
    """Seconds for `steps` training steps (modulation window active: epoch 0), device synchronised."""
    sync(trainer.device)
    t0 = time.perf_counter()
    shard = Shard(*batch, n_global=len(batch[2]), offset=0)
    rows = [train_step(trainer.parts, shard, epoch=0) for _ in range(steps)]
    torch.stack(rows)  # what train_epoch does with the rows (still on the device)
    sync(trainer.device)
    return time.perf_counter() - t0


def modulation_alone_ms(trainer: Trainer, batch, reps: int) -> float:
    """ms of OGM-GE's own work on one step (scores, rho, k, scaling, noise) on the gradients left by the
    last step; median of `reps`."""
    labels = batch[2]
    logits = torch.randn(2, len(labels), trainer.num_classes, device=trainer.device)
    times = []
    for _ in range(reps + 1):
        sync(trainer.device)
        t0 = time.perf_counter()
        state = trainer.modulator.compute(logits[0], logits[1], labels)
        trainer.modulator.apply(state, epoch=0)
        sync(trainer.device)
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times[1:])


def environment(args) -> dict:
    dev = torch.device(args.device)
    env = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": args.device,
        "threads": torch.get_num_threads(),
    }
    if dev.type == "cuda":
        env["device_name"] = torch.cuda.get_device_name(dev)
        env["cuda"] = torch.version.cuda
        env["cudnn"] = torch.backends.cudnn.version()
        env["cudnn_benchmark"] = torch.backends.cudnn.benchmark
        # PyTorch's defaults: TF32 for convolutions on, for matmuls off ("fp32" convs are TF32 on a GPU)
        env["tf32_conv"] = torch.backends.cudnn.allow_tf32
        env["tf32_matmul"] = torch.backends.cuda.matmul.allow_tf32
    else:
        name = platform.processor() or platform.machine()
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        env["device_name"] = name
        env["load_average_1min"] = round(os.getloadavg()[0], 2)  # others' work on a shared machine
    env["switches"] = {
        "amp": args.amp,
        "channels_last": args.channels_last,
        "fused_optimizer": args.fused_optimizer,
        "compile": args.compile,
    }
    env.update(
        batch=args.batch,
        warmup=args.warmup,
        iters=args.iters,
        repeats=args.repeats,
        shapes="tiny (--tiny: figures mean nothing)" if getattr(args, "tiny", False) else "paper",
    )
    return env


def benchmark(args) -> dict:
    results, overhead = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for dataset in args.datasets:
            batch = make_batch(dataset, args.batch, args.device)
            trainers = {m: make_trainer(dataset, m, args, tmp) for m in args.methods}
            for tr in trainers.values():
                run_steps(tr, batch, args.warmup)  # allocations, autotuning, compilation
            times = {m: [] for m in args.methods}
            for _ in range(args.repeats):  # alternate: drift hits both alike
                for m, tr in trainers.items():
                    times[m].append(run_steps(tr, batch, args.iters))
            sps = {}
            for m in args.methods:
                runs = [args.batch * args.iters / t for t in times[m]]
                sps[m] = statistics.median(runs)
                results.append(
                    {
                        "dataset": dataset,
                        "method": m,
                        "batch": args.batch,
                        "samples_per_s": round(sps[m], 2),
                        "runs": [round(r, 2) for r in runs],
                        "ms_per_step": round(1000 * statistics.median(times[m]) / args.iters, 1),
                    }
                )
            if "normal" in sps and "ogm_ge" in sps:
                ratio = sps["ogm_ge"] / sps["normal"]
                overhead[dataset] = {
                    "ogm_ge_over_normal": round(ratio, 3),
                    "ogm_ge_cost_pct": round(100 * (1 - ratio), 1),
                }
            if "ogm_ge" in trainers:
                ms = modulation_alone_ms(trainers["ogm_ge"], batch, args.repeats * 2)
                step_ms = 1000 * args.batch / sps.get("normal", sps["ogm_ge"])
                overhead.setdefault(dataset, {}).update(
                    modulation_alone_ms=round(ms, 2), modulation_alone_pct_of_step=round(100 * ms / step_ms, 1)
                )
            del trainers, batch
            if torch.device(args.device).type == "cuda":
                torch.cuda.empty_cache()
    return {"env": environment(args), "results": results, "overhead": overhead, "reference": REFERENCE}


def check_sync(args) -> int:
    """Run warmed-up steps under `torch.cuda.set_sync_debug_mode("error")`: any host synchronisation
    (`.item()`, a device-to-host copy, a data-dependent shape) inside the step raises."""
    if torch.device(args.device).type != "cuda":
        print("--check-sync needs a CUDA device (pass --device cuda); nothing checked", file=sys.stderr)
        return 2
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for dataset in args.datasets:
            batch = make_batch(dataset, args.batch, args.device)
            for m in args.methods:
                trainer = make_trainer(dataset, m, args, tmp)
                run_steps(trainer, batch, max(args.warmup, 2))
                torch.cuda.synchronize()
                torch.cuda.set_sync_debug_mode("error")
                try:
                    shard = Shard(*batch, n_global=len(batch[2]), offset=0)
                    rows = [train_step(trainer.parts, shard, epoch=0) for _ in range(2)]
                    torch.stack(rows)
                    verdict = "no host sync"
                except RuntimeError as e:
                    failures += 1
                    verdict = f"HOST SYNC: {str(e).splitlines()[0]}"
                finally:
                    torch.cuda.set_sync_debug_mode(0)
                print(f"check-sync {dataset:8s} {m:7s} {verdict}")
    return 1 if failures else 0


def print_report(report: dict) -> None:
    env = report["env"]
    load = f", load average {env['load_average_1min']}" if "load_average_1min" in env else ""
    print(
        f"device: {env['device_name']} ({env['device']}), torch {env['torch']}, Python {env['python']}, "
        f"{env['threads']} CPU threads{load}"
    )
    if "cuda" in env:
        print(
            f"CUDA {env['cuda']}, cuDNN {env['cudnn']}, cudnn.benchmark={env['cudnn_benchmark']}, "
            f"TF32 conv={env['tf32_conv']} matmul={env['tf32_matmul']}"
        )
    sw = env["switches"]
    print(
        f"switches: amp={sw['amp']} channels_last={sw['channels_last']} "
        f"fused_optimizer={sw['fused_optimizer']} compile={sw['compile']}; batch {env['batch']}, "
        f"{env['warmup']} warm-up + {env['repeats']} x {env['iters']} timed steps per method"
    )
    print()
    print(f"{'dataset':9s} {'method':7s} {'batch':>5s} {'samples/s':>10s} {'ms/step':>8s}   runs (samples/s)")
    for r in report["results"]:
        print(
            f"{r['dataset']:9s} {r['method']:7s} {r['batch']:5d} {r['samples_per_s']:10.2f} "
            f"{r['ms_per_step']:8.1f}   {', '.join(f'{x:.2f}' for x in r['runs'])}"
        )
    print()
    for dataset, o in report["overhead"].items():
        if "ogm_ge_over_normal" in o:
            print(
                f"{dataset}: ogm_ge / normal throughput = {o['ogm_ge_over_normal']:.3f} "
                f"(OGM-GE costs {o['ogm_ge_cost_pct']:.1f}% of the normal step's throughput)"
            )
        if "modulation_alone_ms" in o:
            print(
                f"{dataset}: OGM-GE's work alone (scores, k, scaling, noise) = {o['modulation_alone_ms']:.2f} "
                f"ms per step = {o['modulation_alone_pct_of_step']:.1f}% of a normal step"
            )
    ref = report["reference"]
    print(
        f"official implementation (reference notes; {ref['device']}, {ref['dataset']} shapes, batch "
        f"{ref['batch']}): ogm_ge {ref['ogm_ge'][0]:,}-{ref['ogm_ge'][1]:,} samples/s, normal "
        f"{ref['normal'][0]:,}-{ref['normal'][1]:,} samples/s (OGM-GE costs {ref['ogm_ge_cost_pct'][0]}-"
        f"{ref['ogm_ge_cost_pct'][1]}%); compare only with a run on the same GPU"
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument(
        "--quick",
        action="store_true",
        help="batch 4, 1 warm-up, 3 x 1 timed steps: a 2-core CPU finishes in ~1-2 minutes",
    )
    p.add_argument(
        "--tiny",
        action="store_true",
        help="every shape an eighth and width-8 encoders: a dry run of the benchmark in seconds",
    )
    p.add_argument("--batch", type=int, default=None, help="batch size (default 64; 4 with --quick)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 5; 1 with --quick)")
    p.add_argument("--iters", type=int, default=None, help="timed steps per round (default 20; 1 with --quick)")
    p.add_argument("--repeats", type=int, default=None, help="rounds per method (default 3; 3 with --quick)")
    p.add_argument("--datasets", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    p.add_argument("--methods", nargs="+", default=["normal", "ogm_ge"], choices=["normal", "ogm", "ogm_ge", "ge"])
    p.add_argument("--amp", default="none", choices=["none", "bf16"])
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--fused-optimizer", action="store_true")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--cudnn-benchmark", action="store_true", help="torch.backends.cudnn.benchmark = True")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (CPU)")
    p.add_argument(
        "--check-sync",
        action="store_true",
        help="GPU only: run warmed-up steps under torch.cuda.set_sync_debug_mode('error')",
    )
    p.add_argument("--json", default=None, help="also write the report as JSON here")
    args = p.parse_args(argv)
    quick = dict(batch=4, warmup=1, iters=1, repeats=3)
    full = dict(batch=64, warmup=5, iters=20, repeats=3)
    for k, v in (quick if args.quick else full).items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    if (args.channels_last or args.compile) and not args.device.startswith("cuda"):
        p.error("--channels-last and --compile are CUDA switches (refused on CPU: see book/multi_gpu.md)")
    if args.tiny:
        use_tiny_shapes()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.cudnn_benchmark:
        torch.backends.cudnn.benchmark = True
    if args.check_sync:
        return check_sync(args)
    report = benchmark(args)
    print_report(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
