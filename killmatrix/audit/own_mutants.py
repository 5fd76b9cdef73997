"""Mutants of the user's own implementation, made by mutmut's mutation engine, judged twice.

mutmut's `create_mutations` lists every node mutation of the file (its operators, its pragmas, its
rules on decorators and defaults); each becomes a whole mutated file with `deep_replace`, mutmut's own
one-node replacement. Mutations outside a top-level function or method (the `__main__` block,
module constants) are dropped, as mutmut drops them, and so are those inside `test*` functions: a
mutant of a test is not a bug of the implementation.

(a) The user's tests run against every mutant in one sandboxed pytest child per lane, a fork per
    mutant (killmatrix/plugins/own_mutant_plugin.py).
(b) Every mutant those tests miss runs through `check`'s machinery (its scratch copy of the suite, its
    plugins, sandbox, watchdog and verdicts) with a `-k` selection of fast correctness properties (the
    registry's `fast_properties`), all of a lane's mutants in ONE pytest child (the plugin's `--own-triage`
    mode): a miss that fails a property the unmutated code passes is a real bug the tests let through; one
    that passes them all likely changes nothing (mutation tools cannot tell; here the suite is the oracle).
    Each verdict is cached by the content of the mutant, the files beside it and the suite.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import json
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

from killmatrix.algorithms import BY_NAME
from killmatrix.audit.own_tests import Staged, pytest_base_args
from killmatrix.execution.executors import Executor, Folder, LocalExecutor, Tree, relocate
from killmatrix.mutation.catalog import ROOT
from killmatrix.mutation.named_runner import child_env
from killmatrix.mutation.result_cache import RUN_INPUTS, ResultCache, inputs_digest
from killmatrix.outside.check_run import (
    EXPLICIT_FAILURE,
    PLUGINS,
    SUITE_DIRS,
    SUITE_PARTS,
    RunSettings,
    _death_outcome,
    _Scratch,
)
from killmatrix.outside.verdicts import CORRECTNESS, property_verdicts
from killmatrix.plugins.pytest_runner import read_outcomes, run_pytest
from killmatrix.sandbox.limits import GiB, Limits


# A few correctness properties that run in seconds and, between them, see every named bug class of the
# algorithm (oracle agreement, masking, tiling, ranking): the full suite per surviving mutant would
# cost minutes each. The unmutated code's full `check` is reported on its own.
def fast_selection(algorithm: str) -> str:
    """The `-k` expression of the algorithm's fast properties (the registry's); empty: every property."""
    return " or ".join(BY_NAME[algorithm].fast_properties)


def _fast_args(algorithm: str) -> list[str] | None:
    return ["-k", fast_selection(algorithm)] if BY_NAME[algorithm].fast_properties else None


# Besides RUN_INPUTS, what a triage verdict depends on: the check machinery it runs the suite with.
TRIAGE_INPUTS = ("killmatrix/outside", "killmatrix/audit/own_mutants.py")
ORACLE_SETTINGS = RunSettings(per_test_timeout_s=20.0, slow_test_timeout_s=40.0, budget_s=120.0,
                              memory_bytes=3 * GiB)


@dataclass(frozen=True)
class OwnMutant:
    id: str  # function__mutmut_N, numbered per function as mutmut numbers them
    function: str  # `Class.method` for a method
    source: str  # the whole mutated file
    diff: str


def _function_name(node) -> str:
    return node.name.value


def _owning_class(method, module) -> str | None:
    """The name of the top-level class whose body holds `method` (None for a function)."""
    import libcst as cst

    return next((node.name.value for node in module.body if isinstance(node, cst.ClassDef)
                 and isinstance(node.body, cst.IndentedBlock) and any(m is method for m in node.body.body)), None)


def implementation_names(source: str, func: str) -> set[str]:
    """The top-level functions and classes `func` uses, transitively: the implementation. A helper only the
    tests call (a naive oracle, an input maker) is test code, and its mutants would be test bugs."""
    tree = ast.parse(source)
    defined = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}
    used, todo = set(), [func]
    while todo:
        name = todo.pop()
        if name in used or name not in defined:
            continue
        used.add(name)
        todo.extend(n.id for n in ast.walk(defined[name]) if isinstance(n, ast.Name))
    return {name for name in used if not name.startswith("test")}


def make_mutants(path: Path, func: str) -> list[OwnMutant]:
    """Every mutmut mutant of `func` and the functions and classes of the file it uses, each as a whole file
    with its diff."""
    from mutmut.mutation.file_mutation import create_mutations, deep_replace

    path = Path(path)
    source = path.read_text(encoding="utf-8")
    # mutmut reads its config (only `do_not_mutate_patterns`, here) from the cwd's setup.cfg/pyproject, and
    # fails where there is none: the user's file is mutated with mutmut's defaults, whatever the cwd holds.
    with mock.patch("mutmut.mutation.pragma_handling.config", lambda: SimpleNamespace(do_not_mutate_patterns=[])):
        module, mutations, _, _ = create_mutations(str(path), source)
    wanted = implementation_names(source, func)
    counters: dict[str, int] = {}
    mutants = []
    for mutation in mutations:
        owner = mutation.contained_by_top_level_function
        if owner is None:
            continue
        owner_class = _owning_class(owner, module)
        if _function_name(owner) not in wanted and owner_class not in wanted:
            continue
        mutated = deep_replace(module, mutation.original_node, mutation.mutated_node).code
        if mutated == source:
            continue
        # A method is named by its class, as mutmut and the ledger name it (`_Sampling.accepts`).
        name = f"{owner_class}.{_function_name(owner)}" if owner_class else _function_name(owner)
        counters[name] = counters.get(name, 0) + 1
        diff = "".join(difflib.unified_diff(source.splitlines(True), mutated.splitlines(True),
                                            f"a/{path.name}", f"b/{path.name}", n=1))
        mutants.append(OwnMutant(f"{name}__mutmut_{counters[name]}", name, mutated, diff))
    return mutants


@dataclass(frozen=True)
class TestsVerdict:
    """What the user's tests said about each mutant, and about the unmutated code."""

    __test__ = False
    tests: tuple[str, ...]
    failing_on_own: dict  # nodeid -> reason: tests that fail on the unmutated code (left out)
    results: dict  # mutant id -> {"status", "killed_by", "detail"}


