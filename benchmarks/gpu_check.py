"""The GPU check: what the paper-sized `gpu` profile costs, measured in one prepared run of under 8 minutes.

On a machine with a CUDA GPU (`scripts/gpu_check.sh`), three phases, each under its own time limit:

1. `bench_train.py` at the CREMA-D and VGGSound shapes (ResNet-18 at width 64, batch 64), `normal` and
   `ogm_ge` in one process, alternating; judged against the targets `TARGETS` (OGM-GE at the CREMA-D shapes
   at least 4,000 samples/s on an H100-class GPU; OGM-GE's own work at most 3 % of a step);
2. the `gpus` executor (`ogm_lib/recipe/executors.py`) on a handful of `gpu`-profile runs (the headline pair,
   `EXECUTOR_SEEDS` seeds, shortened to `--executor-epochs` epochs so that the phase fits): one worker per
   visible GPU, each run's wall time and the GPU it ran on;
3. one chapter (`CHAPTER`, Figure 3) executed by papermill at the `gpu` profile on the GPU executor, with
   `CHAPTER_SEEDS` seeds per row, into a scratch results folder.

It writes the figures and their provenance (commit, date, host, torch, CUDA, every GPU's name, the
commands) to `benchmarks/gpu_figures.json`, which the README and the appendix "Multi-GPU and cluster runs"
quote. Without a GPU (or with `--dry`) it runs the same three phases on the CPU at tiny shapes (bench
`--tiny`, smoke-profile runs on the `gpus` executor with made-up device names, the chapter at the smoke
profile on synthetic data), so that CI runs it (`scripts/run_tests.sh`) and it cannot rot; a dry run's
figures mean nothing, it writes them to `benchmarks/gpu_figures.dry.json` (not committed), and judges no
target.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: the targets of issue 28 (an H100-class GPU): OGM-GE throughput at the CREMA-D shapes, and its own cost
TARGETS = {"cremad_ogm_ge_samples_per_s_min": 4000, "modulation_pct_of_step_max": 3.0}
CHAPTER = "09_figure3.ipynb"
EXECUTOR_SEEDS = (0, 1)
CHAPTER_SEEDS = 2
#: seconds per phase on a GPU (8 minutes in all, with start-up)
LIMITS = {"bench": 150, "executor": 110, "chapter": 200}


def _git(*args) -> str | None:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def provenance(gpu: bool) -> dict:
    import torch

    out = {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": _git("rev-parse", "HEAD"),
        "dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "host": socket.gethostname(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "mode": "gpu" if gpu else "dry (CPU, tiny shapes: figures mean nothing)",
    }
    if gpu:
        out["cuda"] = torch.version.cuda
        out["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        try:
            out["nvidia_smi"] = (
                subprocess.run(
                    ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                    capture_output=True,
                    text=True,
                    timeout=20,
                )
                .stdout.strip()
                .splitlines()
            )
        except (OSError, subprocess.SubprocessError):
            pass
    return out


def _env() -> dict:
    return dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    )


def run_limited(cmd, limit: float, **kw) -> subprocess.CompletedProcess | None:
    """`cmd` in a session of its own; past `limit` seconds the whole session (workers, a notebook's kernel)
    is killed and None returned, so that a phase over its time leaves nothing running into the next."""
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, **kw
    )
    try:
        out, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return None
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def phase_bench(gpu: bool, limit: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.json"
        cmd = [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_train.py"),
            "--json",
            str(out),
            *(["--device", "cuda"] if gpu else ["--device", "cpu", "--quick", "--tiny"]),
        ]
        t0 = time.perf_counter()
        run = run_limited(cmd, limit, env=_env())
        if run is None:
            return {"command": " ".join(cmd[1:]), "error": f"over its {limit:.0f} s limit"}
        if run.returncode or not out.exists():
            return {"command": " ".join(cmd[1:]), "error": run.stderr.strip().splitlines()[-1:] or run.returncode}
        report = json.loads(out.read_text())
    report["command"] = " ".join(cmd[1:]).replace(str(out), "<scratch>").replace(f"{ROOT}/", "")
    report["wall_s"] = round(time.perf_counter() - t0, 1)
    if gpu:
        ogm = {r["dataset"]: r["samples_per_s"] for r in report["results"] if r["method"] == "ogm_ge"}
        mod = {d: o.get("modulation_alone_pct_of_step") for d, o in report["overhead"].items()}
        report["targets"] = {
            "cremad_ogm_ge_samples_per_s": ogm.get("cremad"),
            "cremad_ogm_ge_samples_per_s_met": (ogm.get("cremad") or 0) >= TARGETS["cremad_ogm_ge_samples_per_s_min"],
            "modulation_pct_of_step": mod,
            "modulation_pct_of_step_met": all(
                v is not None and v <= TARGETS["modulation_pct_of_step_max"] for v in mod.values()
            ),
            "targets": TARGETS,
        }
    return report


def executor_runs(gpu: bool, epochs: int, results_dir: str) -> dict:
    """The executor phase itself (run as `gpu_check.py --executor-phase`, in a session `run_limited` can end)."""
    from ogm_lib.method.config import make_config
    from ogm_lib.recipe import executors
    from ogm_lib.recipe.book import headline_rows

    if gpu:
        rows = headline_rows("avdigits", "gpu", "cuda")
        configs = [c.replace(seed=s, epochs=epochs) for c in rows.values() for s in EXECUTOR_SEEDS]
        ex = executors.GpuExecutor()
    else:
        configs = [
            make_config("smoke", dataset="synthetic", synthetic_size=128, epochs=1, quiet=True, method=m, seed=s)
            for m in ("normal", "ogm_ge")
            for s in EXECUTOR_SEEDS
        ]
        ex = executors.GpuExecutor(devices=["dry0", "dry1"])
    t0 = time.perf_counter()
    outcomes = executors.run(configs, results_dir, ex)
    wall = time.perf_counter() - t0
    per = [
        {"key": o.key, "status": o.status, "wall_s": round(o.wall_s or 0, 1), "device": o.visible_devices}
        for o in outcomes.values()
    ]
    return {
        "profile": "gpu" if gpu else "smoke",
        "epochs": configs[0].epochs,
        "runs": len(configs),
        "devices": ex.devices,
        "wall_s": round(wall, 1),
        "runs_per_hour": round(3600 * len(configs) / wall, 1),
        "per_run": per,
    }


def phase_executor(gpu: bool, epochs: int, limit: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            __file__,
            "--executor-phase",
            tmp,
            "--executor-epochs",
            str(epochs),
            *([] if gpu else ["--dry"]),
        ]
        run = run_limited(cmd, limit, env=_env())
        if run is None:
            return {"error": f"over its {limit:.0f} s limit"}
        if run.returncode:
            return {"error": (run.stderr.strip().splitlines() or ["failed"])[-1]}
        return json.loads(run.stdout.strip().splitlines()[-1])


def phase_chapter(gpu: bool, limit: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        params = (
            ["-p", "profile", "gpu", "-p", "device", "cuda"]
            if gpu
            else ["-p", "profile", "smoke", "-p", "dataset", "synthetic", "-p", "workers", "1"]
        )
        params += [
            "-p",
            "seeds",
            str(CHAPTER_SEEDS),
            "-p",
            "headline_seeds",
            str(CHAPTER_SEEDS),
            "-p",
            "results_dir",
            tmp,
        ]
        cmd = [sys.executable, "-m", "papermill", CHAPTER, str(Path(tmp) / CHAPTER), "--cwd", ".", *params]
        env = dict(_env(), OGM_EXECUTOR="gpus" if gpu else "local")
        t0 = time.perf_counter()
        run = run_limited(cmd, limit, cwd=ROOT / "notebooks", env=env)
        if run is None:
            return {"notebook": CHAPTER, "error": f"over its {limit:.0f} s limit"}
        result = {
            "notebook": CHAPTER,
            "command": " ".join(cmd[2:3] + cmd[5:]).replace(tmp, "<scratch>"),
            "executor": env["OGM_EXECUTOR"],
            "wall_s": round(time.perf_counter() - t0, 1),
            "runs": len(list(Path(tmp).glob("*.json"))),
        }
        if run.returncode:
            result["error"] = (run.stderr.strip().splitlines() or ["failed"])[-1]
        return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dry", action="store_true", help="the CPU dry mode even where a GPU is visible")
    p.add_argument("--out", default=None, help="default benchmarks/gpu_figures.json (dry: gpu_figures.dry.json)")
    p.add_argument("--executor-epochs", type=int, default=10, help="epochs of the executor phase's gpu runs")
    p.add_argument("--executor-phase", default=None, help=argparse.SUPPRESS)  # the executor phase's child
    args = p.parse_args(argv)
    import torch

    gpu = torch.cuda.is_available() and not args.dry
    if args.executor_phase:
        print(json.dumps(executor_runs(gpu, args.executor_epochs, args.executor_phase)))
        return 0
    scale = 1.0 if gpu else 0.6  # the dry mode has the smaller limits (CI: under 2 minutes in all)
    out = Path(args.out) if args.out else ROOT / "benchmarks" / ("gpu_figures.json" if gpu else "gpu_figures.dry.json")
    t0 = time.perf_counter()
    figures = {"provenance": provenance(gpu)}
    if not gpu:
        figures["provenance"]["note"] = (
            "no CUDA GPU visible" if not torch.cuda.is_available() else "--dry"
        ) + ": the CPU dry mode ran; no GPU figure was measured"
    for name, run in (
        ("bench", lambda: phase_bench(gpu, LIMITS["bench"] * scale)),
        ("executor", lambda: phase_executor(gpu, args.executor_epochs, LIMITS["executor"] * scale)),
        ("chapter", lambda: phase_chapter(gpu, LIMITS["chapter"] * scale)),
    ):
        t = time.perf_counter()
        figures[name] = run()
        print(
            f"gpu_check {name}: {time.perf_counter() - t:.0f} s"
            + (f", ERROR {figures[name]['error']}" if "error" in figures[name] else ""),
            flush=True,
        )
    figures["wall_s"] = round(time.perf_counter() - t0, 1)
    out.write_text(json.dumps(figures, indent=1) + "\n")
    failed = [k for k in ("bench", "executor", "chapter") if "error" in figures[k]]
    print(
        f"gpu_check ({'GPU' if gpu else 'dry'}): {figures['wall_s']:.0f} s, figures in {out}"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    if gpu and "targets" in figures["bench"]:
        t = figures["bench"]["targets"]
        print(
            f"targets: OGM-GE at CREMA-D shapes {t['cremad_ogm_ge_samples_per_s']} samples/s "
            f"(>= {TARGETS['cremad_ogm_ge_samples_per_s_min']}: {t['cremad_ogm_ge_samples_per_s_met']}); "
            f"modulation {t['modulation_pct_of_step']} % of a step (<= {TARGETS['modulation_pct_of_step_max']}: "
            f"{t['modulation_pct_of_step_met']}) on {', '.join(figures['provenance']['gpus'])}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
