"""Process-tree helpers shared by benchmarks that measure CPU and memory from /proc (Linux)."""

from __future__ import annotations


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (empty where /proc cannot say: not Linux, or the process is gone)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as fh:
            return [int(p) for p in fh.read().split()]
    except OSError:
        return []
