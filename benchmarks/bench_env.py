"""What every benchmark prints beside its figures, and how it times them.

The machine (CPU model, cores this process may use, load average), the BLAS and OpenMP
libraries loaded and the kernel each picked (threadpoolctl), and the OpenBLAS variables
that override that choice. Timings are interleaved (anchor, project, anchor, ...) and the
best of at least three repeats is kept: on a shared machine the minimum is the cost.
"""

from __future__ import annotations

import datetime
import os
import platform
import resource
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

MIN_REPEATS = 3
OPENBLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def blas_kernels() -> list[str]:
    """One line per BLAS/OpenMP library loaded so far (import numpy, faiss, torch first)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return ["threadpoolctl not installed (pip install threadpoolctl): kernel unknown"]
    lines = []
    for info in threadpool_info():  # empty until a library that uses BLAS is imported
        name = os.path.basename(str(info.get("filepath", "?")))
        kernel = info.get("architecture")
        details = [
            f"{info.get('internal_api')} {info.get('version') or ''}".strip(),
            f"{info.get('num_threads')} threads",
        ]
        if kernel:
            details.insert(1, f"kernel {kernel}")
        lines.append(f"{name}: {', '.join(details)}")
    return lines


def machine_lines() -> list[str]:
    overrides = [f"{v}={os.environ[v]}" for v in OPENBLAS_VARIABLES if v in os.environ]
    return [
        f"date: {datetime.datetime.now().astimezone().isoformat(timespec='minutes')}",
        f"cpu: {cpu_model()}, {usable_cores()} usable cores, load average {load_average()}",
        f"python {platform.python_version()}; BLAS environment: {', '.join(overrides) if overrides else 'none set'}",
        *(f"blas: {line}" for line in blas_kernels()),
    ]


def print_machine(title: str) -> None:
    """The header of a benchmark's output; call it after importing the libraries it times."""
    print(f"== {title}")
    for line in machine_lines():
        print(f"   {line}")


@dataclass(frozen=True)
class Timing:
    """Best wall and CPU seconds over the repeats (each minimum on its own)."""

    wall_s: float
    cpu_s: float
    repeats: int
    value: Any = None


def best_of(repeats: int, contenders: Mapping[str, Callable[[], Any]]) -> dict[str, Timing]:
    """Run each contender ``repeats`` times, interleaved, and keep each one's fastest run.

    CPU time counts this process and its finished children (commands run as subprocesses).
    """
    repeats = max(MIN_REPEATS, repeats)
    wall = dict.fromkeys(contenders, float("inf"))
    cpu = dict.fromkeys(contenders, float("inf"))
    values: dict[str, Any] = {}
    for _ in range(repeats):
        for name, run in contenders.items():
            cpu_before = _cpu_seconds()
            started = time.perf_counter()
            values[name] = run()
            wall[name] = min(wall[name], time.perf_counter() - started)
            cpu[name] = min(cpu[name], _cpu_seconds() - cpu_before)
    return {name: Timing(wall[name], cpu[name], repeats, values[name]) for name in contenders}


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
