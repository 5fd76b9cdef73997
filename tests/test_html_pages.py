"""The HTML pages in a real browser: headless Chromium opens each page from disk (file://), waits for it to
render, and the counts the rendered page shows are read back against the JSON it was built from. Each
test saves a screenshot beside its page.

How rendering is awaited (tests/chromium.py, the DevTools protocol over a pipe): the load event first (every
inline script has run), then a poll inside the page until the element holding the counts exists; for the
report that is the viewer's metrics table, inside the shadow DOM of the web component once it hydrated.

Without Chromium the browser tests skip and say why; under CI (CI=true) they fail instead: .ci/run installs
Debian's chromium. KILLMATRIX_REPORT_HTML=path/to/index.html also checks a real `killmatrix report --html`
page and saves its screenshots beside it: the README's docs/img/ are those.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from killmatrix.audit.suite_strength import audit_records
from killmatrix.commands import audit, check, grade, report
from killmatrix.mutation.catalog import load_catalog
from killmatrix.mutation.kill_report import report_json
from killmatrix.mutation.mutmut_runner import MutmutMutant, MutmutReport
from killmatrix.mutation.named_runner import MutantResult
from killmatrix.outside.check_run import LoadError
from killmatrix.outside.submissions import Submission
from killmatrix.outside.verdicts import PropertyVerdict
from killmatrix.rendering.html_pages import check_page, stryker_mutants, write_report_pages
from killmatrix.rendering.kill_matrix import kill_matrix_json
from killmatrix.rendering.stryker import stryker_report
from tests.chromium import Chromium, find_browser

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("true", "1")
REAL_REPORT = os.environ.get("KILLMATRIX_REPORT_HTML")

# Finds elements through shadow roots: the viewer renders everything inside nested web components.
DEEP = """var deepAll = (root, sel, out = []) => {
  root.querySelectorAll(sel).forEach(e => out.push(e));
  root.querySelectorAll('*').forEach(e => { if (e.shadowRoot) deepAll(e.shadowRoot, sel, out); });
  return out;
};
var deepFirst = (root, sel) => deepAll(root, sel)[0] || null;
"""
# The viewer's summary row: column label -> number, once the metrics table has rendered.
VIEWER_COUNTS = """(() => {
  const table = deepFirst(document, 'mte-metrics-table');
  const row = table && table.shadowRoot && table.shadowRoot.querySelector('tbody tr');
  if (!row) return null;
  const labels = [...table.shadowRoot.querySelectorAll('thead tr:first-child th')].slice(2)
    .map(th => th.innerText.replace(/\\s+/g, ' ').trim());
  const cells = [...row.querySelectorAll('td')].map(td => td.innerText.trim());
  return Object.fromEntries(labels.map((label, i) => [label, cells[cells.length - labels.length + i]]));
})()"""
SHOWN_COUNTS = "Object.fromEntries([...document.querySelectorAll('[data-count]')].map(e => [e.dataset.count, " \
               "e.innerText.trim()]))"
VIEWER_STATUS = {"Killed": "Killed", "Survived": "Survived", "Timeout": "Timeout", "No coverage": "NoCoverage",
                 "Ignored": "Ignored", "Runtime errors": "RuntimeError", "Compile errors": "CompileError"}


@pytest.fixture(scope="module")
def browser():
    executable = find_browser()
    if executable is None:
        if IN_CI:
            pytest.fail("CI must render the pages: no Chromium on PATH (.ci/run installs Debian's chromium)")
        reason = "no Chromium on PATH (apt-get install chromium): the HTML pages are not rendered"
        warnings.warn(reason, stacklevel=1)  # a skip's reason shows only with -rs; a warning shows in -q too
        pytest.skip(reason)
    with Chromium(executable) as chromium:
        chromium.evaluate(DEEP + "1")
        yield chromium


def opened(browser: Chromium, page: Path) -> Chromium:
    browser.open(page)
    browser.evaluate(DEEP + "1")  # the helpers live in the page: define them again after each load
    return browser


def viewer_expected(stryker: dict) -> dict[str, str]:
    """What the viewer's summary row must show for `stryker`, counted from the JSON itself."""
    statuses = [m["status"] for _, m in stryker_mutants(stryker)]
    counts = {label: statuses.count(status) for label, status in VIEWER_STATUS.items()}
    counts["Detected"] = counts["Killed"] + counts["Timeout"]
    counts["Undetected"] = counts["Survived"] + counts["No coverage"]
    counts["Total"] = len(statuses)
    return {label: str(n) for label, n in counts.items()}


