"""Scale benchmark: one whole job at the original accelerators' size (anchor), half of it, or the demo default.

``python -m benchmarks scale --job fraud --size anchor`` (or ``--size half,anchor`` to get the growth ratio in one
run). Each size runs the job end to end (generate .. last task) in a fresh process with a fresh warehouse, the way
``usecases run`` does, while a sampler reads ``/proc`` every 0.25 s for the peak resident memory of:
- the driver (the Python process that runs the tasks; everything collected to it shows here),
- the driver's JVM (Spark's heap is capped by ``spark.driver.memory``),
- one Python worker (Spark's pandas-UDF workers and the training processes; the largest one).
It reports wall time, input rows per second, the time per task and those peaks, and writes JSON like the other
benchmarks. Targets (the project's issue 16, on a 2-core machine): the anchor size within the job's budget,
half -> anchor costing at most 2.1x the time, and the driver under 4 GB at every size.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks._proc import children

ROOT = Path(__file__).resolve().parents[1]
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

# Job parameters per size, and the job's input rows at that size. ``tiny`` only exists for the smoke test.
SIZES: dict[str, dict[str, tuple[dict[str, str], int]]] = {
    "fraud": {  # PaySim: 6.36M transactions
        "anchor": ({"n_transactions": "6360000"}, 6_360_000),
        "half": ({"n_transactions": "3180000"}, 3_180_000),
        "demo": ({}, 200_000),
        "tiny": ({"n_transactions": "3000", "max_train_rows": "2000", "depth_grid": "3", "cv_folds": "2"}, 3_000),
    },
    "forecasting": {  # 10 stores x 50 items x 5 years daily, with the backtest
        "anchor": ({"n_stores": "10", "n_items": "50", "n_days": "1826"}, 500 * 1826),
        "half": ({"n_stores": "10", "n_items": "25", "n_days": "1826"}, 250 * 1826),
        "demo": ({}, 100 * 1095),
        "tiny": ({"n_stores": "1", "n_items": "2", "n_days": "200", "horizon": "7", "backtest_folds": "1",
                  "backtest_horizon": "7", "uncertainty_samples": "0", "min_history_days": "60"}, 400),
    },
    "out_of_stock": {  # 10,000 store-items x 2 years
        "anchor": ({"n_stores": "100", "n_items": "100", "n_days": "730"}, 10_000 * 730),
        "half": ({"n_stores": "50", "n_items": "100", "n_days": "730"}, 5_000 * 730),
        "demo": ({}, 200 * 240),
        "tiny": ({"n_stores": "1", "n_items": "5", "n_days": "100"}, 500),
    },
    "geospatial": {  # NYC taxi-zone shape: 10M points x 260 zones
        "anchor": ({"n_points": "10000000", "n_zones": "260"}, 10_000_000),
        "half": ({"n_points": "5000000", "n_zones": "260"}, 5_000_000),
        "demo": ({}, 200_000),
        "tiny": ({"n_points": "2000", "n_zones": "9", "resolution": "9"}, 2_000),
    },
    "vision": {  # 20,000 images at 64x64
        "anchor": ({"n_images": "20000", "generated_size": "64", "image_size": "64"}, 20_000),
        "half": ({"n_images": "10000", "generated_size": "64", "image_size": "64"}, 10_000),
        "demo": ({}, 800),
        "tiny": ({"n_images": "80", "n_score_images": "4", "max_epochs": "1", "min_epochs": "1",
                  "num_processes": "1", "image_size": "16"}, 80),
    },
}
BUDGET_S = {"fraud": 300, "forecasting": 240, "out_of_stock": 300, "geospatial": 120, "vision": 600}
DRIVER_LIMIT_BYTES = 4 * 1024**3


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(children(current))
    return out


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * PAGE
    except OSError:
        return 0


def _kind(pid: int, root: int) -> str:
    if pid == root:
        return "driver"
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmdline = fh.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return "other"
    if "java" in cmdline.split(" ")[0]:
        return "jvm"
    return "python_worker" if "python" in cmdline else "other"


class PeakSampler(threading.Thread):
    """Peak RSS per kind of process in a process tree, sampled from /proc."""

    def __init__(self, pid: int, every_s: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.pid, self.every_s = pid, every_s
        self.peaks = {"driver": 0, "jvm": 0, "python_worker": 0}
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.every_s):
            for pid in _tree(self.pid):
                kind = _kind(pid, self.pid)
                if kind in self.peaks:
                    self.peaks[kind] = max(self.peaks[kind], _rss(pid))

    def stop(self) -> dict[str, int]:
        self._halt.set()
        self.join(timeout=5)
        return dict(self.peaks)


def run_size(job: str, size: str, extra: list[str]) -> dict[str, object]:
    """One whole job at one size, in its own process and warehouse."""
    params, input_rows = SIZES[job][size]
    home = Path(tempfile.mkdtemp(prefix=f"scale-{job}-{size}-"))
    argv = [sys.executable, "-m", "shared.cli", "--bundle", str(ROOT), "run", job, "--json",
            "--param", "generate_data=true", *[f"--param={k}={v}" for k, v in params.items()], *extra]
    env = {**os.environ, "USECASES_HOME": str(home), "USECASES_PROGRESS": "off"}
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True, cwd=ROOT)
    sampler = PeakSampler(proc.pid)
    sampler.start()
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - started
    peaks = sampler.stop()
    shutil.rmtree(home, ignore_errors=True)  # the run's warehouse, MLflow store and Spark scratch: GBs at anchor size
    if proc.returncode != 0:
        raise SystemExit(f"{job} at size {size} failed ({proc.returncode}):\n{stderr[-4000:]}")
    events = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    done = [e for e in events if e.get("event") == "task_done"]
    tasks = {e["task"]: e["elapsed_s"] for e in done}
    slowest = max(tasks, key=tasks.get) if tasks else None
    return {
        "job": job, "size": size, "params": params, "input_rows": input_rows,
        "wall_s": round(wall, 1), "tasks_s": round(sum(tasks.values()), 1),
        "rows_per_s": round(input_rows / wall, 1), "task_seconds": tasks, "slowest_task": slowest,
        # What each task reported (rows, quality, epochs): a size that ran faster must not have done less.
        "task_metrics": {e["task"]: e.get("metrics", {}) for e in done},
        "peak_rss_mb": {k: round(v / 1024**2) for k, v in peaks.items()},
        "driver_under_4gb": peaks["driver"] < DRIVER_LIMIT_BYTES,
        "within_budget": (wall <= BUDGET_S[job]) if size == "anchor" else None,
    }


def run(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks scale", description=__doc__.splitlines()[0])
    parser.add_argument("--job", required=True, choices=sorted(SIZES))
    parser.add_argument("--size", default="demo",
                        help="anchor, half, demo (or tiny), or several separated by commas, e.g. half,anchor")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="an extra job parameter for every size")
    args = parser.parse_args(argv)
    sizes = [s.strip() for s in args.size.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in SIZES[args.job]]
    if unknown:
        raise SystemExit(f"unknown size(s) {unknown}; sizes: {', '.join(SIZES[args.job])}")
    runs = [run_size(args.job, size, [f"--param={p}" for p in args.param]) for size in sizes]
    for r in runs:
        print(f"{r['job']} {r['size']}: {r['wall_s']}s wall, {r['rows_per_s']:,} rows/s, slowest {r['slowest_task']}, "
              f"peak RSS MB {r['peak_rss_mb']}", file=sys.stderr)
    result: dict[str, object] = {"job": args.job, "runs": runs, "budget_s": BUDGET_S[args.job],
                                 "result_file": f"scale_{args.job}"}
    by_size = {r["size"]: r for r in runs}
    if "half" in by_size and "anchor" in by_size:
        result["half_to_anchor_time_ratio"] = round(by_size["anchor"]["wall_s"] / by_size["half"]["wall_s"], 3)
        result["ratio_target_met"] = result["half_to_anchor_time_ratio"] <= 2.1
    return result
