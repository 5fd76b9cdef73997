"""`grade` and `report` on one local process against a dask LocalCluster of 2 workers, on this machine.

1. grade: N (default 40) submissions, variants of examples/corpus/ (each corpus entry copied, a comment
   added so no two are the same bytes), graded three ways: `--executor local --jobs 1` (one process),
   `--executor dask --scheduler local --jobs 2` (a LocalCluster of 2 single-threaded workers) and
   `--executor local --jobs 2`. Prints the 1-process/2-worker ratio, dask's overhead against local
   threads at the same parallelism, and checks that the three JSONs agree apart from times.
2. dask's own overhead per task: no-op tasks through the same LocalCluster.
3. report (skip with --no-report): the full `killmatrix report --no-cache` with `--jobs 1` against
   `--executor dask --scheduler local --jobs 2`.
4. The projection for 10,000 submissions on 50 workers, from the measured per-submission cost and
   per-task overhead.

By default grade selects the registry's fast correctness properties (`--full` for the whole suite, which
costs about a minute per submission here): the ratio is about the fan-out, not the suite.

    .venv/bin/python bench/distributed.py [--submissions 40] [--full] [--no-report]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# This file's folder first on sys.path would make `import distributed` import this very script.
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent)]

from killmatrix.algorithms import ALGORITHMS  # noqa: E402
from killmatrix.commands.check import settings_from_options  # noqa: E402
from killmatrix.commands.grade import grade_all  # noqa: E402
from killmatrix.execution.executors import DaskExecutor, LocalExecutor, without_times  # noqa: E402
from killmatrix.outside.submissions import discover  # noqa: E402
from killmatrix.sandbox.limits import isolation_for  # noqa: E402

CORPUS = ROOT / "examples" / "corpus"


def make_variants(count: int, into: Path) -> Path:
    """`count` submission folders cycled from the corpus, each made distinct by a comment."""
    entries = sorted(p for p in CORPUS.glob("*/*") if p.is_dir())
    for index in range(count):
        entry = entries[index % len(entries)]
        folder = into / f"{index:03d}_{entry.parent.name}_{entry.name}"
        shutil.copytree(entry, folder)
        for source in folder.rglob("*.py"):
            source.write_text(source.read_text() + f"\n# bench variant {index}\n")
    return into


def timed_grade(submissions, directory, settings, executor, selection) -> tuple[float, list[dict]]:
    start = time.monotonic()
    rows = grade_all(submissions, directory, settings, executor, selection)
    return time.monotonic() - start, rows


def noop(item, *shared):
    return item


def task_overhead(executor, tasks: int = 400) -> float:
    """Seconds per no-op task through `executor`, end to end (submit, schedule, run, gather)."""
    executor.map(noop, list(range(20)))  # warm: imports and connections on every worker
    start = time.monotonic()
    executor.map(noop, list(range(tasks)))
    return (time.monotonic() - start) / tasks


def timed_report(*options: str) -> float:
    start = time.monotonic()
    run = subprocess.run([str(Path(sys.executable).parent / "killmatrix"), "report", "--no-cache", *options],
                         cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    if run.returncode not in (0, 1):  # 1: a surviving mutant, still a whole report
        raise SystemExit(f"report {' '.join(options)} exited {run.returncode}: {run.stderr[-500:]}")
    return time.monotonic() - start


def differences(*runs: list[dict]) -> list[str]:
    """Submission/property names whose rows differ between the runs, times aside."""
    found = []
    for rows in zip(*runs, strict=True):
        first, *others = (without_times(r) for r in rows)
        if any(o != first for o in others):
            props = [p["name"] for i, p in enumerate(first["properties"])
                     if any(i >= len(o["properties"]) or o["properties"][i] != p for o in others)]
            found.append(f"{first['name']}: {', '.join(props) or 'the row'}")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=40)
    parser.add_argument("--full", action="store_true", help="grade on the whole suite, not the fast properties")
    parser.add_argument("--no-report", action="store_true", help="skip the full report (about 15 min here)")
    parser.add_argument("--report-args", default="", help="extra report options, e.g. '--algorithm beam --no-mutmut'")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    selection = None if args.full else \
        ["-k", " or ".join(p for a in ALGORITHMS for p in a.fast_properties)]
    settings = settings_from_options(15.0, 60.0, 120.0, 3.0, isolation_for(False))
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="killmatrix-bench-") as scratch:
        directory = make_variants(args.submissions, Path(scratch))
        submissions = discover(directory)
        n = len(submissions)
        print(f"grade: {n} submissions ({'whole suite' if args.full else 'fast correctness properties'})")
        one, rows_one = timed_grade(submissions, directory, settings, LocalExecutor(1), selection)
        print(f"  --executor local --jobs 1          {one:7.1f} s  ({one / n:.2f} s per submission)")
        start = time.monotonic()
        with DaskExecutor("local", jobs=2) as cluster:
            figures["cluster_start_s"] = time.monotonic() - start
            two, rows_dask = timed_grade(submissions, directory, settings, cluster, selection)
            print(f"  --executor dask (LocalCluster, 2)  {two:7.1f} s  (+ {figures['cluster_start_s']:.1f} s to start"
                  " the cluster)")
            figures["dask_task_overhead_s"] = task_overhead(cluster)
        threads, rows_threads = timed_grade(submissions, directory, settings, LocalExecutor(2), selection)
        print(f"  --executor local --jobs 2          {threads:7.1f} s")
    differ = differences(rows_one, rows_dask, rows_threads)
    figures.update(submissions=n, grade_local_1_s=one, grade_dask_2_s=two, grade_local_2_s=threads,
                   per_submission_s=one / n, ratio=one / two, dask_vs_threads=two / threads - 1)
    print(f"  ratio 1 process / 2 dask workers: {one / two:.2f}x")
    print(f"  dask against local threads (--jobs 2): {100 * (two / threads - 1):+.1f}%")
    print(f"  JSON of the three runs equal apart from times: {not differ}")
    for line in differ:
        print(f"    differs: {line}")
    print(f"dask overhead per no-op task (2 workers): {1000 * figures['dask_task_overhead_s']:.1f} ms")

    if not args.no_report:
        extra = args.report_args.split()
        print(f"report --no-cache {args.report_args or '(named mutants and mutmut)'}:")
        figures["report_local_1_s"] = timed_report("--jobs", "1", *extra)
        print(f"  --executor local --jobs 1          {figures['report_local_1_s']:7.1f} s")
        figures["report_dask_2_s"] = timed_report("--jobs", "2", "--executor", "dask", "--scheduler", "local", *extra)
        print(f"  --executor dask (LocalCluster, 2)  {figures['report_dask_2_s']:7.1f} s")
        figures["report_ratio"] = figures["report_local_1_s"] / figures["report_dask_2_s"]
        print(f"  ratio: {figures['report_ratio']:.2f}x")

    # 10,000 submissions on 50 workers: each worker grades 200 in turn, each paying its own cost plus dask's
    # per-task overhead; the scheduler's share (the same overhead, serial over all tasks) is an upper bound.
    per_task = figures["per_submission_s"] + figures["dask_task_overhead_s"]
    projected = 10_000 / 50 * per_task
    scheduler_bound = 10_000 * figures["dask_task_overhead_s"]
    figures.update(projected_10k_on_50_s=projected, scheduler_serial_bound_s=scheduler_bound)
    print(f"projected: 10,000 submissions on 50 workers ~ {projected / 60:.1f} min "
          f"(200 per worker x {per_task:.2f} s); the scheduler's serial share is at most {scheduler_bound:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
