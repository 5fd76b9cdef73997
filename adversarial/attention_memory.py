"""Memory of one call, as memray (or tracemalloc) sees it, and the seed's bar for "never materialized N x N".

Measured in the process that runs the code: here for the reference and mutants; for outside code,
which runs in its own worker process (killmatrix/outside/remote_target.py), in that worker — this process's
own allocations for a remote call (pickling the arguments, reading the result) are not the call's.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from pathlib import Path

import memray
import numpy as np

# Outside code runs in another process: whoever runs it there registers how its calls are measured, a
# factory `profiler(tracer)` of context managers whose list fills with one record per call made inside
# (largest_allocation, peak, allocations, allocated_bytes). `killmatrix check` registers its confined
# worker's (killmatrix/outside/remote_target.py); the reference and mutants run here and need none.
OUT_OF_PROCESS_PROFILERS: list[Callable[[str], AbstractContextManager[list]]] = []

# The seed's own bar: the peak during the call stays under this share of one N x N float32 matrix.
PEAK_SHARE_OF_SCORE_MATRIX = 0.3


@dataclass(frozen=True)
class MemoryProfile:
    largest_allocation: int | None  # bytes, the biggest single allocation made during the call (None: tracemalloc)
    peak: int  # bytes, the high-water mark of memory allocated during the call and still held
    allocations: int | None = None  # number of allocations made during the call (memray only)
    allocated_bytes: int | None = None  # their total size, freed or not (memray only)


def memory_profile(call: Callable[[], object], capture: Path | None = None, *, tracer: str = "memray"
                   ) -> MemoryProfile:
    """Run `call` under `tracer`: memray (Python-level allocators off: NumPy buffers come from malloc;
    its capture goes to `capture`) or tracemalloc (peak only). When `call` calls outside code, its
    calls are measured in the worker that runs them, and their largest allocation and peak reported."""
    with ExitStack() as stack:
        measured = [stack.enter_context(profiler(tracer)) for profiler in OUT_OF_PROCESS_PROFILERS]
        local = _local_profile(call, capture, tracer)
    remote = [record for records in measured for record in records]
    if not remote:
        return local
    largest = [m.largest_allocation for m in remote if m.largest_allocation is not None]
    counted = [m for m in remote if m.allocations is not None]
    return MemoryProfile(max(largest) if largest else None, max(m.peak for m in remote),
                         sum(m.allocations for m in counted) if counted else None,
                         sum(m.allocated_bytes for m in counted) if counted else None)


def _local_profile(call: Callable[[], object], capture: Path | None, tracer: str) -> MemoryProfile:
    if tracer == "tracemalloc":
        tracemalloc.start()
        try:
            call()
            return MemoryProfile(None, tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    if capture is None:
        raise ValueError("memray needs a capture file path")
    capture = Path(capture)
    capture.unlink(missing_ok=True)
    with memray.Tracker(capture, native_traces=False):
        call()
    reader = memray.FileReader(capture)
    sizes = allocation_sizes(reader)
    return MemoryProfile(max(sizes, default=0), reader.metadata.peak_memory, len(sizes), sum(sizes))


def quadratic_memory_violations(profile: MemoryProfile, N: int) -> list[str]:
    """Empty when the call stayed clear of an N x N float32 score matrix; else what gave it away."""
    score_matrix = N * N * np.dtype(np.float32).itemsize
    violations = []
    if profile.largest_allocation >= score_matrix:
        violations.append(f"largest allocation {profile.largest_allocation} B >= N*N*4 = {score_matrix} B")
    if profile.peak >= PEAK_SHARE_OF_SCORE_MATRIX * score_matrix:
        violations.append(f"peak {profile.peak} B >= {PEAK_SHARE_OF_SCORE_MATRIX} * N*N*4 B")
    return violations


def allocation_sizes(reader) -> list[int]:
    """The size of every allocation in a memray capture (frees and unmaps left out)."""
    releases = {int(a) for a in memray.AllocatorType if a.name.endswith("FREE") or a.name == "MUNMAP"}
    return [record.size for record in reader.get_allocation_records()
            if record.size > 0 and int(record.allocator) not in releases]

