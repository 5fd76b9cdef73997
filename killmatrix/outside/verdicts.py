"""Turn the raw outcomes of a sandboxed run into one verdict per property, in words a person can read,
and the properties into the run's verdict, tier by tier (killmatrix/tiers.py, docs/CONTRACT.md).

A property is a test function; its parametrized cases are folded into one verdict (the worst case
wins, and the detail names the failing cases). A refused write outside the scratch directory, a
memory bomb or an output flood is an `error` whatever the assertion said; a failure's detail is the
assertion message and the smallest failing input Hypothesis shrank to.

Only correctness decides: `pass` needs every selected correctness property to have run to a result
and passed, and at least one to have run. A skipped extension is `unsupported`; a supported one that
fails fails the verdict, named as that extension. Hardening is a score of bad inputs rejected and
performance a set of figures; neither changes the verdict.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from killmatrix.algorithms import ALGORITHMS
from killmatrix.plugins.pytest_runner import TestOutcome
from killmatrix.tiers import (
    CORRECTNESS,
    EXTENSION,
    HARDENING,
    NOT_APPLICABLE_PREFIX,
    PERFORMANCE,
    TIERS,
    Tier,
    UntieredTest,
    tier_of,
)

STATUSES = ("passed", "failed", "error", "timeout", "skipped", "unsupported", "not_applicable")
# Which status a property gets when its cases disagree: the most alarming one present.
_SEVERITY = ("timeout", "error", "failed", "passed", "skipped", "not_applicable")
# What a property whose every case skipped is, by tier: a correctness skip stays `skipped` (a fail).
_ALL_SKIPPED = {EXTENSION: "unsupported", HARDENING: "not_applicable", PERFORMANCE: "not_applicable"}
_BROKEN = ("failed", "error", "timeout")
NO_RESULT = "no result: the test process ended before this test reported (it never ran to an end)"
_FIXTURE_ARG = re.compile(rf"^({'|'.join(a.fixture for a in ALGORITHMS)})=")
_COMMENT = re.compile(r"#[^\n]*")
_ARRAY_SHAPE = re.compile(r"shape=(\([\d, ]*\))")
_ARRAY_DTYPE = re.compile(r"dtype=(\w+)")
_MEMORY_SIGNS = ("MemoryError", "Unable to allocate")
_REMOTE_FAILURE = re.compile(r"^(?:killmatrix\.remote_target\.)?Target(Timeout|ProcessDied|ProtocolError|LoadError): ")
_FLOOD_SIGNS = ("[Errno 27]", "File too large")
DETAIL_CHARS = 600
MESSAGE_CHARS = 240


@dataclass(frozen=True)
class PropertyVerdict:
    name: str  # the test id: path::function
    status: str  # one of STATUSES
    detail: str = ""
    tier: str = CORRECTNESS  # one of killmatrix.tiers.TIERS
    feature: str | None = None  # the extension's feature
    cases: tuple[int, int] = (0, 0)  # (passed, ran): cases that ran to a pass, of those that were not skipped
    figures: dict = field(default_factory=dict, compare=False)  # performance numbers the test recorded

    @property
    def family(self) -> str:
        return family_of(self.name)

    def to_json(self) -> dict:
        return {"name": self.name, "status": self.status, "detail": self.detail, "tier": self.tier,
                "feature": self.feature}


def tier_of_property(name: str) -> Tier:
    """The property's tier; a verdict about the run itself (`<suite>`) or a test the registry does not
    know (a suite other than ours) counts as correctness, so it can never be ignored."""
    if name.startswith("<"):
        return Tier(CORRECTNESS)
    try:
        return tier_of(name)
    except UntieredTest:
        return Tier(CORRECTNESS)


def family_of(test_id: str) -> str:
    """The property family: the test module's name without `test_` and the algorithm's own prefix."""
    if test_id.startswith("<"):
        return "sandbox"  # a verdict about the run itself (start-up, a refusal between tests)
    module = PurePosixPath(test_id.split("::", 1)[0]).stem
    family = module.removeprefix("test_")
    # The longest prefix first: `attention_bwd_` before `attention_`.
    for prefix in sorted((a.test_prefix for a in ALGORITHMS), key=len, reverse=True):
        if family.startswith(prefix):
            family = family.removeprefix(prefix)
            break
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


# Lines that are pieces of a traceback, never a message: carets under source, frames, group borders.
_TRACEBACK_FRAGMENT = re.compile(r"^[\s^~]*$|^(File \"|Traceback \(|\+[-+ ]|\| |> )|^\W{1,3}$|^['\"\w.]*['\"]?\),?$")


def _assertion_message(detail: str) -> str:
    """The first line of the failure that is a message (the plugin puts the assertion's message or
    `ExceptionType: message` first), without pytest's `+ where` expansion and never a traceback fragment."""
    for line in detail.splitlines():
        line = line.strip()
        if line and not _TRACEBACK_FRAGMENT.match(line):
            return line.split(" +  where ", 1)[0][:MESSAGE_CHARS]
    return ""


