"""docs/generated/: the pages a run writes (kill matrix, mutmut ledger, grade tables, benchmarks), never by hand.

`make report` runs `killmatrix docs` on `reports/report.json`, `make bench` on the benches' JSON, `make grades`
on `grade --json` files. Each page opens with a stamp line:

    <!-- killmatrix docs: kind=report inputs=<sha256> renderer=<sha256> body=<sha256> -->

`inputs` digests the files that decided the run's results (taken when the run started and kept in its JSON as
"run"), `renderer` the code that turns results into Markdown, `body` the page below the stamp.
tests/test_generated_docs.py recomputes all three from the tree, so a changed catalog, ledger, impl or suite,
a changed renderer or a hand edit fails `make test` without a report run in it.

The digest is not `result_cache.inputs_digest`: that one also hashes the tool versions (a fresh venv with a
newer numpy must not call the committed pages stale) and every file on disk (ignored files such as memray's
`*.bin` must not count). It hashes the files git would commit (tracked, or untracked and not ignored).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import subprocess
import tomllib
from collections.abc import Iterable, Sequence
from pathlib import Path

from killmatrix.algorithms import ALGORITHMS, algorithm_label
from killmatrix.mutation.catalog import ROOT, NamedMutant, load_catalog
from killmatrix.mutation.ledger import normalize_diff
from killmatrix.mutation.result_cache import RUN_INPUTS, _files
from killmatrix.rendering.report_tables import ledger_item, mutmut_score_line, named_mutants_markdown

GENERATED_DIR = Path("docs") / "generated"
# What decides each kind of page. A report also reads the catalogs and the ledger (mutation_config/), which the
# result cache keys separately; a bench reads the code it times; a grade, the suite, the machinery that judges
# outside code and the graded folder (appended per page).
REPORT_INPUTS = (*RUN_INPUTS, "mutation_config")
BENCH_INPUTS = ("bench/attention.py", "bench/beam_search.py", "impl", "adversarial/attention_memory.py",
                "properties/beam_models.py")
GRADE_INPUTS = ("properties", "adversarial", "conftest.py", "pyproject.toml", "killmatrix/algorithms.py",
                "killmatrix/tiers.py", "killmatrix/outside", "killmatrix/plugins", "killmatrix/sandbox",
                "killmatrix/commands/check.py", "killmatrix/commands/grade.py")
RENDERER = ("killmatrix/rendering/generated_docs.py", "killmatrix/rendering/report_tables.py",
            "killmatrix/rendering/terminal.py")
# How to bring a stale page of each kind up to date.
REMEDY = {"report": "make report", "bench": "make bench", "grade": "make grades"}
STAMP = re.compile(r"<!-- killmatrix docs: kind=(?P<kind>\S+) inputs=(?P<inputs>[0-9a-f]{64}) "
                   r"renderer=(?P<renderer>[0-9a-f]{64}) body=(?P<body>[0-9a-f]{64}) -->\n")


def inputs_of(kind: str) -> tuple[str, ...]:
    """The paths whose content decides a page of `kind` ("report", "bench", "grade:<graded folder>")."""
    if kind == "report":
        return REPORT_INPUTS
    if kind == "bench":
        return BENCH_INPUTS
    if kind.startswith("grade:"):
        return (*GRADE_INPUTS, kind.removeprefix("grade:"))
    raise ValueError(f"unknown kind of generated page: {kind}")


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "--no-optional-locks", "-C", str(root), *args], capture_output=True,
                              text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def _committable(root: Path, paths: Sequence[str]) -> list[str]:
    """Files under `paths` that git would commit, relative to `root`; every file when `root` is no git tree."""
    listed = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *paths)
    if listed is None or _git(root, "rev-parse", "--show-prefix") != "\n":  # not a git tree, or inside another
        return sorted(str(f.relative_to(root)) for p in paths for f in _files(root / p))
    return sorted(f for f in set(listed.split("\0")) if f and (root / f).is_file())


def sources_digest(root: Path, paths: Iterable[str]) -> str:
    """sha256 over the path and bytes of every committable file under `paths`."""
    root = Path(root)
    digest = hashlib.sha256()
    for name in _committable(root, sorted(set(paths))):
        digest.update(f"\0{name}\0".encode())
        digest.update((root / name).read_bytes())
    return digest.hexdigest()


def run_stamp(root: Path, kind: str) -> dict:
    """What a run records for its pages: kind, date, commit (marked when its inputs differ from it), inputs digest."""
    paths = inputs_of(kind)
    commit = (_git(root, "rev-parse", "--short=12", "HEAD") or "").strip() or "unknown"
    if _git(root, "status", "--porcelain", "--", *paths):
        commit += " (with uncommitted changes to its inputs)"
    return {"kind": kind, "date": datetime.datetime.now(datetime.UTC).date().isoformat(), "commit": commit,
            "inputs": sources_digest(root, paths)}


def _body_digest(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def page(run: dict, renderer: str, title: str, source: str, body: Sequence[str]) -> str:
    """A generated page: the stamp, the title, where and when it comes from, then `body`."""
    text = "\n".join([
        f"# {title}", "",
        f"Written by `{REMEDY[run['kind'].split(':')[0]]}` from `{source}`, "
        + (f"rendered on {run['date']} (the run recorded no date) " if run.get("rendered") else
           f"a run of {run['date']} ")
        + f"at commit {run['commit']}. Do not edit: `tests/test_generated_docs.py` fails when it no longer "
        "matches its inputs.",
        "", *body]).rstrip() + "\n"
    return (f"<!-- killmatrix docs: kind={run['kind']} inputs={run['inputs']} renderer={renderer} "
            f"body={_body_digest(text)} -->\n") + text


def stale_reason(root: Path, path: Path) -> str | None:
    """Why the page at `path` no longer matches the tree (None when it does)."""
    text = Path(path).read_text()
    match = STAMP.match(text)
    if match is None:
        return "it has no killmatrix docs stamp"
    if _body_digest(text[match.end():]) != match["body"]:
        return "it was edited by hand"
    if sources_digest(root, RENDERER) != match["renderer"]:
        return "the code that renders it changed"
    if sources_digest(root, inputs_of(match["kind"])) != match["inputs"]:
        return f"its inputs changed ({', '.join(inputs_of(match['kind']))})"
    return None


def remedy(path: Path) -> str:
    match = STAMP.match(Path(path).read_text())
    return REMEDY[match["kind"].split(":")[0]] if match else "make report"


# --- the report's pages ---------------------------------------------------------------------------------


def kill_matrix_page(document: dict, catalog: dict[str, NamedMutant], run: dict, renderer: str,
                     source: str) -> str:
    """Per algorithm: every named mutant, its bug, its status and the tests that kill it."""
    records = document["mutants"]
    body = ["Every named mutant is one real bug class as an exact edit of `impl/` (`mutation_config/named_*.toml`), "
            "run against the whole suite of its algorithm in a mutated copy of the tree; every test that fails is "
            "listed. Equivalent mutants are marked with their argument and count in neither the killed nor the "
            "total.", ""]
    judged = [r for r in records if r["status"] != "equivalent"]
    body += [f"Named mutants killed: {sum(r['status'] == 'killed' for r in judged)}/{len(judged)}.", ""]
    missing = sorted(set(catalog) - {r["id"] for r in records})
    if missing:
        left_out = {}
        for mutant_id in missing:
            label = algorithm_label(catalog[mutant_id].algorithm)
            left_out[label] = left_out.get(label, 0) + 1
        body += [f"**A partial run** (`--algorithm` or `--only`): it left out {len(missing)} of the catalog's "
                 f"{len(catalog)} named mutants ({', '.join(f'{n} {a}' for a, n in sorted(left_out.items()))}).",
                 ""]
    order = [a.name for a in ALGORITHMS]
    for algorithm in sorted({r["algorithm"] for r in records},
                            key=lambda a: (order.index(a) if a in order else len(order), a)):
        mine = [r for r in records if r["algorithm"] == algorithm]
        body += [f"## {algorithm_label(algorithm)}", "", *named_mutants_markdown(mine, catalog), ""]
        equivalent = [r for r in mine if r["status"] == "equivalent"]
        if equivalent:
            body += ["Equivalent named mutants:", "", *(f"- `{r['id']}`: {r['detail']}" for r in equivalent), ""]
    return page(run, renderer, "Kill matrix", source, body)


def _ledger_fields(root: Path) -> dict[tuple[str, str, str], dict]:
    """The raw ledger entries by key, for the fields a report may not carry (`class`, `decided_by`)."""
    path = Path(root) / "mutation_config" / "equivalent.toml"
    if not path.is_file():
        return {}
    entries = tomllib.loads(path.read_text()).get("equivalent", [])
    return {(e.get("file", ""), e.get("function", ""), normalize_diff(e.get("diff", ""))): e for e in entries}


def ledger_page(document: dict, ledger: dict[tuple[str, str, str], dict], run: dict, renderer: str,
                source: str) -> str:
    """The mutmut score line and every ledger entry the run matched, grouped by class, with its reason."""
    totals = document.get("mutmut")
    if not totals:
        body = ["mutmut did not run in this report (`--no-mutmut` or `--only`): no score, no ledger matches."]
        return page(run, renderer, "mutmut score and ledger", source, body)
    entries = []
    listed = [(raw, "equivalent") for raw in document.get("equivalent_mutmut") or ()]
    listed += [(raw, "accepted") for raw in document.get("accepted_mutmut") or ()]
    for raw, listed_as in listed:
        # A report from before `accepted_mutmut` lists every ledger match as equivalent: the ledger has the class.
        extra = ledger.get((raw["file"], raw["function"], normalize_diff(raw["diff"])), {})
        fields = {k: extra[k] for k in ("class", "decided_by") if k in extra}
        if listed_as == "accepted":
            fields["class"] = "accepted"
        entries.append({**fields, **raw})
    classes: dict[str, list[dict]] = {}
    for entry in entries:
        classes.setdefault(entry.get("class", "equivalent"), []).append(entry)
    if "accepted" not in totals:  # a report from before the ledger had classes: split its equivalent count
        totals = {**totals, "equivalent": len(classes.get("equivalent", [])),
                  "accepted": len(classes.get("accepted", []))}
    body = [mutmut_score_line(totals), ""]
    survivors = document.get("survivors") or []
    if survivors:
        body += [f"Not explained by the ledger ({len(survivors)}): "
                 + ", ".join(f"`{s['name']}` ({s['status']})" for s in survivors) + ".", ""]
    what = {"equivalent": "no input tells them from the reference: output, cost and precision unchanged",
            "accepted": "a difference too small for any property or bench to resolve, accepted by a person"}
    for name in sorted(classes, key=lambda c: (c != "equivalent", c)):
        body += [f"## {name} ({len(classes[name])})", ""]
        if name in what:
            body += [f"Mutmut mutants that survive the suite and are {name}: {what[name]}.", ""]
        body += [f"- {ledger_item(e)}" for e in classes[name]] + [""]
    return page(run, renderer, "mutmut score and ledger", source, body)


# --- grade and bench pages ------------------------------------------------------------------------------


def graded_folder(root: Path, rows: Sequence[dict]) -> str:
    """The folder a grade run judged, relative to `root`: the common parent of its submission folders."""
    folders = [os.path.dirname(os.path.abspath(r["target"])) for r in rows]
    common = Path(os.path.commonpath(folders)) if len(folders) > 1 else Path(folders[0]).parent
    try:
        return str(common.relative_to(Path(root).resolve()))
    except ValueError:
        return str(common)


def grade_page(document: dict, run: dict, renderer: str, source: str) -> str:
    from killmatrix.commands.grade import by_algorithm
    from killmatrix.rendering.terminal import grade_markdown

    folder = run["kind"].removeprefix("grade:")
    body = [f"`killmatrix grade {folder}`: one row per submission; only the correctness tier decides the verdict.",
            "", grade_markdown(by_algorithm(document["submissions"]))]
    return page(run, renderer, f"grade: {folder}", source, body)


def table_markdown(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    return ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns),
            *("| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows)]


def bench_page(documents: Sequence[dict], run: dict, renderer: str, source: str) -> str:
    """Each bench's setup line, its table and its notes, in the order given."""
    body = []
    for doc in documents:
        body += [f"## {doc['title']} (`{doc['script']}`)", "", doc["setup"], "",
                 *table_markdown(doc["columns"], doc["rows"]), ""]
        body += [f"- {note}" for note in doc.get("notes", ())] + [""]
    return page(run, renderer, "Benchmarks", source, body)


