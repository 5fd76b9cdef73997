"""HTML pages of killmatrix's results, each one file that opens with no network.

Every page is built from a JSON document a command already writes (`report --json/--stryker`, the kill
matrix document of killmatrix.rendering.kill_matrix, `check/grade/audit --json`), never from the terminal tables:
the documents are the interface, so a page shows what the JSON says. The mutation report embeds its
Stryker document in the vendored mutation-testing-elements viewer (killmatrix/vendor/, refreshed by
`make refresh-viewer`); the other pages are plain HTML with one shared stylesheet.
"""

from __future__ import annotations

import html
import json
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from killmatrix.algorithms import algorithm_label
from killmatrix.tiers import TIERS

VIEWER_DIR = Path(__file__).parents[1] / "vendor" / "mutation-testing-elements"
VIEWER_BUNDLE = VIEWER_DIR / "mutation-test-elements.js"
KILL_MATRIX_NAME = "kill-matrix.html"  # written beside the report page, which links to it
REPORT_NAME = "index.html"

STYLE = """
:root { color-scheme: light; --fg: #1f2937; --muted: #6b7280; --line: #e5e7eb; --soft: #f3f4f6;
        --green: #15803d; --green-bg: #dcfce7; --red: #b91c1c; --red-bg: #fee2e2;
        --amber: #92400e; --amber-bg: #fef3c7; --gray-bg: #e5e7eb; --link: #1d4ed8; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); }
main, .bar { max-width: 1320px; margin: 0 auto; padding: 0 24px; }
h1 { font-size: 28px; margin: 20px 0 4px; } h2 { font-size: 20px; margin: 28px 0 8px; }
h3 { font-size: 15px; margin: 0 0 6px; }
a { color: var(--link); text-decoration: none; } a:hover { text-decoration: underline; }
.sub { color: var(--muted); margin: 0 0 12px; }
.counts { display: flex; flex-wrap: wrap; gap: 8px; margin: 12px 0; padding: 0; list-style: none; }
.counts li { background: var(--soft); border: 1px solid var(--line); border-radius: 6px; padding: 6px 12px; }
.counts b { font-size: 18px; margin-right: 4px; }
.verdict { display: inline-block; font-weight: 700; font-size: 16px; padding: 4px 14px; border-radius: 6px; }
.badge { display: inline-block; border-radius: 4px; padding: 0 6px; font-size: 12px; font-weight: 600;
         white-space: nowrap; background: var(--gray-bg); color: var(--fg); }
.s-passed, .s-killed, .s-pass, .s-supported { background: var(--green-bg); color: var(--green); }
.s-failed, .s-survived, .s-fail, .s-error, .s-fails { background: var(--red-bg); color: var(--red); }
.s-timeout { background: var(--amber-bg); color: var(--amber); }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; vertical-align: top; text-align: left; }
thead th { background: var(--soft); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
pre { margin: 0; font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; white-space: pre-wrap;
      word-break: break-word; }
.detail pre { max-height: 16em; overflow: auto; }
.matrix th.col { text-align: center; font-weight: 500; min-width: 26px; padding: 2px 4px; }
.matrix th.module { text-align: center; font-size: 11px; font-weight: 500; color: var(--muted); padding: 2px;
                    vertical-align: bottom; }
.matrix th.row { white-space: nowrap; font-weight: 500; }
.matrix td.cell { text-align: center; padding: 0 2px; white-space: nowrap; }
.matrix td.kill { background: var(--green-bg); }
.matrix td.kill a, .matrix td.kill span { color: var(--green); font-weight: 700; }
.matrix td.kill a.diff { font-size: 10px; margin-left: 2px; color: var(--muted); }
.matrix tr.equivalent th.row, .matrix tr.equivalent td { color: var(--muted); background: var(--soft); }
.matrix tr.survived td.cell, .matrix tr.error td.cell { background: var(--red-bg); }
.matrix tr.timeout td.cell { background: var(--amber-bg); }
section.item { border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; margin: 10px 0; }
section.item:target { outline: 3px solid #93c5fd; }
pre.diff .add { background: var(--green-bg); display: block; }
pre.diff .del { background: var(--red-bg); display: block; }
pre.diff .hunk { color: var(--muted); display: block; }
pre.source .ln { color: var(--muted); display: inline-block; width: 4em; user-select: none; }
pre.source .def { background: #fef9c3; display: block; }
.bar { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 18px; padding-top: 14px;
       padding-bottom: 14px; border-bottom: 1px solid var(--line); }
.bar h1 { margin: 0; font-size: 20px; }
details { margin: 6px 0; } summary { cursor: pointer; font-weight: 600; }
ol.legend { columns: 2; font-size: 12px; }
"""