def _case_verdict(outcome: TestOutcome, refused: list[str]) -> tuple[str, str]:
    if refused:  # each says what was tried (killmatrix/sandbox/write_guard.py)
        return "error", "; ".join(refused[:3])
    text = outcome.detail
    remote = _REMOTE_FAILURE.match(_assertion_message(text)) if outcome.outcome in ("failed", "error") else None
    if remote:  # the implementation's process hung, ended or misbehaved (killmatrix/outside/remote_target.py)
        return "timeout" if remote.group(1) == "Timeout" else "error", _assertion_message(text)[remote.end():]
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
    reason = text.strip().split("\n", 1)[0]  # a skip's reason, without Hypothesis's notes
    if outcome.outcome == "skipped" and reason.startswith(NOT_APPLICABLE_PREFIX):
        # The checker itself supplied what the test checks (adapters.not_applicable): no pass, no miss.
        return "not_applicable", reason.removeprefix(NOT_APPLICABLE_PREFIX)
    return outcome.outcome, reason


def _case_label(nodeid: str) -> str:
    return nodeid[nodeid.index("[") :] if "[" in nodeid else ""


def property_verdicts(outcomes: dict[str, TestOutcome], write_attempts: list[dict],
                      selected: list[str] | None = None) -> list[PropertyVerdict]:
    """One verdict per test function, in the order the tests ran; a `selected` test with no outcome is
    an error (the process ended before it reported)."""
    outcomes = dict(outcomes)
    for nodeid in selected or ():
        outcomes.setdefault(nodeid, TestOutcome(nodeid, "error", NO_RESULT))
    refused: dict[str, list[str]] = {}
    for record in write_attempts:
        refused.setdefault(record["nodeid"], []).append(record["attempt"])
    # A property is a test function, or the part of it in one tier when its cases span two.
    grouped: dict[tuple[str, Tier], list[tuple[str, str, str]]] = {}
    figures: dict[tuple[str, Tier], dict] = {}
    for nodeid, outcome in outcomes.items():
        status, detail = _case_verdict(outcome, refused.pop(nodeid, []))
        key = (outcome.test_id, tier_of_property(nodeid))
        grouped.setdefault(key, []).append((status, detail, _case_label(nodeid)))
        figures.setdefault(key, {}).update(getattr(outcome, "figures", None) or {})
    tiers_per_test: dict[str, int] = {}
    for test_id, _ in grouped:
        tiers_per_test[test_id] = tiers_per_test.get(test_id, 0) + 1
    verdicts = [_fold(test_id if tiers_per_test[test_id] == 1 else f"{test_id}[{tier.feature or tier.name}]",
                      cases, figures[(test_id, tier)], tier)
                for (test_id, tier), cases in grouped.items()]
    # A refusal while no test ran (module import, between tests) still deserves a verdict.
    outside_tests = [attempt for attempts in refused.values() for attempt in attempts]
    if outside_tests:
        verdicts.append(PropertyVerdict("<outside any test>", "error", "; ".join(outside_tests[:3])))
    return verdicts