def check_report_pages(browser: Chromium, page: Path, report_doc: dict | None = None) -> dict:
    """The report page and its kill matrix against the JSON they embed and were built from; screenshots
    beside them. Returns the embedded Stryker document."""
    opened(browser, page)
    stryker = browser.evaluate("JSON.parse(document.getElementById('report-data').textContent)")
    assert browser.wait_for(VIEWER_COUNTS) == viewer_expected(stryker)
    shown = browser.evaluate(SHOWN_COUNTS)
    if report_doc is not None:
        assert shown["named-killed"] == str(report_doc["killed"])
        assert browser.evaluate("document.getElementById('verdict').innerText") == \
            ("pass" if report_doc["passed"] else "fail")
    ignored = [m for _, m in stryker_mutants(stryker) if m["status"] == "Ignored"]
    accepted = [m for m in ignored if m["statusReason"].startswith("accepted: ")]
    assert (shown["equivalent"], shown["accepted"]) == (str(len(ignored) - len(accepted)), str(len(accepted)))
    listed = browser.evaluate("[...document.querySelectorAll('#equivalent li')].map(li => li.textContent)")
    assert len(listed) == len(ignored)
    assert all(any(m["statusReason"] in text for text in listed) for m in ignored)  # each with its reason
    browser.screenshot(page.with_suffix(".png"))

    matrix_page = page.parent / browser.evaluate("document.getElementById('kill-matrix-link').getAttribute('href')")
    assert matrix_page.is_file()
    named = [m for _, m in stryker_mutants(stryker) if m["id"].startswith("named:")]
    opened(browser, matrix_page)
    rows = browser.evaluate("[...document.querySelectorAll('table.matrix tbody tr')].map(tr => tr.dataset.mutant)")
    assert sorted(rows) == sorted(m["id"].removeprefix("named:") for m in named)
    cells = browser.evaluate("""[...document.querySelectorAll('td.kill')].map(td => {
        const [test, diff] = [...td.querySelectorAll('a')].map(a => document.getElementById(a.hash.slice(1)));
        return {def: test && test.querySelector('.def') ? test.querySelector('.def').innerText : null,
                title: td.querySelector('a').title,
                changed: diff ? diff.querySelectorAll('pre.diff .add, pre.diff .del').length : 0};
    })""")
    assert len(cells) == sum(len(m["killedBy"]) for m in named)
    for cell in cells:  # each cell reaches the killing test's `def` line and a diff that changes a line
        test_name = cell["title"].split(" kills ")[0]
        assert cell["def"] is not None and f"def {test_name.split('[')[0]}(" in cell["def"], cell
        assert cell["changed"] >= 1, cell
    killed = sum(m["status"] == "Killed" for m in named)
    assert browser.evaluate(SHOWN_COUNTS)["killed"] == str(killed)
    browser.screenshot(matrix_page.with_suffix(".png"), down_to="table.matrix")
    return stryker


# the mutation report -----------------------------------------------------------------------------

EQUIVALENT = """
[[mutant]]
id = "flash-double-as-sum"
algorithm = "flash"
file = "impl/attention.py"
bug = "Doubles by adding x to itself."
equivalent = true
reason = "x + x equals 2 * x for every number the suite passes"
demonstrated_by = ["properties/test_fake.py::test_doubles"]
[[mutant.edit]]
find = "2 * x"
replace = "x + x"
"""


