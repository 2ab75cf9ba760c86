"""The /proc helpers find children a thread started (a JVM starts Spark's Python daemon from a worker thread)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from benchmarks._proc import children, cpu_seconds, tree_cpu_seconds

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="needs Linux /proc")


def test_a_child_started_by_another_thread_is_found_and_its_cpu_counted() -> None:
    started: list[subprocess.Popen] = []
    checked = threading.Event()
    spin = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass\ntime.sleep(30)"

    def start_and_stay() -> None:  # the forking thread stays alive, as a JVM's worker thread does
        started.append(subprocess.Popen([sys.executable, "-c", spin]))
        checked.wait(30)

    thread = threading.Thread(target=start_and_stay)
    thread.start()
    try:
        while not started:
            time.sleep(0.01)
        child = started[0]
        time.sleep(1.0)
        main_thread_children = open(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read().split()
        assert str(child.pid) not in main_thread_children  # what a main-thread-only lookup would miss
        assert child.pid in children(os.getpid())
        assert cpu_seconds(child.pid) >= 0.2
        assert tree_cpu_seconds() >= cpu_seconds(os.getpid()) + cpu_seconds(child.pid) - 0.05
    finally:
        checked.set()
        thread.join()
        for process in started:
            process.kill()
            process.wait()