def bench_stamp(root: Path = ROOT) -> dict:
    """A bench's run stamp, taken before it measures anything."""
    return run_stamp(root, "bench")


def write_bench_json(path: Path, document: dict) -> None:
    """A bench's results as `killmatrix docs --bench` reads them: run, script, title, setup, columns, rows, notes."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(document, indent=1) + "\n")


# --- writing --------------------------------------------------------------------------------------------


def _run_of(root: Path, document: dict, kind: str) -> dict:
    """The run's own stamp when its JSON carries one of this kind, else one taken now (run and render together)."""
    run = document.get("run")
    if isinstance(run, dict) and run.get("kind") == kind:
        return run
    return {**run_stamp(root, kind), "rendered": True}


def _relative(root: Path, path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path(root).resolve()))
    except ValueError:
        return str(path)


def write_generated_docs(root: Path, out_dir: Path, report: Path | None = None, benches: Sequence[Path] = (),
                         grades: Sequence[Path] = ()) -> list[Path]:
    """Render the given run results into `out_dir`; returns the pages written."""
    root, out_dir = Path(root), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    renderer = sources_digest(root, RENDERER)
    pages: dict[str, str] = {}
    if report is not None:
        document = json.loads(Path(report).read_text())
        run, source = _run_of(root, document, "report"), _relative(root, report)
        catalog = {m.id: m for m in load_catalog(root / "mutation_config")}
        pages["kill-matrix.md"] = kill_matrix_page(document, catalog, run, renderer, source)
        pages["ledger.md"] = ledger_page(document, _ledger_fields(root), run, renderer, source)
    if benches:
        documents = [json.loads(Path(p).read_text()) for p in benches]
        run = _run_of(root, documents[0], "bench")
        pages["bench.md"] = bench_page(documents, run, renderer, ", ".join(_relative(root, p) for p in benches))
    for path in grades:
        document = json.loads(Path(path).read_text())
        kind = f"grade:{graded_folder(root, document['submissions'])}"
        name = "grade-" + kind.removeprefix("grade:").removeprefix("examples/").replace("/", "-") + ".md"
        pages[name] = grade_page(document, _run_of(root, document, kind), renderer, _relative(root, path))
    written = []
    for name, text in pages.items():
        (out_dir / name).write_text(text)
        written.append(out_dir / name)
    return written