def invoke(command, *args: str):
    app = typer.Typer()
    command.register(app)
    app.callback()(lambda: None)  # keeps the command a subcommand, as in the real app
    return CliRunner().invoke(app, [command.__name__.rsplit(".", 1)[-1], *args])


def test_report_html_renders_the_json_it_embeds(browser, fake_tree, tmp_path):
    """`report --html` end to end on the fake tree. Catches a page whose viewer counts differ from the
    Stryker JSON written by the same run, an embedded document that is not that JSON, an equivalent mutant
    without its reason, a named mutant titled by the tool instead of its bug class, and a kill matrix that
    is missing, unlinked, or whose cells do not reach the test's line and the mutant's diff."""
    with (fake_tree / "mutation_config" / "named_flash.toml").open("a") as catalog:
        catalog.write(EQUIVALENT)
    out = tmp_path / "reports"
    result = invoke(report, "--root", str(fake_tree), "--no-mutmut", "--no-cache", "--json", str(out / "r.json"),
                    "--stryker", str(out / "stryker.json"), "--html", str(out / "index.html"))
    assert result.exit_code == 0, result.output
    embedded = check_report_pages(browser, out / "index.html", json.loads((out / "r.json").read_text()))
    assert embedded == json.loads((out / "stryker.json").read_text())

    opened(browser, out / "index.html").wait_for(VIEWER_COUNTS)
    browser.evaluate("deepFirst(document, 'mte-metrics-table').shadowRoot.querySelector('tbody a').click()")
    browser.wait_for("deepFirst(document, '#filter-Killed')")  # the file view has rendered
    browser.evaluate("deepFirst(document, '#filter-Killed').click()")
    browser.wait_for("deepFirst(document, 'mte-state-filter').shadowRoot.querySelectorAll('button').length")
    browser.evaluate("[...deepFirst(document, 'mte-state-filter').shadowRoot.querySelectorAll('button')]"
                     ".find(b => b.textContent.includes('next')).click()")
    header = browser.wait_for("deepFirst(document, 'mte-drawer-mutant').shadowRoot.querySelector('mte-drawer')"
                              ".innerText.split('\\n')[0]")
    assert "flash-triple Killed" in header  # the bug class titles the mutant in the viewer


def test_report_pages_count_mutmut_statuses(browser, fake_tree, tmp_path):
    """From hand-made results with every mutmut status. Catches a page that drops survivors, timeouts or
    equivalent mutants from the viewer's totals, or lists an equivalent mutmut mutant without its reason."""
    catalog = {m.id: m for m in load_catalog(fake_tree / "mutation_config")}
    named = [MutantResult("flash-triple", "flash", "killed",
                          ("properties/test_fake.py::test_doubles", "properties/test_fake.py::test_negative"))]
    diff = "--- impl/attention.py\n+++ impl/attention.py\n@@ -1,2 +1,2 @@\n def spare():\n-    return 1\n+    return 2"
    mutmut = MutmutReport((
        MutmutMutant("impl.attention.x_spare__mutmut_1", "impl/attention.py", "spare", "no tests", "survived", diff),
        MutmutMutant("impl.attention.x_spare__mutmut_2", "impl/attention.py", "spare", "no tests", "equivalent",
                     diff.replace("return 2", "return 1.0"), detail="1 == 1.0 wherever it is read"),
        MutmutMutant("impl.attention.x_clamp__mutmut_1", "impl/attention.py", "clamp", "timeout", "timeout",
                     diff.replace("spare", "clamp")),
    ), duration=1.0)
    report_doc = report_json(named, catalog, mutmut, {})
    page, _ = write_report_pages(tmp_path / "index.html", report_doc, stryker_report(named, catalog, mutmut,
                                                                                     fake_tree),
                                 kill_matrix_json(named, catalog, fake_tree))
    stryker = check_report_pages(browser, page, report_doc)
    assert viewer_expected(stryker)["Survived"] == "1" and viewer_expected(stryker)["Ignored"] == "1"


