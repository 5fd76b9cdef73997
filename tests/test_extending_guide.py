"""docs/EXTENDING.md followed to the letter: its example property and mutant, copied into a copy of
the tree and nothing else, show up in `list`, run green in the suite, kill the example mutant in the
report's runner and run in `check` against outside code. If the guide's steps stop working, this fails.
"""

import shutil

import pytest

from killmatrix.commands.list import listing
from killmatrix.mutation.catalog import ROOT, get_mutant
from killmatrix.mutation.named_runner import run_named_mutants
from killmatrix.mutation.tree_copy import copy_tree
from killmatrix.outside.check_run import run_suite_against

EXAMPLES = ROOT / "examples" / "extending"
PROPERTY = "test_attention_identical_keys.py"
TEST_ID = f"properties/{PROPERTY}::test_identical_keys_average_the_seen_values"
MUTANT_ID = "flash-causal-mask-from-first-query"


@pytest.fixture(scope="module")
def extended_tree(tmp_path_factory):
    tree = copy_tree(ROOT, tmp_path_factory.mktemp("extended") / "tree")
    shutil.copy(EXAMPLES / PROPERTY, tree / "properties" / PROPERTY)
    # The guide's tier line (killmatrix/tiers.py): without it collection refuses the new property.
    tiers = tree / "killmatrix" / "tiers.py"
    opening = "FILE_DEFAULTS: dict[str, Tier] = {\n"
    tiers.write_text(tiers.read_text().replace(opening, f'{opening}    "properties/{PROPERTY}": correctness,\n', 1))
    shutil.copy(EXAMPLES / "named_example.toml", tree / "mutation_config" / "named_example.toml")
    return tree


def test_new_property_and_mutant_appear_in_list(extended_tree):
    document = listing(extended_tree, "flash")
    [entry] = [t for t in document["tests"] if t["id"] == TEST_ID]
    assert "identical_keys" in entry["family"]
    assert "mean of the seen values" in entry["why"]
    assert MUTANT_ID in [m["id"] for m in document["mutants"]]


def test_new_property_passes_on_the_reference_and_kills_the_example_mutant(extended_tree):
    # The runner's baseline is the reference suite: BaselineFailed if the new property is red there.
    mutant = get_mutant(MUTANT_ID, extended_tree / "mutation_config")
    [result] = run_named_mutants([mutant], [f"properties/{PROPERTY}"], root=extended_tree, jobs=1)
    assert result.status == "killed"
    assert TEST_ID in result.killed_by


@pytest.mark.parametrize(("mutated", "expected"), [(False, "passed"), (True, "failed")])
def test_new_property_runs_in_check_against_outside_code(extended_tree, tmp_path, mutated, expected):
    # Outside code: the reference forward, and the example mutant of it, saved as a user's own file.
    source = (ROOT / "impl" / "attention.py").read_text()
    if mutated:
        source = get_mutant(MUTANT_ID, extended_tree / "mutation_config").apply_to_text(source)
    outside = tmp_path / "their_flash.py"
    outside.write_text(source)
    run = run_suite_against("flash", str(outside), selection=["-k", "identical_keys"], suite_root=extended_tree)
    outcomes = {nodeid.split("[", 1)[0]: o.outcome for nodeid, o in run.outcomes.items()}
    assert outcomes == {TEST_ID: expected}
