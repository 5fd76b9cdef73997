"""What counts as rejecting bad input: strict for the reference, lenient for outside code.

The reference (and every mutant of it) must raise the contract's ValueError with a message that
names the argument, so a mutant that drops a check or garbles a message is still killed. Outside
code answers to the hardening tier only: any exception with a non-empty message is a clear
rejection. Returning an answer (silent garbage), an exception without a message, a hang or a dead
process is not; the last two are the runner's verdicts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


@contextmanager
def rejects(target, *patterns: str) -> Iterator[None]:
    """The block must raise. For the reference: a ValueError whose message matches every regex in
    `patterns` (re.search, as pytest.raises(match=...)); for outside code: any Exception with a message.

    A skip (a feature the target lacks) passes through: it is not a rejection and not a failure."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - any exception is what outside code is allowed to raise
        message = str(exc).strip()
        if not target.is_reference:
            assert message, f"rejected the bad input with {type(exc).__name__} but no message"
            return
        assert isinstance(exc, ValueError), f"raised {type(exc).__name__}: {message}; the contract asks ValueError"
        for pattern in patterns:
            assert re.search(pattern, str(exc)), f"ValueError message {message!r} does not match {pattern!r}"
    else:
        pytest.fail("accepted the bad input: returned without raising")