def test_kill_matrix_document_keeps_a_diff_when_the_reference_moved_on(fake_tree):
    """The reference no longer holds a mutant's text (the catalog is stale): the kill matrix still shows the
    edit as a diff instead of failing the report. Catches an apply_to_text error escaping kill_matrix_json."""
    catalog = {m.id: m for m in load_catalog(fake_tree / "mutation_config")}
    (fake_tree / "impl" / "attention.py").write_text("def flash_attention_fwd(x):\n    return x + x\n")
    [mutant] = kill_matrix_json([MutantResult("flash-triple", "flash", "survived")], catalog, fake_tree)["mutants"]
    assert mutant["diff"] == "-2 * x\n+3 * x"


@pytest.mark.skipif(not REAL_REPORT, reason="set KILLMATRIX_REPORT_HTML to a real `report --html` page")
def test_real_report_pages(browser):
    """A real report (README screenshots): the same checks as on the fake tree, at full size."""
    check_report_pages(browser, Path(REAL_REPORT).resolve())


# check, grade, audit -----------------------------------------------------------------------------

VERDICTS = [
    PropertyVerdict("properties/test_attention_oracle.py::test_matches_float64_oracle", "failed",
                    "Falsifying example: B=1, H=1, Nq=3, Nk=5, D=2, causal=True, tile=1"),
    PropertyVerdict("properties/test_attention_properties.py::test_padded_keys_change_nothing", "passed"),
    PropertyVerdict("adversarial/test_attention_overflow.py::test_overflow_scale_logits", "passed"),
    PropertyVerdict("properties/test_attention_extensions.py::test_return_lse", "unsupported", "", "extension",
                    "return_lse"),
    PropertyVerdict("adversarial/test_attention_bad_input.py::test_rejects_bad_shapes", "failed",
                    "accepted q of shape (2, 3)", "hardening", cases=(3, 4)),
    PropertyVerdict("adversarial/test_attention_memory.py::test_peak_memory", "passed", "", "performance",
                    figures={"peak_mib_n4096": 12.0}),
]


def rendered_rows(browser: Chromium, selector: str) -> list[list[str]]:
    return browser.evaluate(f"[...document.querySelectorAll('{selector}')].map(tr => "
                            "[...tr.cells].map(td => td.innerText.trim()))")


def test_check_html_shows_every_property_by_tier(browser, tmp_path, monkeypatch):
    """`check --html` from the document `check --json` writes. Catches a page that loses a property,
    shows another status than the JSON, drops the minimal failing input, misgroups tiers or miscounts
    correctness."""
    monkeypatch.setattr(check, "judge", lambda *args, **kwargs: ("submission.py:flash_attention_fwd", VERDICTS))
    page, document = tmp_path / "check.html", tmp_path / "check.json"
    result = invoke(check, "flash", "submission.py", "--no-isolation", "--json", str(document), "--html", str(page))
    assert result.exit_code == 1, result.output  # a correctness property failed
    doc = json.loads(document.read_text())
    opened(browser, page)
    rows = rendered_rows(browser, "table.properties tbody tr")
    assert sorted((r[0], r[1]) for r in rows) == sorted((p["name"], p["status"]) for p in doc["properties"])
    failing = next(r for r in rows if r[0].endswith("test_matches_float64_oracle"))
    assert failing[3] == doc["properties"][0]["detail"]  # the minimal failing input, whole
    tiers = browser.evaluate("[...document.querySelectorAll('h2.tier')].map(h => h.dataset.tier)")
    assert tiers == [t for t in ("correctness", "extension", "hardening", "performance")
                     if any(p["tier"] == t for p in doc["properties"])]
    shown = browser.evaluate(SHOWN_COUNTS)
    correctness = doc["tiers"]["correctness"]
    assert shown["correctness"] == f"{correctness['passed']}/{correctness['total']}"
    assert shown["properties"] == str(len(doc["properties"]))
    assert shown["failed"] == str(sum(p["status"] == "failed" for p in doc["properties"]))
    assert browser.evaluate("document.getElementById('verdict').innerText") == doc["verdict"]
    browser.screenshot(page.with_suffix(".png"), full_page=True)