def _text(value: object) -> str:
    return html.escape(str(value), quote=True)


def _anchor(prefix: str, name: str) -> str:
    """An element id from any name: ids of mutants and tests hold `::`, `/` and `[`."""
    return f"{prefix}-{re.sub(r'[^A-Za-z0-9_-]', '_', name)}"


def _badge(status: str) -> str:
    return f'<span class="badge s-{_text(status)}">{_text(status)}</span>'


def _counts(items: Iterable[tuple[str, object, str]]) -> str:
    """The page's headline numbers: (key, value, label); the browser test reads them back by key."""
    cells = "".join(f'<li><b data-count="{_text(k)}">{_text(v)}</b>{_text(label)}</li>' for k, v, label in items)
    return f'<ul class="counts">{cells}</ul>'


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], cls: str = "") -> str:
    """`rows` hold ready-made cell HTML (escape text with _text first)."""
    header = "".join(f"<th>{_text(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>'


def _page(title: str, body: str, head: str = "") -> str:
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_text(title)}</title><style>{STYLE}</style>{head}</head>\n<body>\n{body}\n</body></html>\n")


def _script_json(document: dict) -> str:
    """JSON safe inside <script>: `<` only occurs in strings, where \\u003c means the same."""
    return json.dumps(document, separators=(",", ":")).replace("<", "\\u003c")


def _short_test(test_id: str) -> str:
    return test_id.rsplit("::", 1)[-1]


def _module(test_id: str) -> str:
    return Path(test_id.split("::", 1)[0]).stem


def write_page(path: Path | str, page: str) -> Path | None:
    """Write `page` to `path`, or to stdout when `path` is `-` (as every --json of the commands)."""
    if str(path) == "-":
        sys.stdout.write(page)
        sys.stdout.flush()
        return None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def viewer_version() -> str:
    """The vendored viewer's version (first line of its VERSION file)."""
    return (VIEWER_DIR / "VERSION").read_text().split()[0]


# the mutation report -----------------------------------------------------------------------------


def stryker_mutants(stryker: dict) -> list[tuple[str, dict]]:
    """(file, mutant) for every mutant of a mutation-testing-report-schema document."""
    return [(path, m) for path, entry in stryker.get("files", {}).items() for m in entry.get("mutants", [])]


def _equivalent_list(stryker: dict) -> str:
    ignored = [(path, m) for path, m in stryker_mutants(stryker) if m["status"] == "Ignored"]
    items = []
    for path, m in ignored:
        description = _text(m.get("description", ""))
        # A mutmut mutant's description is its diff: its lines must stay lines.
        what = f"<pre>{description}</pre>" if m["mutatorName"] == "mutmut" else f"<span>{description}</span>"
        items.append(f'<li class="equivalent"><b>{_text(m["mutatorName"])}</b> '
                     f'<code>{_text(path)}:{m["location"]["start"]["line"]}</code> {what}'
                     f'<div>why: {_text(m.get("statusReason", ""))}</div></li>')
    accepted = sum(m.get("statusReason", "").startswith("accepted: ") for _, m in ignored)
    return (f'<details id="equivalent"><summary>Equivalent and accepted mutants (<span data-count="equivalent">'
            f"{len(ignored) - accepted}</span> equivalent, <span data-count=\"accepted\">{accepted}</span> accepted):"
            " shown as Ignored, with why no test can kill them or why the contract permits the difference"
            f"</summary><ol>{''.join(items)}</ol></details>")