# A shipping executor (dask) gets lanes of at most this many mutants: a worker that dies re-runs only its lane,
# any number of workers share the load, and progress moves lane by lane. Locally there is one lane per job
# (each lane's child pays collection and the imports once), followed as it goes.
SHIPPED_LANE_SIZE = 8
# A lane's child may run this long per mutant beyond its baseline allowance before it is cut (a safety net: the
# plugin ends each mutant at its own deadline, and a mutant it ends is caught).
LANE_S_PER_MUTANT = 30.0


def split_in_lanes(mutants: list, executor: Executor) -> list[list]:
    """The mutants dealt round-robin into the lanes `executor` runs side by side (none empty)."""
    count = executor.workers if not executor.ships else \
        max(executor.workers, -(-len(mutants) // SHIPPED_LANE_SIZE))
    return [chunk for chunk in (mutants[i::count] for i in range(count)) if chunk]


@dataclass(frozen=True)
class TestsLane:
    """The user's tests against some mutants in one sandboxed pytest child, everything it reads named: the staged
    folder travels with it (as an archive to a worker without this filesystem)."""

    __test__ = False
    staged: Folder
    layout: Staged  # the staging as this machine has it
    mutants: tuple[OwnMutant, ...]
    left_out: tuple[str, ...]
    isolation: bool
    timeout_s: float
    # Progress as the child writes each mutant's result: only where the lane runs in this process.
    on_done: Callable[[int], None] | None = field(default=None, compare=False, repr=False)


def tests_lane_task(lane: TestsLane) -> dict:
    """{"baseline", "results"} of one lane wherever it runs, paths named as the submitting machine names them."""
    with lane.staged.opened() as root:
        return relocate(_run_tests_lane(lane.layout.moved(root), lane), {str(root): lane.staged.origin})


def _run_tests_lane(staged: Staged, lane: TestsLane) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="killmatrix-own-lane-"))
    try:
        (folder / "results").mkdir()
        (folder / "tmp").mkdir()
        manifest = []
        for mutant in lane.mutants:
            file = folder / f"{mutant.id}.py"
            file.write_text(mutant.source, encoding="utf-8")
            manifest.append({"id": mutant.id, "source": str(file)})
        (folder / "manifest.json").write_text(json.dumps(manifest))
        env = {**child_env(staged.root, 2), "TMPDIR": str(folder / "tmp")}
        limits = Limits(timeout_s=lane.timeout_s + LANE_S_PER_MUTANT * len(lane.mutants), memory_bytes=4 * GiB,
                        writable=(str(staged.root), str(folder)) if lane.isolation else None)
        with _DoneCounter(folder / "results", len(lane.mutants), lane.on_done, pattern="[0-9]*.json"):
            run = run_pytest(["-p", "killmatrix.plugins.own_mutant_plugin",
                              f"--own-mutants={folder / 'manifest.json'}", f"--own-file={staged.impl}",
                              f"--own-results={folder / 'results'}", *(f"--deselect={n}" for n in lane.left_out),
                              *pytest_base_args(staged)],
                             cwd=staged.root, env=env, limits=limits, profile="kill")
        baseline_path = folder / "results" / "baseline.json"
        if not baseline_path.exists() or "error" in json.loads(baseline_path.read_text()):
            detail = json.loads(baseline_path.read_text())["error"] if baseline_path.exists() else \
                (run.child.stdout + run.child.stderr).strip()[-800:]
            raise ValueError(f"the tests do not run against the implementation itself: {detail}")
        results = {}
        for i, mutant in enumerate(lane.mutants):
            path = folder / "results" / f"{i}.json"
            results[mutant.id] = json.loads(path.read_text()) if path.exists() else {
                "status": "timeout", "killed_by": "", "detail": f"the lane {run.child.describe} before it ran"}
        return {"baseline": json.loads(baseline_path.read_text()), "results": results}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_tests_on_mutants(staged: Staged, mutants: list[OwnMutant], *, jobs: int, isolation: bool,
                         timeout_s: float = 600.0, on_done: Callable[[int], None] | None = None,
                         left_out: tuple[str, ...] = (), executor: Executor | None = None) -> TestsVerdict:
    """The user's tests against the unmutated file and every mutant, in sandboxed children side by side on
    `executor` (`jobs` local threads by default).

    ValueError when the tests do not even collect (the reason is pytest's)."""
    executor = executor or LocalExecutor(jobs)
    folder = executor.folder(staged.root)
    lanes = [TestsLane(folder, staged, tuple(chunk), tuple(left_out), isolation, timeout_s,
                       None if executor.ships else on_done)
             for chunk in split_in_lanes(mutants, executor) or [[]]]
    count = (lambda lane: on_done(len(lane["results"]))) if executor.ships and on_done is not None else None
    done = executor.map(tests_lane_task, lanes, on_result=count)
    base = done[0]["baseline"]
    results = {k: v for d in done for k, v in d["results"].items()}
    return TestsVerdict(tuple(base["tests"]), dict(base["failing"]), results)