def test_check_page_without_tiers_is_one_table():
    """A check document from before tiers (no "tier", no "tiers") still renders: one table, no tier headings."""
    page = check_page({"target": "t.py:f", "algorithm": "beam", "verdict": "pass", "reason": "",
                       "properties": [{"name": "properties/test_beam.py::test_a", "status": "passed", "detail": ""}]})
    assert page.count('<table class="properties">') == 1 and 'class="tier"' not in page
    assert "properties/test_beam.py::test_a" in page


def test_grade_html_has_one_row_per_submission(browser, tmp_path, monkeypatch):
    """`grade --html` from the rows `grade --json` writes. Catches a page that loses a submission (a load
    error included), shows another verdict than the JSON, or miscounts the passing submissions."""
    submissions = [Submission(name, "flash", tmp_path / name / "attention.py", "flash_attention_fwd")
                   for name in ("flash_correct", "flash_inverted_rescale", "flash_broken_import")]

    def judge(algorithm, target, settings, selection=None, suite_root=None):
        if "broken" in target:
            raise LoadError("ModuleNotFoundError: No module named 'tritonx'")
        if "inverted" in target:
            return target, VERDICTS
        return target, [v for v in VERDICTS if v.status != "failed"]

    monkeypatch.setattr(grade, "discover", lambda directory: submissions)
    monkeypatch.setattr(grade, "judge", judge)
    page, document = tmp_path / "grade.html", tmp_path / "grade.json"
    result = invoke(grade, str(tmp_path), "--no-isolation", "--json", str(document), "--html", str(page))
    assert result.exit_code == 1, result.output
    rows_doc = json.loads(document.read_text())["submissions"]
    opened(browser, page)
    rows = rendered_rows(browser, "table.grade tbody tr")
    assert [(r[0], r[1].split()[0]) for r in rows] == [(r["name"], r["verdict"]) for r in rows_doc]
    shown = browser.evaluate(SHOWN_COUNTS)
    assert (shown["submissions"], shown["pass"]) == (str(len(rows_doc)),
                                                     str(sum(r["verdict"] == "pass" for r in rows_doc)))
    browser.screenshot(page.with_suffix(".png"), full_page=True)


def test_audit_html_shows_the_kill_matrix_of_the_audited_tests(browser, tmp_path, monkeypatch):
    """`audit --html` from the document `audit --json` writes. Catches a page that loses a mutant or a kill,
    or shows another score than the JSON."""
    catalog = [m for m in load_catalog(ROOT / "mutation_config") if m.algorithm == "beam"][:4]
    killers = ("tests_mine/test_beam.py::test_eos", "tests_mine/test_beam.py::test_scores")
    results = [MutantResult(catalog[0].id, "beam", "killed", killers), MutantResult(catalog[1].id, "beam",
                                                                                    "killed", killers[:1]),
               MutantResult(catalog[2].id, "beam", "survived"), MutantResult(catalog[3].id, "beam", "survived")]
    monkeypatch.setattr(audit, "audit_tests", lambda *args, **kwargs: audit_records(results, catalog))
    page, document = tmp_path / "audit.html", tmp_path / "audit.json"
    result = invoke(audit, "tests_mine", "--no-isolation", "--no-cache", "--json", str(document),
                    "--html", str(page))
    assert result.exit_code == 1, result.output
    doc = json.loads(document.read_text())
    opened(browser, page)
    rows = browser.evaluate("[...document.querySelectorAll('table.matrix tbody tr')].map(tr => tr.dataset.mutant)")
    assert rows == [m["id"] for m in doc["mutants"]]
    assert browser.evaluate("document.querySelectorAll('td.kill').length") == \
        sum(len(m["killed_by"]) for m in doc["mutants"])
    assert browser.evaluate(SHOWN_COUNTS)["killed"] == str(doc["killed"])
    assert browser.evaluate("document.querySelectorAll('#missed li').length") == \
        sum(m["status"] == "survived" for m in doc["mutants"])
    browser.screenshot(page.with_suffix(".png"), full_page=True)