def report_page(report: dict, stryker: dict, *, kill_matrix_href: str = KILL_MATRIX_NAME) -> str:
    """The mutation report: a bar with the verdict and the named-mutant score, the equivalent mutants
    with their reasons, and the viewer with `stryker` (every mutant, its killing tests, test sources)."""
    mutmut = report.get("mutmut")
    counts = [("named-killed", report["killed"], f" of {report['total']} named mutants killed")]
    if mutmut:
        detected = mutmut["killed"] + mutmut["timeout"]
        counts.append(("mutmut-detected", detected, f" of {mutmut['total']} mutmut mutants detected "
                                                     f"(score {mutmut['score']}%)"))
    verdict = "pass" if report.get("passed") else "fail"
    bar = (f'<header class="bar"><h1>killmatrix mutation report</h1>'
           f'<span class="verdict s-{verdict}" id="verdict">{verdict}</span>{_counts(counts)}'
           f'<a id="kill-matrix-link" href="{_text(kill_matrix_href)}">Kill matrix: named mutants × tests →</a>'
           f"</header>")
    # The bundle holds no `</script`; were a refresh to bring one, it must not end the element early.
    bundle = VIEWER_BUNDLE.read_text(encoding="utf-8").replace("</script", "<\\/script")
    body = (f'{bar}<div class="bar">{_equivalent_list(stryker)}</div>\n'
            f'<mutation-test-report-app title-postfix="killmatrix"></mutation-test-report-app>\n'
            f"<script>{bundle}</script>\n"
            f'<script type="application/json" id="report-data">{_script_json(stryker)}</script>\n'
            "<script>document.querySelector('mutation-test-report-app').report = "
            "JSON.parse(document.getElementById('report-data').textContent);</script>")
    head = f'<meta name="generator" content="killmatrix, mutation-testing-elements {_text(viewer_version())}">'
    return _page("killmatrix mutation report", body, head)


# matrices (the report's kill matrix, the audit's) ------------------------------------------------


def _matrix(mutants: Sequence[dict], numbers: dict[str, int], *, linked: bool) -> str:
    """Rows: `mutants` ({"id", "status", "killed_by"}); columns: their killing tests, grouped by module and
    numbered as in `numbers`. `linked`: each cell links to the test's source and the mutant's diff."""
    tests = sorted({t for m in mutants for t in m["killed_by"]}, key=numbers.__getitem__)
    modules: list[list] = []
    for test in tests:
        if modules and modules[-1][0] == _module(test):
            modules[-1][1] += 1
        else:
            modules.append([_module(test), 1])
    # A module's name may break after each underscore: a long name over one column would widen it.
    top = "".join(f'<th class="module" colspan="{n}" title="{_text(name)}">'
                  f'{_text(name.removeprefix("test_")).replace("_", "_<wbr>")}</th>' for name, n in modules)
    numbered = "".join(f'<th class="col" title="{_text(t)}">{numbers[t]}</th>' for t in tests)
    rows = []
    for m in mutants:
        killers = set(m["killed_by"])
        cells = []
        for t in tests:
            if t not in killers:
                cells.append('<td class="cell"></td>')
                continue
            what = f"{_short_test(t)} kills {m['id']}"
            if linked:
                cells.append(f'<td class="cell kill"><a href="#{_anchor("t", t)}" title="{_text(what)}: the test">●'
                             f'</a><a class="diff" href="#{_anchor("m", m["id"])}" title="{_text(what)}: the diff">±'
                             f"</a></td>")
            else:
                cells.append(f'<td class="cell kill"><span title="{_text(what)}">●</span></td>')
        name = (f'<a href="#{_anchor("m", m["id"])}">{_text(m["id"])}</a>' if linked else _text(m["id"]))
        rows.append(f'<tr class="mutant {_text(m["status"])}" data-mutant="{_text(m["id"])}">'
                    f'<th class="row">{name} {_badge(m["status"])}</th>{"".join(cells)}</tr>')
    head = (f'<tr><th rowspan="2">named mutant</th>{top}</tr><tr>{numbered}</tr>' if tests
            else "<tr><th>named mutant</th></tr>")
    return f'<table class="matrix"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


