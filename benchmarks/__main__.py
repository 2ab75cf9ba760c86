"""Run one benchmark: ``python -m benchmarks <name> [args...]``.

Each benchmark module has ``run(argv: list[str]) -> dict``; the result is printed and written to
``benchmarks/results/<name>.json`` (or the ``result_file`` the result names) with the machine it ran on.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, object]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def main(argv: list[str]) -> int:
    available = sorted(p.stem for p in Path(__file__).parent.glob("*.py") if not p.stem.startswith("_"))
    if not argv or argv[0] not in available:
        print(f"usage: python -m benchmarks <name> [args]; names: {', '.join(available)}", file=sys.stderr)
        return 2
    name = argv[0]
    module = importlib.import_module(f"benchmarks.{name}")
    result = {"benchmark": name, "machine": machine(), **module.run(argv[1:])}
    RESULTS.mkdir(exist_ok=True)
    # A benchmark run per subject (e.g. scale per job) names its own file so runs of different subjects coexist.
    out = RESULTS / f"{result.pop('result_file', name)}.json"
    out.write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps(result, indent=2, default=str))
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
