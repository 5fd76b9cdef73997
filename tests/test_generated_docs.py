"""docs/generated/ is written from run results, never by hand, and `make test` notices when it has gone stale.

A page's stamp holds the digest of the files that decided its run (catalogs, ledger, impl, suite, runners), of
the renderer, and of its own text: recomputing them costs a second, where a report run costs minutes.
"""

from __future__ import annotations

import json
import re
import textwrap

import pytest

from killmatrix.mutation.catalog import ROOT
from killmatrix.rendering.generated_docs import GENERATED_DIR, remedy, stale_reason, write_generated_docs
from tests.conftest import write_tree

PAGES = sorted((ROOT / GENERATED_DIR).glob("*.md"))
README = ROOT / "README.md"


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_generated_page_matches_its_inputs(page):
    reason = stale_reason(ROOT, page)
    assert reason is None, f"{GENERATED_DIR / page.name} is stale: run {remedy(page)} ({reason})"


def test_the_readme_links_only_to_pages_that_exist():
    """A generated page the README points at must have been generated (make report, make bench, make grades)."""
    links = re.findall(r"\]\(((?:docs|examples|bench|tests)/[^)#\s]+)", README.read_text())
    assert "docs/generated/kill-matrix.md" in links
    missing = [link for link in links if not (ROOT / link).exists()]
    assert not missing, f"README links to files that do not exist: {missing} (generated ones: run make report, " \
                        "make bench, make grades)"


def test_the_readme_score_line_is_the_generated_one():
    """Catches a README score line pasted by hand and left behind by a later report: it must be the line
    the report rendered into docs/generated/ledger.md (killed, equivalent, accepted, survived apart)."""
    score = re.compile(r"^mutmut over `impl/`: .*$", re.M)
    generated = score.search((GENERATED_DIR / "ledger.md").read_text()).group(0)
    assert score.search(README.read_text()).group(0) == generated


def test_the_readme_stays_short_and_names_the_two_commands():
    text = README.read_text()
    assert len(text.encode()) < 15_000, "README over 15 KB: move long material to docs/ (tables to docs/generated/)"
    assert "make report" in text and "make test" in text


LEDGER = '''
[[equivalent]]
file = "impl/attention.py"
function = "spare"
diff = """
-    return 1
+    return 2
"""
reason = "nothing reads spare's value"
'''

BEAM_CATALOG = """
[[mutant]]
id = "beam-greedy"
algorithm = "beam"
file = "impl/attention.py"
bug = "Keeps one beam whatever K is."
killed_by = ["properties/test_fake.py::test_zero"]
[[mutant.edit]]
find = "max(x, 0)"
replace = "max(x, 1)"

[[mutant]]
id = "beam-same"
algorithm = "beam"
file = "impl/attention.py"
bug = "Returns 1 in another way."
equivalent = true
reason = "1 and 2 - 1 are the same int"
demonstrated_by = ["properties/test_fake.py::test_zero"]
[[mutant.edit]]
find = "return 1"
replace = "return 2 - 1"
"""


def _report() -> dict:
    """A report of three named mutants over two algorithms and a mutmut run that leans on the ledger."""
    return {
        "mutants": [
            {"id": "beam-greedy", "algorithm": "beam", "status": "survived", "killed_by": [],
             "detail": "no test fails"},
            {"id": "beam-same", "algorithm": "beam", "status": "equivalent", "killed_by": [],
             "detail": "1 and 2 - 1 are the same int"},
            {"id": "flash-triple", "algorithm": "flash", "status": "killed",
             "killed_by": ["properties/test_fake.py::test_doubles", "properties/test_fake.py::test_negative"],
             "detail": ""},
        ],
        "killed": 1, "total": 2,
        "mutmut": {"killed": 7, "survived": 1, "equivalent": 2, "accepted": 1, "timeout": 3, "error": 0,
                   "total": 14, "score": 90.9},
        "survivors": [{"name": "impl.attention.x_clamp__mutmut_2", "file": "impl/attention.py", "function": "clamp",
                       "status": "survived", "mutmut_status": "survived", "diff": "", "detail": ""}],
        "equivalent_mutmut": [
            {"name": "impl.attention.x_spare__mutmut_1", "file": "impl/attention.py", "function": "spare",
             "diff": "--- a\n+++ b\n@@ -1 +1 @@\n-    return 1\n+    return 2\n", "reason": "nothing reads it"},
        ],
        "accepted_mutmut": [
            {"name": "impl.attention.x_clamp__mutmut_1", "file": "impl/attention.py", "function": "clamp",
             "diff": "-    return max(x, 0)\n+    return max(x, -1)\n",
             "reason": "too small to time (decided by the lead, 2026-12-02)"},
        ],
        "phases": {}, "passed": False,
        "run": {"kind": "report", "date": "2031-05-17", "commit": "abc123", "inputs": "0" * 64},
    }


@pytest.fixture
def rendered(tmp_path):
    root = write_tree(tmp_path / "tree")
    (root / "mutation_config" / "named_beam.toml").write_text(textwrap.dedent(BEAM_CATALOG))
    report = tmp_path / "report.json"
    report.write_text(json.dumps(_report()))
    write_generated_docs(root, root / GENERATED_DIR, report=report)
    return root, report