def _matrices(mutants: Sequence[dict], numbers: dict[str, int], *, linked: bool) -> str:
    """One matrix per algorithm, in the order the algorithms first appear."""
    by_algorithm: dict[str, list[dict]] = {}
    for m in mutants:
        by_algorithm.setdefault(m.get("algorithm", ""), []).append(m)
    return "".join(f"<h2>{_text(algorithm_label(a) or 'named mutants')}</h2>{_matrix(ms, numbers, linked=linked)}"
                   for a, ms in by_algorithm.items())


def _kill_totals(mutants: Sequence[dict], tests: int) -> str:
    judged = [m for m in mutants if m["status"] != "equivalent"]
    return _counts([
        ("killed", sum(m["status"] == "killed" for m in judged), f" of {len(judged)} named mutants killed"),
        ("equivalent", len(mutants) - len(judged), " equivalent"),
        ("tests", tests, " killing tests"),
        ("kills", sum(len(m["killed_by"]) for m in mutants), " kills (cells)"),
    ])


def _diff_html(diff: str) -> str:
    def line(text: str) -> str:
        cls = ("hunk" if text.startswith(("@@", "---", "+++")) else "add" if text.startswith("+")
               else "del" if text.startswith("-") else "")
        return f'<span class="{cls}">{_text(text)}</span>' if cls else _text(text) + "\n"
    return f'<pre class="diff">{"".join(line(t) for t in diff.splitlines())}</pre>'


def _source_html(source: str, first: int) -> str:
    lines = source.splitlines() or [""]
    out = [f'<span class="{"def" if i == 0 else "line"}"><span class="ln">{first + i}</span>{_text(text)}</span>'
           for i, text in enumerate(lines)]
    return f'<pre class="source">{"".join(s if i == 0 else s + chr(10) for i, s in enumerate(out))}</pre>'


def kill_matrix_page(matrix: dict, *, report_href: str = REPORT_NAME) -> str:
    """Named mutants x killing tests (killmatrix.rendering.kill_matrix.kill_matrix_json); every cell links to the
    test's source line and the mutant's diff, both further down the page."""
    mutants, tests = matrix["mutants"], matrix["tests"]
    numbers = {t["id"]: i for i, t in enumerate(tests, 1)}
    mutant_sections, test_sections = [], []
    for m in mutants:
        killers = "".join(f'<li><a href="#{_anchor("t", t)}">{numbers[t]}. {_text(t)}</a></li>'
                          for t in m["killed_by"])
        why = f'<p class="detail">{_text(m["detail"])}</p>' if m.get("detail") else ""
        mutant_sections.append(f'<section class="item mutant" id="{_anchor("m", m["id"])}"><h3>{_text(m["id"])} '
                        f'{_badge(m["status"])}</h3><p>{_text(m["bug"])}</p>{why}{_diff_html(m["diff"])}'
                        f'{f"<p>killed by:</p><ul>{killers}</ul>" if killers else ""}</section>')
    for t in tests:
        where = f"{t['file']}:{t['line']}" if t["line"] else t["file"]
        source = _source_html(t["source"], t["line"]) if t["source"] else "<p>source not found</p>"
        test_sections.append(f'<section class="item test" id="{_anchor("t", t["id"])}"><h3>{numbers[t["id"]]}. '
                             f'{_text(_short_test(t["id"]))}</h3><p class="sub"><code>{_text(where)}</code></p>'
                             f"{source}</section>")
    body = (f'<header class="bar"><h1>Kill matrix</h1><a id="report-link" href="{_text(report_href)}">'
            f"← mutation report</a></header><main>"
            f'<p class="sub">Each named mutant (a real bug class) against every test that kills it. A cell links to '
            f"the test's source (●) and the mutant's diff (±).</p>{_kill_totals(mutants, len(tests))}"
            f"{_matrices(mutants, numbers, linked=True)}"
            f'<h2>Named mutants</h2>{"".join(mutant_sections)}<h2>Killing tests</h2>{"".join(test_sections)}</main>')
    return _page("killmatrix kill matrix", body)