_CONTRACT_SHIM = '''"""The user's function under the contract's API, through their adapter's to_contract."""
import importlib.util
import pathlib
import sys

_here = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(_here))


def _load(name, file):
    spec = importlib.util.spec_from_file_location(name, _here / file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_user = _load({stem!r}, {impl!r})
_adapter = _load("killmatrix_user_adapter", {adapter!r})
contract_target = _adapter.to_contract(getattr(_user, {func!r}))
'''


def contract_target(folder: Path, impl_name: str, func: str, adapter: Path | None) -> str:
    """`PATH:FUNC` that `check` can load: the file itself, or a shim through the adapter's `to_contract`."""
    if adapter is None:
        return f"{folder / impl_name}:{func}"
    (folder / "killmatrix_contract_shim.py").write_text(_CONTRACT_SHIM.format(
        stem=Path(impl_name).stem, impl=impl_name, adapter=Path(adapter).name, func=func))
    return f"{folder / 'killmatrix_contract_shim.py'}:contract_target"


def failing_correctness(verdicts) -> dict[str, str]:
    """Correctness property name -> detail, for every one that gave no pass."""
    return {v.name: v.detail for v in verdicts if v.tier == CORRECTNESS and v.status != "passed"}


def split_detail(detail: str) -> tuple[str, str]:
    """(message, smallest failing input) of a verdict detail."""
    message, _, example = detail.partition(" | smallest failing input: ")
    return message.strip(), example.strip()


