"""float16 inputs: the reference must accumulate in float32; outside code may compute in float16.

The seed never asks for float16, so for outside code it is an extension: computing in the input dtype
is an accepted convention, reported as such (the target's `accept_convention`), while results beyond
float16's own accuracy are still a failure. The reference and its mutants keep the strict check, which
is what kills the float16-accumulation mutants.
"""

from __future__ import annotations

from collections.abc import Callable

FEATURE = "float32 accumulation of float16 inputs"


def check_float16_accumulation(target, strict: Callable[[], None], within_float16_accuracy: Callable[[], None]) -> None:
    """Run `strict` (an assertion that float16 inputs were accumulated in float32) on the reference;
    for outside code, first `within_float16_accuracy` (a failure there is a real bug), then `strict`,
    whose failure only says the target computes in float16."""
    if target.is_reference:
        strict()
        return
    within_float16_accuracy()
    try:
        strict()
    except AssertionError as exc:
        first_line = (str(exc).strip().splitlines() or ["its float16 results carry float16 rounding"])[0]
        target.accept_convention(FEATURE, f"it computes float16 inputs in float16 ({first_line})")