def write_report_pages(path: Path | str, report: dict, stryker: dict, matrix: dict) -> tuple[Path, Path]:
    """The report page at `path` and the kill matrix beside it, each linking to the other."""
    path = Path(path)
    matrix_path = path.with_name(KILL_MATRIX_NAME if path.name != KILL_MATRIX_NAME else "kill-matrix-page.html")
    write_page(path, report_page(report, stryker, kill_matrix_href=matrix_path.name))
    write_page(matrix_path, kill_matrix_page(matrix, report_href=path.name))
    return path, matrix_path


# check, grade, audit ----------------------------------------------------------------------------


def _status_counts(properties: Sequence[dict]) -> list[tuple[str, int, str]]:
    statuses: dict[str, int] = {}
    for p in properties:
        statuses[p["status"]] = statuses.get(p["status"], 0) + 1
    return [("properties", len(properties), " properties")] + [(s, n, f" {s}") for s, n in statuses.items()]


def _tiers_counts(tiers: dict) -> list[tuple[str, object, str]]:
    out: list[tuple[str, object, str]] = []
    if "correctness" in tiers:
        c = tiers["correctness"]
        out.append(("correctness", f"{c['passed']}/{c['total']}", " correctness passed"))
    if tiers.get("hardening", {}).get("total"):
        h = tiers["hardening"]
        out.append(("hardening", f"{h['rejected']}/{h['total']}", " bad inputs rejected (hardening)"))
    for feature, state in tiers.get("extensions", {}).items():
        out.append((f"extension-{feature}", state, f" extension {feature}"))
    for name, value in tiers.get("performance", {}).get("figures", {}).items():
        out.append((f"figure-{name}", value, f" {name.replace('_', ' ')}"))
    return out


def _property_rows(properties: Sequence[dict]) -> list[list[str]]:
    return [[f"<code>{_text(p['name'])}</code>", _badge(p["status"]), _text(p.get("feature") or ""),
             f'<div class="detail"><pre>{_text(p.get("detail") or "")}</pre></div>'] for p in properties]


def _by_tier(properties: Sequence[dict]) -> list[tuple[str, list[dict]]]:
    """Properties grouped by their "tier" in TIERS order (unknown tiers after); one group when untiered."""
    if not any(p.get("tier") for p in properties):
        return [("", list(properties))]
    order = list(TIERS) + sorted({p.get("tier") or "" for p in properties} - set(TIERS))
    groups = [(tier, [p for p in properties if (p.get("tier") or "") == tier]) for tier in order]
    return [(tier, ps) for tier, ps in groups if ps]


def check_page(document: dict) -> str:
    """`check --json`: the verdict and why, then every property with its status and detail (the minimal
    failing input), grouped by tier when the document has tiers."""
    properties = document["properties"]
    title = f"{algorithm_label(document['algorithm'])} properties of {document['target']}"
    reason = f'<p id="reason">why: {_text(document["reason"])}</p>' if document.get("reason") else ""
    tables = "".join(
        (f'<h2 class="tier" data-tier="{_text(tier)}">{_text(tier)}</h2>' if tier else "")
        + _table(("property", "status", "feature", "detail / minimal failing input"), _property_rows(ps),
                 "properties")
        for tier, ps in _by_tier(properties))
    counts = _tiers_counts(document.get("tiers") or {}) + _status_counts(properties)
    body = (f'<header class="bar"><h1>killmatrix check</h1><span class="verdict s-{_text(document["verdict"])}" '
            f'id="verdict">{_text(document["verdict"])}</span></header><main><h1>{_text(title)}</h1>{reason}'
            f"{_counts(counts)}{tables}</main>")
    return _page(f"killmatrix check: {title}", body)


GRADE_HEAD = ("submission", "verdict", "correctness", "first failing property", "extensions", "hardening")