def _fold(name: str, cases: list[tuple[str, str, str]], figures: dict | None = None,
          tier: Tier | None = None) -> PropertyVerdict:
    tier = tier or tier_of_property(name)
    statuses = {status for status, _, _ in cases}
    status = next(s for s in _SEVERITY if s in statuses)
    if status in ("passed", "skipped", "not_applicable"):
        detail = next((d for s, d, _ in cases if s == status and d), "")
        if status == "passed" and "skipped" in statuses:
            detail = f"some cases skipped: {next(d for s, d, _ in cases if s == 'skipped')}"
        if status == "skipped":
            status = _ALL_SKIPPED.get(tier.name, "skipped")
    else:
        bad = [(label, d) for s, d, label in cases if s == status]
        label, detail = bad[0]
        if len(cases) > 1:
            detail = f"{len(bad)} of {len(cases)} cases, first {label}: {detail}"
    ran = [s for s, _, _ in cases if s not in ("skipped", "not_applicable")]
    counts = (sum(s == "passed" for s in ran), len(ran))
    return PropertyVerdict(name, status, detail[:DETAIL_CHARS], tier.name, tier.feature, counts, dict(figures or {}))


# The run's verdict ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Judgement:
    """The verdict of a run and why, with every tier's summary."""

    verdict: str  # "pass" | "fail"
    reason: str  # the first thing that made it fail, or "" for a pass
    correctness: tuple[int, int]  # (passed, total)
    extensions: dict[str, str]  # feature -> "supported" | "unsupported" | "fails"
    hardening: tuple[int, int]  # (bad inputs rejected, bad inputs tried)
    figures: dict[str, float | int | str]
    first_failure: PropertyVerdict | None = None

    def tiers_json(self) -> dict:
        return {
            "correctness": {"passed": self.correctness[0], "total": self.correctness[1]},
            "extensions": dict(self.extensions),
            "hardening": {"rejected": self.hardening[0], "total": self.hardening[1]},
            "performance": {"figures": dict(self.figures)},
        }


def extension_support(verdicts: list[PropertyVerdict]) -> dict[str, str]:
    """Per feature: `fails` if any of its tests broke, `supported` if one passed, else `unsupported`."""
    support: dict[str, str] = {}
    for v in verdicts:
        if v.tier != EXTENSION:
            continue
        now = "fails" if v.status in _BROKEN else "supported" if v.status == "passed" else "unsupported"
        before = support.get(v.feature, "unsupported")
        support[v.feature] = max(before, now, key=("unsupported", "supported", "fails").index)
    return support


def judge_verdicts(verdicts: list[PropertyVerdict]) -> Judgement:
    """The run's verdict: correctness alone decides, a broken supported extension fails it too."""
    by_tier = {tier: [v for v in verdicts if v.tier == tier] for tier in TIERS}
    # A correctness property that cannot fail for this target's result shape is neither a pass nor a miss.
    correctness = [v for v in by_tier[CORRECTNESS] if v.status != "not_applicable"]
    passed = sum(v.status == "passed" for v in correctness)
    hardening = tuple(map(sum, zip(*(v.cases for v in by_tier[HARDENING]), strict=True))) or (0, 0)
    figures = {}
    for v in verdicts:
        figures.update(v.figures)
    first = next((v for v in correctness if v.status != "passed"), None)
    broken_extension = next((v for v in by_tier[EXTENSION] if v.status in _BROKEN), None)
    if first is not None:
        reason = f"correctness {_short(first.name)} {first.status}" + (f": {first.detail}" if first.detail else "")
    elif broken_extension is not None:
        first = broken_extension
        reason = f"extension {first.feature}: {_short(first.name)} {first.status}: {first.detail}"
    elif not passed:
        reason = "no correctness property ran to a result"
    else:
        reason = ""
    return Judgement("fail" if reason else "pass", reason, (passed, len(correctness)),
                     extension_support(verdicts), hardening, figures, first)


def _short(name: str) -> str:
    return name.split("::", 1)[-1]


def selects_no_correctness(verdicts: list[PropertyVerdict]) -> bool:
    """True when the selection held no correctness property at all (a `-k` that matches none of them)."""
    return not any(v.tier == CORRECTNESS for v in verdicts)


def overall(verdicts: list[PropertyVerdict]) -> str:
    """`pass` or `fail`, by the tier rule of `judge_verdicts`."""
    return judge_verdicts(verdicts).verdict
