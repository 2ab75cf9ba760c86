"""Vision at anchor scale: the whole job (generate -> prepare -> train -> score) at N and N/2 images.

Each size runs in its own process through the CLI (``usecases run vision``), as a user runs it, with its own Spark
and MLflow store. For each task: wall seconds, CPU seconds of the whole process tree (driver, Spark JVM and Python
workers, training ranks; sampled from /proc, so robust to other tenants' load) and peak memory by process kind.
Targets (issue 16): N=20,000 images of 64x64 within 10 minutes on 2 cores, N/2 to N costing at most 2.1x, driver
memory under 4 GB. The two ways do the same work on a shared subset: the generated image i is the same file in
both runs (each image is seeded by its index), checked byte for byte.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

TASKS = ("generate", "prepare", "train", "score")
TARGET_SECONDS, TARGET_RATIO, TARGET_DRIVER_GB = 600, 2.1, 4.0


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) for every process visible in /proc."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found[int(entry)] = (int(stat.rsplit(")", 1)[1].split()[1]), cmd)
            except (OSError, ValueError, IndexError):
                continue
    return found


def _usage(pid: int) -> tuple[float, int] | None:
    """(CPU seconds, resident bytes) of one process, or None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        rss_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), rss_pages * os.sysconf("SC_PAGE_SIZE")


def kind_of(cmd: str, is_root: bool) -> str:
    """Which part of the job a process is: the driver, Spark's JVM or Python workers, or a training rank."""
    if is_root:
        return "driver_python"
    if "SparkSubmit" in cmd:
        return "spark_jvm"
    if "pyspark.daemon" in cmd or "pyspark.worker" in cmd:
        return "spark_python_workers"
    return "training_processes"  # torchrun and its ranks, started by TorchDistributor


def run_task(task: str, params: dict[str, str], env: dict[str, str]) -> dict[str, object]:
    """One task in a fresh process tree; wall, CPU by kind, peak resident memory by kind."""
    argv = [sys.executable, "-m", "shared.cli", "run", "vision", "--task", task,
            *[f"--param={k}={v}" for k, v in params.items()]]
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    cpu: dict[int, tuple[str, float]] = {}
    peak: dict[str, int] = {}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            table = _processes()
            tree, todo = [], [proc.pid]
            while todo:
                pid = todo.pop()
                tree.append(pid)
                todo += [p for p, (parent, _) in table.items() if parent == pid]
            now: dict[str, int] = {}
            for pid in tree:
                usage = _usage(pid)
                if usage is not None and pid in table:
                    kind = kind_of(table[pid][1], pid == proc.pid)
                    cpu[pid] = (kind, usage[0])
                    now[kind] = now.get(kind, 0) + usage[1]
            for kind, rss in now.items():
                peak[kind] = max(peak.get(kind, 0), rss)
            done.wait(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = proc.communicate()
    done.set()
    sampler.join()
    if proc.returncode:
        raise RuntimeError(f"vision.{task} failed ({proc.returncode}):\n{output[-3000:]}")
    by_kind: dict[str, float] = {}
    for kind, seconds in cpu.values():
        by_kind[kind] = by_kind.get(kind, 0.0) + seconds
    return {"wall_s": round(time.perf_counter() - started, 1), "cpu_s": round(sum(by_kind.values()), 1),
            "cpu_s_by_kind": {k: round(v, 1) for k, v in sorted(by_kind.items())},
            "peak_rss_mb_by_kind": {k: round(v / 2**20) for k, v in sorted(peak.items())}}


def run_size(images: int, root: Path, extra: dict[str, str]) -> dict[str, object]:
    home = root / f"n{images}"
    home.mkdir(parents=True)
    env = {**os.environ, "USECASES_HOME": str(home), "USECASES_WAREHOUSE": str(home / "warehouse"),
           "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])}
    params = {"n_images": str(images), "generate_data": "true", **extra}
    tasks = {task: run_task(task, params, env) for task in TASKS}
    driver_peak = max(t["peak_rss_mb_by_kind"].get("driver_python", 0) + t["peak_rss_mb_by_kind"].get("spark_jvm", 0)
                      for t in tasks.values())
    return {"images": images, "tasks": tasks, "wall_s": round(sum(t["wall_s"] for t in tasks.values()), 1),
            "cpu_s": round(sum(t["cpu_s"] for t in tasks.values()), 1), "driver_peak_mb": driver_peak,
            "image_folder": str(home / "warehouse" / "_volumes" / "main" / "ml_use_cases" / "vision" / "defect_images")}


def digest(folder: Path, names: set[str] | None = None) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.png")) if names is None or p.relative_to(folder).as_posix() in names}


def run(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks vision_scale")
    parser.add_argument("--images", type=int, default=20_000, help="N (the half run has N/2)")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="another job parameter for both runs")
    args = parser.parse_args(argv)
    from shared.runner import parse_overrides

    extra = parse_overrides(args.param)
    with tempfile.TemporaryDirectory(prefix="vision-scale-") as tmp:
        root = Path(tmp)
        half = run_size(args.images // 2, root, extra)
        full = run_size(args.images, root, extra)
        half_files = digest(Path(str(half.pop("image_folder"))))
        full_files = digest(Path(str(full.pop("image_folder"))), set(half_files))
    ratio = full["wall_s"] / half["wall_s"]
    cpu_ratio = full["cpu_s"] / half["cpu_s"]
    print(f"{args.images // 2:,} images: {half['wall_s']} s wall, {half['cpu_s']} CPU s; {args.images:,} images: "
          f"{full['wall_s']} s wall, {full['cpu_s']} CPU s; ratio {ratio:.2f} wall, {cpu_ratio:.2f} CPU; "
          f"driver peak {full['driver_peak_mb']} MB")
    return {
        "half": half, "full": full, "wall_ratio": round(ratio, 3), "cpu_ratio": round(cpu_ratio, 3),
        "targets": {"full_wall_s": TARGET_SECONDS, "ratio": TARGET_RATIO, "driver_gb": TARGET_DRIVER_GB},
        "within_time_target": full["wall_s"] <= TARGET_SECONDS, "within_ratio_target": ratio <= TARGET_RATIO,
        "within_memory_target": full["driver_peak_mb"] / 1024 < TARGET_DRIVER_GB,
        "identical_generated_images": half_files == full_files and len(half_files) > 0,
    }