def _grade_row(row: dict, families: Sequence[str]) -> list[str]:
    verdict = _badge(row["verdict"]) + "".join(f" {_badge(t)}" for t in row.get("troubles") or ())
    if row.get("load_error"):
        return [_text(row["name"]), verdict, f'<span class="detail">load error: {_text(row["load_error"])}</span>',
                "", "", "", *("" for _ in families)]
    correctness, hardening = row.get("correctness") or {}, row.get("hardening") or {}
    first = row.get("first_failure")
    failing = "" if not first else (f'<code title="{_text(first.get("detail") or "")}">'
                                    f'{_text(_short_test(first["name"]))}</code> {_badge(first["status"])}')
    extensions = " ".join(f"{_text(f)} {_badge(s)}" for f, s in (row.get("extensions") or {}).items())
    return [_text(row["name"]), verdict,
            f"{correctness.get('passed', '')}/{correctness.get('total', '')}" if correctness else "",
            failing, extensions,
            f"{hardening['rejected']}/{hardening['total']}" if hardening.get("total") else "-",
            *(_text(row.get("cells", {}).get(f, "-")) for f in families)]


def grade_page(document: dict) -> str:
    """`grade --json`: one table per algorithm, one row per submission, then each failing row's reason."""
    rows = document["submissions"]
    by_algorithm: dict[str, list[dict]] = {}
    for row in rows:
        by_algorithm.setdefault(row["algorithm"], []).append(row)
    tables = []
    for algorithm, algorithm_rows in by_algorithm.items():
        families = sorted({f for r in algorithm_rows for f in r.get("cells", {})})
        reasons = "".join(f"<li><b>{_text(r['name'])}</b>: {_text(r['reason'])}</li>"
                          for r in algorithm_rows if r.get("reason"))
        # The families under a heading of their own: one of them is called `extensions` too.
        head = ("".join(f'<th rowspan="2">{_text(h)}</th>' for h in GRADE_HEAD)
                + (f'<th colspan="{len(families)}">property families (passed/total)</th>' if families else ""))
        body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in _grade_row(r, families)) + "</tr>"
                       for r in algorithm_rows)
        tables.append(f"<h2>{_text(algorithm_label(algorithm))}</h2>"
                      f'<table class="grade"><thead><tr>{head}</tr><tr>'
                      f'{"".join(f"<th>{_text(f)}</th>" for f in families)}</tr></thead><tbody>{body}</tbody></table>'
                      + (f"<details><summary>why each failing submission fails</summary><ul>{reasons}</ul></details>"
                         if reasons else ""))
    passed = sum(r["verdict"] == "pass" for r in rows)
    counts = _counts([("submissions", len(rows), " submissions"), ("pass", passed, " pass"),
                      ("not-pass", len(rows) - passed, " fail or error")])
    body = (f'<header class="bar"><h1>killmatrix grade</h1></header><main>{counts}'
            f'<p class="sub">Correctness alone decides the verdict.</p>{"".join(tables)}</main>')
    return _page("killmatrix grade", body)


def audit_page(document: dict) -> str:
    """`audit --json`: the score, the kill matrix of the audited tests, and what they miss."""
    mutants = document["mutants"]
    tests = sorted({t for m in mutants for t in m["killed_by"]})
    numbers = {t: i for i, t in enumerate(tests, 1)}
    legend = "".join(f"<li>{_text(t)}</li>" for t in tests)
    missed = "".join(f"<li><b>{_text(m['id'])}</b> {_badge(m['status'])} {_text(m.get('detail') or m['bug'])}</li>"
                     for m in mutants if m["status"] not in ("killed", "equivalent"))
    body = (f'<header class="bar"><h1>killmatrix audit</h1></header><main>'
            f"{_kill_totals(mutants, len(tests))}{_matrices(mutants, numbers, linked=False)}"
            f'<h2>The audited tests</h2><ol class="legend">{legend}</ol>'
            + (f"<h2>What the tests miss</h2><ul id=\"missed\">{missed}</ul>" if missed else "")
            + "</main>")
    return _page("killmatrix audit", body)