def _triage_key(suite: str, staged: Staged, mutant: OwnMutant, func: str, adapter: Path | None) -> str:
    """What a mutant's triage depends on: the suite and its machinery (`suite`), the mutant's file, the staged
    files beside it (what it may import; not their test files nor the staged pytest.ini, which the suite never
    reads, so editing tests kept in their own files re-triages nothing) and the adapter."""
    digest = hashlib.sha256(f"{suite}\0{func}\0{mutant.source}".encode())
    unread = {*staged.test_args, "pytest.ini"}
    for file in sorted(p for p in staged.root.iterdir() if p.is_file() and p != staged.impl and p.name not in unread):
        digest.update(f"\0{file.name}\0".encode() + file.read_bytes())
    if adapter is not None:
        digest.update(b"\0adapter\0" + Path(adapter).read_bytes())
    return digest.hexdigest()


KNOWN_FAILING_FILE = "own-known-failing.json"


def _lane_child(scratch, algorithm: str, manifest: Path, out: Path, settings: RunSettings, deadline: float | None,
                selection: list[str]):
    """One sandboxed pytest child running `selection` of the suite against each mutant of `manifest` not done."""
    remaining = sum(not (out / f"{i}.done").exists() for i in range(len(json.loads(manifest.read_text()))))
    left = settings.budget_s * max(1, remaining) if deadline is None else max(0.0, deadline - time.time())
    limits = Limits(timeout_s=left + settings.budget_s, memory_bytes=settings.memory_bytes, writable=scratch.writable,
                    file_bytes=settings.output_bytes)
    args = [*PLUGINS, "-p", "killmatrix.plugins.own_mutant_plugin", "-m", algorithm, "--show-capture=no",
            "--tb=short", f"--own-triage={manifest}", f"--own-results={out}",
            f"--own-target-env={BY_NAME[algorithm].env}", *([f"--own-deadline={deadline}"] if deadline else []),
            f"--own-known-failing={scratch.root / KNOWN_FAILING_FILE}", *selection]
    return run_pytest(args, cwd=scratch.root, env=scratch.env, limits=limits)


@dataclass(frozen=True)
class TriageLane:
    """Some of the mutants the user's tests missed, judged by the suite in one sandboxed pytest child; the staged
    folder travels with it, the suite is the executor's shared tree."""

    staged: Folder
    impl_path: str  # the implementation's path in the staged folder
    mutants: tuple[OwnMutant, ...]
    algorithm: str
    func: str
    adapter_name: str | None  # the adapter's file in the staged folder
    settings: RunSettings
    deadline: float | None  # seconds since the epoch: no mutant starts after it
    already_failing: tuple[str, ...]
    # Progress as the child marks mutants done: only where the lane runs in this process (never sent away).
    on_done: Callable[[int], None] | None = field(default=None, compare=False, repr=False)


def triage_lane_task(lane: TriageLane, suite_root: Path) -> dict[str, dict | None]:
    """Mutant id -> {correctness property: detail} of each it fails (None: not triaged), wherever it runs."""
    with lane.staged.opened() as root:
        return relocate(_triage_lane(root, lane, suite_root), {str(root): lane.staged.origin})