def test_report_json_becomes_a_kill_matrix_per_algorithm_and_a_ledger(rendered):
    root, _ = rendered
    matrix = (root / GENERATED_DIR / "kill-matrix.md").read_text()
    assert "a run of 2031-05-17 at commit abc123" in matrix  # the run's own date, not the rendering's
    flash, beam = matrix.index("## flash\n"), matrix.index("## beam\n")
    assert flash < beam  # the registry's order (killmatrix/algorithms.py), not the report's
    killed_row = "| `flash-triple` | Triples instead of doubling. | killed | `test_doubles`, `test_negative` |"
    assert killed_row in matrix[flash:beam]
    assert "| `beam-greedy` | Keeps one beam whatever K is. | survived | no test fails |" in matrix[beam:]
    assert "- `beam-same`: 1 and 2 - 1 are the same int" in matrix[beam:]
    assert "Named mutants killed: 1/1." in matrix[flash:beam] and "Named mutants killed: 0/1." in matrix[beam:]
    assert "Named mutants killed: 1/2." in matrix[:flash]
    assert "partial run" not in matrix  # every catalog mutant is in the report

    ledger = (root / GENERATED_DIR / "ledger.md").read_text()
    assert ("score 90.9% (7 killed, 2 equivalent, 1 accepted, 1 survived, 3 timeout, 0 error, 14 total)"
            in ledger)
    assert "`impl.attention.x_clamp__mutmut_2` (survived)" in ledger
    equivalent, accepted = ledger.index("## equivalent (1)"), ledger.index("## accepted (1)")
    assert "`spare` in `impl/attention.py`: `return 1 → return 2`: nothing reads it" in ledger[equivalent:accepted]
    assert ("`clamp` in `impl/attention.py`: `return max(x, 0) → return max(x, -1)`: too small to time "
            "(decided by the lead, 2026-12-02)") in ledger[accepted:]


def test_the_ledger_file_supplies_a_class_the_report_does_not_carry(rendered, tmp_path):
    root, report = rendered
    document = _report()
    del document["mutmut"]["accepted"]
    del document["accepted_mutmut"]  # as reports wrote before the ledger had classes
    report.write_text(json.dumps(document))
    (root / "mutation_config" / "equivalent.toml").write_text(LEDGER.replace(
        'reason = "nothing', 'class = "accepted"\ndecided_by = "review 12"\nreason = "nothing'))
    write_generated_docs(root, root / GENERATED_DIR, report=report)
    ledger = (root / GENERATED_DIR / "ledger.md").read_text()
    assert "## accepted (1)" in ledger and "## equivalent" not in ledger
    assert "nothing reads it (decided by review 12)" in ledger
    assert "(7 killed, 0 equivalent, 1 accepted, 1 survived" in ledger  # the report's 2 equivalent, split


def test_a_run_of_part_of_the_catalog_says_so(rendered, tmp_path):
    root, report = rendered
    document = _report()
    document["mutants"] = document["mutants"][2:]
    report.write_text(json.dumps(document))
    write_generated_docs(root, root / GENERATED_DIR, report=report)
    matrix = (root / GENERATED_DIR / "kill-matrix.md").read_text()
    assert "it left out 2 of the catalog's 3 named mutants (2 beam)" in matrix


def test_a_changed_input_a_changed_renderer_or_a_hand_edit_makes_a_page_stale(tmp_path):
    root = write_tree(tmp_path / "tree")
    (root / "killmatrix" / "rendering").mkdir(parents=True)
    renderer = root / "killmatrix" / "rendering" / "report_tables.py"
    renderer.write_text("# the table code\n")
    report = tmp_path / "report.json"
    report.write_text(json.dumps({**_report(), "mutants": _report()["mutants"][2:], "run": None}))

    def render():
        write_generated_docs(root, root / GENERATED_DIR, report=report)
        return root / GENERATED_DIR / "kill-matrix.md"

    page = render()
    assert stale_reason(root, page) is None
    (root / "mutation_config" / "equivalent.toml").write_text(LEDGER)
    assert stale_reason(root, page).startswith("its inputs changed")
    assert stale_reason(root, render()) is None
    renderer.write_text("# the table code, changed\n")
    assert stale_reason(root, page) == "the code that renders it changed"
    page = render()
    page.write_text(page.read_text().replace("killed: 1/1", "killed: 2/2"))
    assert stale_reason(root, page) == "it was edited by hand"
    page.write_text(page.read_text().split("\n", 1)[1])
    assert stale_reason(root, page) == "it has no killmatrix docs stamp"


def test_a_report_records_the_digest_of_what_it_read_not_of_what_is_there_later(tmp_path):
    """A page rendered from an old report must not pass for fresh: the digest is the report's, taken at its start."""
    root = write_tree(tmp_path / "tree")
    report = tmp_path / "report.json"
    report.write_text(json.dumps({**_report(), "mutants": _report()["mutants"][2:]}))  # run: inputs "000…"
    write_generated_docs(root, root / GENERATED_DIR, report=report)
    assert stale_reason(root, root / GENERATED_DIR / "kill-matrix.md").startswith("its inputs changed")


def test_bench_json_becomes_one_page_of_tables(tmp_path):
    root = write_tree(tmp_path / "tree")
    benches = []
    for name, rows in (("attention", [["wall time (s)", "0.7", "1.8"]]), ("beam", [["batched", "0.02", "|"]])):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"script": f"bench/{name}.py", "title": f"{name} bench", "setup": f"{name} setup",
                                    "columns": ["figure", "a", "b"], "rows": rows, "notes": [f"{name} note"]}))
        benches.append(path)
    write_generated_docs(root, root / GENERATED_DIR, benches=benches)
    text = (root / GENERATED_DIR / "bench.md").read_text()
    attention, beam = text.index("## attention bench (`bench/attention.py`)"), text.index("## beam bench")
    assert "| figure | a | b |\n| --- | --- | --- |\n| wall time (s) | 0.7 | 1.8 |" in text[attention:beam]
    assert "| batched | 0.02 | \\| |" in text[beam:] and "- beam note" in text[beam:]
    assert "rendered on" in text  # no run stamp in the JSON: the date is the rendering's, and says so