def _own_score(part: dict) -> str:
    return f"{part['killed']}/{part['total']}"


def _own_mutant_items(entries: Sequence[dict], *, with_property: bool) -> str:
    """One section per mutant of the user's code: its diff and, for a real bug, what the suite saw."""
    sections = []
    for m in entries:
        found = (f'<p>fails <b>{_text(m["property"])}</b></p><pre class="input">{_text(m["input"])}</pre>'
                 if with_property and "property" in m else "")
        sections.append(f'<section class="item" id="{_anchor("m", m["id"])}" data-mutant="{_text(m["id"])}">'
                        f'<h3>{_text(m["id"])}</h3>{_diff_html(m["diff"])}{found}</section>')
    return "".join(sections)


def own_audit_page(record: dict) -> str:
    """`audit --impl --json`: the check verdict of the user's code, the named bug classes transplanted into
    their tests (a kill matrix), and the mutants of their own code their tests miss: real bugs (the failing
    property and smallest input) apart from the ones that survive the suite too."""
    check, named, own = record.get("check"), record.get("named"), record.get("own")
    title = f"audit of {record['target']} ({algorithm_label(record['algorithm'])})"
    counts = []
    if named is not None:
        counts.append(("named", _own_score(named), " named bug classes killed by your tests"))
    if own is not None:
        counts.append(("own", _own_score(own), " mutants of your code killed by your tests"))
        for key, label in (("missed_real", " real bugs missed"), ("survive_both", " survive both"),
                           ("untriaged", " missed, not triaged")):
            if key in own:
                counts.append((key, len(own[key]), label))
    verdict = (f'<span class="verdict s-{_text(check["verdict"])}" id="verdict">check: {_text(check["verdict"])}'
               f"</span>" if check else "")
    reason = f'<p id="reason">why: {_text(check["reason"])}</p>' if check and check.get("reason") else ""
    parts = [f"<h1>{_text(title)}</h1>{reason}{_counts(counts)}"]
    if record.get("silent_tests"):
        parts.append('<p id="silent">tests that assert nothing (they can never fail): '
                     f'{_text(", ".join(record["silent_tests"]))}</p>')
    if record.get("excluded_tests"):
        parts.append("<h2>Tests left out</h2>" + _table(
            ("test", "why"), ([_text(e["name"]), _text(e["reason"])] for e in record["excluded_tests"]), "excluded"))
    if named is not None:
        tests = sorted({t for m in named["mutants"] for t in m["killed_by"]})
        numbers = {t: i for i, t in enumerate(tests, 1)}
        legend = "".join(f"<li>{_text(t)}</li>" for t in tests)
        parts.append(f"<h2>Named bug classes transplanted into your tests</h2>"
                     f"{_matrix(named['mutants'], numbers, linked=False)}"
                     + (f'<ol class="legend">{legend}</ol>' if tests else ""))
    if own is not None:
        for key, heading, with_property in (
                ("missed_real", "Real bugs your tests miss (the suite kills these mutants of your code)", True),
                ("survive_both", "Mutants that survive your tests and the suite (likely equivalent)", False),
                ("untriaged", "Mutants your tests miss, not triaged", False)):
            if own.get(key):
                parts.append(f'<h2 id="{key}">{_text(heading)}</h2>'
                             + _own_mutant_items(own[key], with_property=with_property))
    if check and check.get("properties"):
        parts.append("<h2>check: the suite against your code</h2>" + _table(
            ("property", "status", "feature", "detail / minimal failing input"), _property_rows(check["properties"]),
            "properties"))
    if record.get("timings"):
        parts.append('<p class="sub" id="timings">time: ' + _text(", ".join(
            f"{k} {v:.0f} s" for k, v in record["timings"].items())) + "</p>")
    body = (f'<header class="bar"><h1>killmatrix audit --impl</h1>{verdict}</header>'
            f"<main>{''.join(parts)}</main>")
    return _page(f"killmatrix {title}", body)
