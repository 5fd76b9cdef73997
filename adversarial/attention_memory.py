"""Memory of one call, as memray sees it, and the seed's bar for "never materialized N x N"."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import memray
import numpy as np

# The seed's own bar: the peak during the call stays under this share of one N x N float32 matrix.
PEAK_SHARE_OF_SCORE_MATRIX = 0.3


@dataclass(frozen=True)
class MemoryProfile:
    largest_allocation: int  # bytes, the biggest single allocation made during the call
    peak: int  # bytes, the high-water mark of memory allocated during the call and still held


def memory_profile(call: Callable[[], object], capture: Path) -> MemoryProfile:
    """Run `call` under memray (Python-level allocators off: NumPy buffers come from malloc)."""
    capture = Path(capture)
    capture.unlink(missing_ok=True)
    with memray.Tracker(capture, native_traces=False):
        call()
    reader = memray.FileReader(capture)
    largest = max((record.size for record in reader.get_allocation_records()), default=0)
    return MemoryProfile(largest, reader.metadata.peak_memory)


def quadratic_memory_violations(profile: MemoryProfile, N: int) -> list[str]:
    """Empty when the call stayed clear of an N x N float32 score matrix; else what gave it away."""
    score_matrix = N * N * np.dtype(np.float32).itemsize
    violations = []
    if profile.largest_allocation >= score_matrix:
        violations.append(f"largest allocation {profile.largest_allocation} B >= N*N*4 = {score_matrix} B")
    if profile.peak >= PEAK_SHARE_OF_SCORE_MATRIX * score_matrix:
        violations.append(f"peak {profile.peak} B >= {PEAK_SHARE_OF_SCORE_MATRIX} * N*N*4 B")
    return violations
