"""Ending a property that cannot fail for the target at hand: its result would say nothing.

A skip whose reason starts with NOT_APPLICABLE_PREFIX is reported `not_applicable` by `check` (and counts
neither as passed nor in the correctness total): e.g. a beam target that returns `(tokens, logprob)` pairs
has no score or finished flag of its own to check. killmatrix reads the same prefix (killmatrix/tiers.py;
tests/test_suite_conventions.py keeps the two equal).
"""

from __future__ import annotations

from typing import NoReturn

import pytest

NOT_APPLICABLE_PREFIX = "not applicable: "


def not_applicable(reason: str) -> NoReturn:
    pytest.skip(NOT_APPLICABLE_PREFIX + reason)
