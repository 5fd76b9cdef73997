"""`grade` over the corpus of independent implementations: no false failure, every real bug caught by name.

`examples/corpus/<algorithm>/<name>/` holds implementations written from the seed's text alone by
people who had not read `impl/`, in the styles found in the wild, and single-bug twins of them. Each
folder's MANIFEST.toml says whether it is correct and, for a twin, which properties name its bug
(`fails_on`, any of them). A correct implementation that fails is a false failure of the suite; a
twin that passes, or fails only on an unrelated property, is a bug the suite misses or misnames.

The whole corpus takes minutes, so these tests carry the `corpus` marker: `make corpus` runs them
(and CI, after `make test`); `make test` leaves them out.
"""

from __future__ import annotations

import json
import tomllib
from functools import cache

import pytest
from typer.testing import CliRunner

from killmatrix.algorithms import ALGORITHMS as REGISTERED
from killmatrix.mutation.catalog import ROOT
from tests.outward_cli import outward_app

CORPUS = ROOT / "examples" / "corpus"
# One folder per algorithm of the registry that has a corpus.
ALGORITHMS = tuple(a.name for a in REGISTERED if (CORPUS / a.name).is_dir())

pytestmark = pytest.mark.corpus


def manifests(algorithm: str) -> dict[str, dict]:
    return {path.parent.name: tomllib.loads(path.read_text())
            for path in sorted((CORPUS / algorithm).glob("*/MANIFEST.toml"))}


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    """`killmatrix grade examples/corpus/<algorithm>`, run once per algorithm, rows by folder name."""

    @cache
    def rows(algorithm: str) -> dict[str, dict]:
        out = tmp_path_factory.mktemp("corpus") / f"{algorithm}.json"
        result = CliRunner().invoke(outward_app(), ["grade", str(CORPUS / algorithm), "--json", str(out)])
        assert result.exit_code in (0, 1), result.output
        return {row["name"]: row for row in json.loads(out.read_text())["submissions"]}

    return rows


def _members():
    for algorithm in ALGORITHMS:
        for name, manifest in manifests(algorithm).items():
            yield pytest.param(algorithm, name, manifest, id=f"{algorithm}/{name}")


def _failing(row: dict) -> dict[str, dict]:
    return {p["name"].split("::")[1]: p for p in row["properties"]
            if p["tier"] == "correctness" and p["status"] in ("failed", "error", "timeout")}


@pytest.mark.parametrize(("algorithm", "name", "manifest"), list(_members()))
def test_corpus_member_gets_the_verdict_its_manifest_states(graded, algorithm, name, manifest):
    """Catches a false failure of correct code (a contract extra judged as correctness, a tie-break, a
    tolerance), and a real bug that no correctness property names."""
    row = graded(algorithm)[name]
    failing = _failing(row)
    if manifest["correct"] in (True, "equivalent"):
        assert row["verdict"] == "pass", f"{name} is correct but failed: {json.dumps(failing, indent=1)[:2000]}"
        return
    assert row["verdict"] == "fail", f"{name} has the bug {manifest['bug']!r} but passed"
    named = set(manifest["fails_on"]) & set(failing)
    assert named, f"{name} ({manifest['bug']}) failed only on {sorted(failing)}, none of {manifest['fails_on']}"
    details = [failing[test]["detail"] for test in named]
    assert all(detail and "^^^" not in detail for detail in details), details


def test_every_buggy_manifest_names_the_properties_of_its_bug():
    """Catches a twin added without saying which property must catch it (it would pass on any failure)."""
    for algorithm in ALGORITHMS:
        for name, manifest in manifests(algorithm).items():
            if manifest["correct"] is False:
                assert manifest.get("fails_on"), f"{algorithm}/{name}: MANIFEST.toml needs fails_on"