def _triage_lane(staged_root: Path, lane: TriageLane, suite_root: Path) -> dict[str, dict | None]:
    """One sandboxed pytest child runs the fast properties against every mutant of the lane in turn (a fresh
    child goes on with the rest when one dies in a mutant: that mutant's running test gets the death as its
    outcome)."""
    chunk, algorithm = lane.mutants, lane.algorithm
    scratch = _Scratch(algorithm, "", lane.settings, suite_root)
    try:
        folders = scratch.root / "own-mutants"
        out = scratch.root / "own-results"
        out.mkdir()
        manifest = []
        for index, mutant in enumerate(chunk):
            folder = folders / f"m{index}"
            folder.mkdir(parents=True)
            for file in staged_root.iterdir():
                if file.is_file():
                    shutil.copy2(file, folder / file.name)
            (folder / lane.impl_path).parent.mkdir(parents=True, exist_ok=True)
            (folder / lane.impl_path).write_text(mutant.source, encoding="utf-8")
            manifest.append({"id": mutant.id,
                             "location": contract_target(folder, lane.impl_path, lane.func, lane.adapter_name)})
        (scratch.root / "own-triage.json").write_text(json.dumps(manifest))
        # Property names with a tier suffix name part of a test: that test still runs.
        (scratch.root / KNOWN_FAILING_FILE).write_text(
            json.dumps(sorted(n for n in lane.already_failing if "[" not in n)))
        suite = [d for d in SUITE_DIRS if (scratch.root / d).is_dir()]
        selection = [*(_fast_args(algorithm) or []), *suite]
        outcomes: dict[int, dict] = {}
        with _DoneCounter(out, len(chunk), lane.on_done):
            _run_until_done(scratch, list(chunk), algorithm, out, outcomes, lane.settings, lane.deadline, selection)
        for index in range(len(chunk)):
            if index not in outcomes and (out / f"{index}.done").exists():
                outcomes[index], _, _ = read_outcomes(out / f"{index}.jsonl")
            if index in outcomes:
                _smaller_inputs(outcomes[index], out, index)
        return {mutant.id: failing_correctness(property_verdicts(outcomes[i], [])) if i in outcomes else None
                for i, mutant in enumerate(chunk)}
    finally:
        scratch.cleanup()


def _run_until_done(scratch, chunk: list[OwnMutant], algorithm: str, out: Path, outcomes: dict[int, dict],
                    settings: RunSettings, deadline: float | None, selection: list[str]) -> None:
    """Children on the lane's mutants until each is done or the deadline passed; the outcomes of a mutant a
    child died in go to `outcomes`, its running test's outcome the death."""
    while True:
        pending = [i for i in range(len(chunk)) if not (out / f"{i}.done").exists()]
        if not pending or (deadline is not None and time.time() > deadline):
            break
        watchdog_before = scratch.watchdog.stat().st_size if scratch.watchdog.exists() else 0
        run = _lane_child(scratch, algorithm, scratch.root / "own-triage.json", out, settings, deadline, selection)
        cut = next((i for i in pending if (out / f"{i}.jsonl").exists() and not (out / f"{i}.done").exists()),
                   None)
        if cut is None:
            break  # nothing started (collection or start-up broke, or the deadline passed): no verdict
        found, running, _ = read_outcomes(out / f"{cut}.jsonl")
        if running is not None:
            found[running] = _death_outcome(running, run.child, scratch.watchdog_fired(watchdog_before), settings)
            (out / f"{cut}.jsonl").write_text("")  # judged from `found`, kept out of the reading below
            outcomes[cut] = found
        (out / f"{cut}.done").write_text("")


def _smaller_inputs(outcomes: dict, out: Path, index: int) -> dict:
    """The mutant's outcomes, each failure on an explicit @example replaced by the smaller failing input
    its search in the same child found (`N.shrink.jsonl`, as check_run._search_smaller_inputs keeps them)."""
    found, _, _ = read_outcomes(out / f"{index}.shrink.jsonl")
    for nodeid, better in found.items():
        if nodeid in outcomes and better.outcome == "failed" and better.falsifying \
                and not better.falsifying.startswith(EXPLICIT_FAILURE):
            outcomes[nodeid] = better
    return outcomes


