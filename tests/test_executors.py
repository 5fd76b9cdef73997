"""The executors: a grade or a mutant run on a dask cluster gives what the local pool gives, a worker killed
mid-run loses and doubles nothing, a warm rerun starts no task, an unreachable scheduler is one line and exit 2.

The cluster is a LocalCluster of 2 single-threaded worker processes (what `--scheduler local` starts); the
submissions are a handful of tiny ones graded on two fast correctness properties, so the module takes seconds
of pytest children, not minutes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import textwrap
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from killmatrix.commands.arguments import isolation
from killmatrix.commands.check import settings_from_options
from killmatrix.commands.grade import grade_all
from killmatrix.execution.archives import Archive
from killmatrix.execution.executors import DaskExecutor, LocalExecutor, without_times
from killmatrix.mutation.catalog import ROOT, Edit, NamedMutant
from killmatrix.mutation.mutmut_runner import MutmutRunner
from killmatrix.mutation.named_runner import run_named_mutants
from killmatrix.mutation.result_cache import ResultCache
from killmatrix.outside.submissions import discover
from tests.outward_cli import outward_app

from .conftest import write_tree

pytest.importorskip("distributed")

EXAMPLES = ROOT / "examples" / "submissions"
# One quick correctness property per algorithm: each submission is a load check and one short pytest child.
SELECTION = "finished_beam_outranks or seed_small_shape_matches_naive"
SUBMISSIONS = ("beam_correct", "flash_correct", "flash_inverted_rescale")


@pytest.fixture(scope="module")
def cluster():
    with DaskExecutor("local", jobs=2) as executor:
        yield executor


@pytest.fixture(scope="module")
def submissions(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("submissions")
    for name in SUBMISSIONS:
        shutil.copytree(EXAMPLES / name, folder / name)
    # A load error names the file: its path must come back as this machine's, not the worker's unpacked copy.
    (folder / "broken").mkdir()
    (folder / "broken" / "beam.py").write_text("def beam_search(:\n")
    return folder


def grade_json(out: Path, directory: Path, *options: str) -> dict:
    result = CliRunner().invoke(outward_app(), ["grade", str(directory), "-k", SELECTION, "--jobs", "2",
                                                "--json", str(out), *options])
    assert result.exit_code == 1, result.output  # the buggy and the broken submissions fail
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def local_grade(submissions, tmp_path_factory) -> dict:
    """The reference: `grade` as killmatrix always ran it, in local threads."""
    return grade_json(tmp_path_factory.mktemp("local") / "grade.json", submissions)


def test_grade_on_dask_gives_the_local_json(cluster, submissions, local_grade, tmp_path):
    remote = grade_json(tmp_path / "grade.json", submissions, "--executor", "dask", "--scheduler",
                        cluster.client.scheduler.address)
    local = local_grade
    assert without_times(remote) == without_times(local)
    rows = {row["name"]: row for row in local["submissions"]}
    # The comparison means something only if the run judged: a pass, a named failure and a load error.
    assert rows["beam_correct"]["verdict"] == "pass" and rows["flash_inverted_rescale"]["verdict"] == "fail"
    assert str(submissions / "broken") in rows["broken"]["load_error"] + rows["broken"]["target"]


def test_a_worker_killed_mid_run_loses_and_doubles_nothing(cluster, submissions, local_grade):
    # The command's defaults, confined as the command confines them.
    settings = settings_from_options(15.0, 60.0, 120.0, 3.0, isolation("grade", False))
    found = discover(submissions)

    arrived, outcome = [], {}

    def grade_on_cluster():
        outcome["rows"] = grade_all(found, submissions, settings, cluster, ["-k", SELECTION], on_row=arrived.append)

    client = cluster.client
    thread = threading.Thread(target=grade_on_cluster)
    thread.start()
    deadline, victim = time.monotonic() + 60, None
    while victim is None and time.monotonic() < deadline:
        busy = {w: keys for w, keys in client.processing().items() if any("grade_task" in str(k) for k in keys)}
        victim = next(iter(busy), None)
        time.sleep(0.05)
    assert victim is not None, "no grading task started on the cluster"
    os.kill(client.run(os.getpid, workers=[victim])[victim], signal.SIGKILL)
    thread.join(timeout=300)
    assert "rows" in outcome, "the grade did not finish after a worker was killed"
    # Each submission arrives once, however many times dask ran it.
    assert sorted(row["name"] for row in arrived) == sorted(s.name for s in found)
    assert without_times(outcome["rows"]) == without_times(local_grade["submissions"])
    client.wait_for_workers(2, timeout=60)  # the nanny restarts the killed worker for the tests after this one


OUTSIDE_TEST = """
    import pytest

    from impl.attention import flash_attention_fwd

    pytestmark = pytest.mark.flash


    def test_sees_the_mutated_copy():
        assert flash_attention_fwd(1) == 2
    """


def test_named_mutants_on_dask_match_local_and_a_warm_rerun_runs_nothing(cluster, tmp_path):
    root = write_tree(tmp_path / "tree")
    outside = tmp_path / "elsewhere" / "test_outside.py"  # not under the tree: it travels as a folder of its own
    outside.parent.mkdir()
    outside.write_text(textwrap.dedent(OUTSIDE_TEST))
    mutants = [NamedMutant(i, "flash", "impl/attention.py", f"bug {i}", (Edit("2 * x", r),)) for i, r in
               (("flash-triple", "3 * x"), ("flash-add-self", "x + x"))]
    args = ["properties", str(outside)]

    def run(executor, cache):
        return [(r.id, r.status, r.killed_by) for r in run_named_mutants(
            mutants, args, root=root, jobs=2, cache=cache, executor=executor, shipped=(outside.parent,))]

    cache = ResultCache(tmp_path / "cache")
    remote = run(cluster, cache)
    assert remote == run(LocalExecutor(2), ResultCache(None))
    # The killer outside the tree is named by this machine's path, as a local run names it.
    assert f"{outside.resolve()}::test_sees_the_mutated_copy" in dict((i, k) for i, _, k in remote)["flash-triple"]

    class Counting(LocalExecutor):
        items = 0

        def map(self, fn, items, **kwargs):
            Counting.items += len(items)
            return super().map(fn, items, **kwargs)

    assert run(Counting(2), cache) == remote
    assert Counting.items == 0


def test_mutmut_survivors_rechecked_on_dask_match_local(cluster, tmp_path):
    root = write_tree(tmp_path / "tree")

    def verdicts(executor):
        report = MutmutRunner(root=root, jobs=2, executor=executor).run()
        return sorted((m.diff, m.mutmut_status, m.status, m.killed_by) for m in report.mutants)

    remote = verdicts(cluster)
    assert remote == verdicts(LocalExecutor(2))
    # A re-run decided something: mutmut's survivor of clamp is killed by a test mutmut did not map to it.
    assert any(status == "survived" and after == "killed" for _, status, after, _ in remote)


def test_audit_of_own_code_on_dask_gives_the_local_record(cluster, tmp_path):
    """Catches mutants lost or doubled when the cluster's lanes are cut smaller than the local ones (a lane
    dropped: its mutants have no verdict), and a triage whose lanes do not get the suite as the map's shared
    tree. (On a LocalCluster the workers share this filesystem, so a lane reading the staged folder where it
    is here rather than its unpacked copy would pass unseen.)"""
    from killmatrix.audit.own_audit import audit_own
    from killmatrix.audit.own_mutants import SHIPPED_LANE_SIZE

    from .test_audit_own_code import ISOLATION, TINY

    impl = tmp_path / "user" / "attn.py"
    impl.parent.mkdir()
    impl.write_text(textwrap.dedent(TINY))

    def audited(executor) -> dict:
        record = audit_own(str(impl), parts=("own", "triage"), jobs=2, isolation=ISOLATION, executor=executor)
        return without_times({k: v for k, v in record.items() if k != "timings"})

    remote = audited(cluster)
    assert remote == audited(LocalExecutor(2))
    own = remote["own"]
    # Lanes of SHIPPED_LANE_SIZE: more of them than workers, so the split and the merge are exercised.
    assert own["total"] > 2 * SHIPPED_LANE_SIZE
    # It judged both ways: mutants their tests kill, and a miss the suite shows to be a real bug.
    assert 0 < own["killed"] < own["total"] and own["missed_real"]
    assert len({m["id"] for m in own["missed_real"] + own["survive_both"]}) == own["total"] - own["killed"]


def test_archives_are_named_by_content_alone(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    for folder in (one, two):
        (folder / "pkg").mkdir(parents=True)
        (folder / "pkg" / "a.py").write_text("x = 1\n")
        (folder / "__pycache__").mkdir()
        (folder / "__pycache__" / "a.pyc").write_bytes(os.urandom(16))  # never travels
    os.utime(two / "pkg" / "a.py", (0, 0))
    first, second = Archive.of_folder(one), Archive.of_folder(two)
    assert first.digest == second.digest and first.data == second.data
    (two / "pkg" / "a.py").write_text("x = 2\n")
    assert Archive.of_folder(two).digest != first.digest
    unpacked = first.cached(tmp_path / "cache")
    assert [p.relative_to(unpacked).as_posix() for p in unpacked.rglob("*") if p.is_file()] == ["pkg/a.py"]
    assert first.cached(tmp_path / "cache") == unpacked  # unpacked once per digest


def test_an_unreachable_scheduler_is_one_line_and_exit_2(submissions):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = CliRunner().invoke(outward_app(), ["grade", str(submissions), "--executor", "dask", "--scheduler",
                                                f"tcp://127.0.0.1:{port}", "--scheduler-timeout", "1"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [result.output.strip()]
    assert result.output.startswith(f"killmatrix grade: cannot reach the dask scheduler at tcp://127.0.0.1:{port}")
