"""Memory of one call, as memray (or tracemalloc) sees it, and the seed's bar for "never materialized N x N".

Measured in the process that runs the code: here for the reference and mutants; for outside code,
which runs in its own worker process (killmatrix/outside/remote_target.py), in that worker — this process's
own allocations for a remote call (pickling the arguments, reading the result) are not the call's.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import memray
import numpy as np

from killmatrix.outside.remote_target import allocation_sizes, profiled_calls

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
    with profiled_calls(tracer) as remote:
        local = _local_profile(call, capture, tracer)
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