class _DoneCounter:
    """Calls `on_done(n)` as a lane's child marks mutants done (files matching `pattern`), from a polling thread."""

    def __init__(self, out: Path, total: int, on_done: Callable[[int], None] | None, pattern: str = "*.done"):
        self.out, self.total, self.on_done, self.pattern, self.told = out, total, on_done, pattern, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)

    def _tell(self, count: int) -> None:
        if self.on_done is not None and count > self.told:
            self.on_done(count - self.told)
        self.told = max(self.told, count)

    def _poll(self) -> None:
        while not self.stop.wait(0.5):
            self._tell(len(list(self.out.glob(self.pattern))))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()
        self._tell(self.total)  # the ones never started count too: the bar ends with the phase


def triage(staged: Staged, mutants: list[OwnMutant], algorithm: str, func: str, adapter: Path | None,
           already_failing: set[str], *, jobs: int, isolation: bool, budget_s: float | None = None,
           on_done: Callable[[int], None] | None = None, cache: ResultCache | None = None,
           executor: Executor | None = None) -> tuple[list[dict], list[dict], list[dict]]:
    """(missed_real, survive_both, untriaged) of the mutants the user's tests missed, judged by the fast
    properties. All of a lane's mutants run in one sandboxed pytest child (lanes side by side on `executor`,
    `jobs` local threads by default); a mutant not started within `budget_s` seconds stays untriaged; verdicts
    are cached by content."""
    settings = replace(ORACLE_SETTINGS, isolation=isolation)
    deadline = None if budget_s is None else time.time() + budget_s
    cache = cache or ResultCache(None)
    # A mutant's run stops at its first failure outside `already_failing`: its verdict depends on that set.
    suite = inputs_digest(ROOT, [*RUN_INPUTS, *TRIAGE_INPUTS], "own-triage", algorithm, fast_selection(algorithm),
                          ",".join(sorted(already_failing)))
    keys = {m.id: _triage_key(suite, staged, m, func, adapter) for m in mutants}
    failing: dict[str, dict | None] = {}
    for mutant in mutants:
        hit = cache.get("own_triage", keys[mutant.id])
        if hit is not None:
            failing[mutant.id] = hit["failing"]
            if on_done is not None:
                on_done(1)
    todo = [m for m in mutants if m.id not in failing]
    executor = executor or LocalExecutor(jobs)
    folder = executor.folder(staged.root)
    lanes = [TriageLane(folder, staged.impl_path, tuple(chunk), algorithm, func, adapter and Path(adapter).name,
                        settings, deadline, tuple(sorted(already_failing)), None if executor.ships else on_done)
             for chunk in split_in_lanes(todo, executor)]
    count = (lambda verdicts: on_done(len(verdicts))) if executor.ships and on_done is not None else None
    # The suite travels too: a worker judges with this machine's properties, whatever it has installed.
    judged = executor.map(triage_lane_task, lanes, shared=(Tree(ROOT, SUITE_PARTS),), on_result=count)
    for verdicts in judged:
        for mutant_id, found in verdicts.items():
            failing[mutant_id] = found
            if found is not None and not any(name.startswith("<") for name in found):
                cache.put("own_triage", keys[mutant_id], {"failing": found})
    real, both, left = [], [], []
    for mutant in mutants:
        found = failing[mutant.id]
        if found is None or any(name.startswith("<") and name != "<load>" for name in found):
            # Not started in time, or the suite run itself broke (start-up, collection): no verdict either way.
            left.append({"id": mutant.id, "diff": mutant.diff})
            continue
        new = {name: d for name, d in found.items() if name not in already_failing}
        if not new:
            both.append({"id": mutant.id, "diff": mutant.diff})
            continue
        name, detail = next(iter(new.items()))
        message, example = split_detail(detail)
        real.append({"id": mutant.id, "diff": mutant.diff, "property": name, "input": example or message,
                     "message": message})
    return real, both, left
