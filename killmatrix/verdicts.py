"""Turn the raw outcomes of a sandboxed run into one verdict per property, in words a person can read.

A property is a test function; its parametrized cases are folded into one verdict (the worst case
wins, and the detail names the failing cases). A refused write outside the scratch directory, a
memory bomb or an output flood is an `error` whatever the assertion said; a failure's detail is the
assertion message and the smallest failing input Hypothesis shrank to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from killmatrix.pytest_runner import TestOutcome
from killmatrix.targets import ENV

STATUSES = ("passed", "failed", "error", "timeout", "skipped")
# Which status a property gets when its cases disagree: the most alarming one present.
_SEVERITY = ("timeout", "error", "failed", "passed", "skipped")
_FIXTURE_ARG = re.compile(rf"^({'|'.join(f'{name}_impl' for name in ENV)})=")
_COMMENT = re.compile(r"#[^\n]*")
_ARRAY_SHAPE = re.compile(r"shape=(\([\d, ]*\))")
_ARRAY_DTYPE = re.compile(r"dtype=(\w+)")
_MEMORY_SIGNS = ("MemoryError", "Unable to allocate")
_FLOOD_SIGNS = ("[Errno 27]", "File too large")
DETAIL_CHARS = 600
MESSAGE_CHARS = 240


@dataclass(frozen=True)
class PropertyVerdict:
    name: str  # the test id: path::function
    status: str  # one of STATUSES
    detail: str = ""

    @property
    def family(self) -> str:
        return family_of(self.name)

    def to_json(self) -> dict:
        return {"name": self.name, "status": self.status, "detail": self.detail}


def family_of(test_id: str) -> str:
    """The property family: the test module's name without `test_` and the algorithm's own prefix."""
    if test_id.startswith("<"):
        return "sandbox"  # a verdict about the run itself (start-up, a refusal between tests)
    module = PurePosixPath(test_id.split("::", 1)[0]).stem
    family = module.removeprefix("test_")
    for prefix in ("attention_", "beam_"):
        family = family.removeprefix(prefix)
    return family or module


def _top_level_args(text: str) -> list[str]:
    """Split `a=1, b=f(x, y)` at the commas that are not inside brackets or quotes."""
    args, depth, quote, current = [], 0, "", []
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            args.append("".join(current))
            current = []
            continue
        current.append(ch)
    args.append("".join(current))
    return [a.strip() for a in args if a.strip()]


def _compact_arrays(text: str) -> str:
    """`array([[...]], shape=(2, 3, 9), dtype=float32)` -> `<float32 array (2, 3, 9)>`; small arrays,
    printed whole (no shape), stay as they are."""
    out, i = [], 0
    while (start := text.find("array(", i)) != -1:
        depth, end = 0, start + len("array")
        for end in range(start + len("array"), len(text)):
            depth += {"(": 1, ")": -1}.get(text[end], 0)
            if depth == 0:
                break
        body = text[start : end + 1]
        shape, dtype = _ARRAY_SHAPE.search(body), _ARRAY_DTYPE.search(body)
        out.append(text[i:start])
        out.append(f"<{dtype.group(1) if dtype else 'float64'} array {shape.group(1)}>" if shape else body)
        i = end + 1
    return "".join(out) + text[i:]


def readable_example(falsifying: str) -> str:
    """Hypothesis's shrunk example as `name=value, ...` on one line, without the fixture arguments."""
    first = falsifying.strip().split("\n", 1)[0]
    if "(" not in first:
        return ""
    call = falsifying.strip()
    inner = call[call.index("(") + 1 : call.rindex(")")] if ")" in call else call[call.index("(") + 1 :]
    # Drop Hypothesis's remarks (`# or any other generated value`) and the fixtures.
    inner = _COMMENT.sub("", inner)
    args = (" ".join(arg.split()) for arg in _top_level_args(inner))
    kept = [arg for arg in args if arg and not _FIXTURE_ARG.match(arg)]
    return _compact_arrays(", ".join(kept))


def _assertion_message(detail: str) -> str:
    """The first line of the failure, without pytest's `+ where` expansion of the operands."""
    for line in detail.splitlines():
        if line.strip():
            return line.strip().split(" +  where ", 1)[0][:MESSAGE_CHARS]
    return ""


def _case_verdict(outcome: TestOutcome, refused: list[str]) -> tuple[str, str]:
    if refused:
        return "error", f"tried to change files outside its scratch directory (refused): {'; '.join(refused[:3])}"
    text = outcome.detail
    if outcome.outcome in ("failed", "error") and any(s in text for s in _MEMORY_SIGNS):
        return "error", f"ran out of memory under the sandbox limit: {_assertion_message(text)[:200]}"
    if outcome.outcome in ("failed", "error") and any(s in text for s in _FLOOD_SIGNS):
        return "error", "flooded its output past the size limit"
    if outcome.outcome == "failed":
        message = _assertion_message(text)
        example = readable_example(outcome.falsifying)
        return "failed", f"{message} | smallest failing input: {example}" if example else message
    if outcome.outcome == "error":
        return "error", _assertion_message(text) or text[-300:]
    return outcome.outcome, text.strip().split("\n", 1)[0]  # a skip's reason, without Hypothesis's notes


def _case_label(nodeid: str) -> str:
    return nodeid[nodeid.index("[") :] if "[" in nodeid else ""


def property_verdicts(outcomes: dict[str, TestOutcome], write_attempts: list[dict]) -> list[PropertyVerdict]:
    """One verdict per test function, in the order the tests ran."""
    refused: dict[str, list[str]] = {}
    for record in write_attempts:
        refused.setdefault(record["nodeid"], []).append(record["attempt"])
    grouped: dict[str, list[tuple[str, str, str]]] = {}
    for nodeid, outcome in outcomes.items():
        status, detail = _case_verdict(outcome, refused.pop(nodeid, []))
        grouped.setdefault(outcome.test_id, []).append((status, detail, _case_label(nodeid)))
    verdicts = [_fold(name, cases) for name, cases in grouped.items()]
    # A refusal while no test ran (module import, between tests) still deserves a verdict.
    outside_tests = [attempt for attempts in refused.values() for attempt in attempts]
    if outside_tests:
        verdicts.append(PropertyVerdict("<outside any test>", "error",
                                        f"tried to change files outside its scratch directory (refused): "
                                        f"{'; '.join(outside_tests[:3])}"))
    return verdicts


def _fold(name: str, cases: list[tuple[str, str, str]]) -> PropertyVerdict:
    statuses = {status for status, _, _ in cases}
    status = next(s for s in _SEVERITY if s in statuses)
    if status in ("passed", "skipped"):
        detail = next((d for s, d, _ in cases if s == status and d), "")
        if status == "passed" and "skipped" in statuses:
            detail = f"some cases skipped: {next(d for s, d, _ in cases if s == 'skipped')}"
    else:
        bad = [(label, d) for s, d, label in cases if s == status]
        label, detail = bad[0]
        if len(cases) > 1:
            detail = f"{len(bad)} of {len(cases)} cases, first {label}: {detail}"
    return PropertyVerdict(name, status, detail[:DETAIL_CHARS])


def overall(verdicts: list[PropertyVerdict]) -> str:
    """`pass` when nothing failed, errored or timed out (skips are not failures)."""
    return "fail" if any(v.status in ("failed", "error", "timeout") for v in verdicts) else "pass"
