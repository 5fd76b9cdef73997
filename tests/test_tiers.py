"""The tier registry (killmatrix/tiers.py), the collection hook that applies it
(killmatrix/plugins/suite_plugin.py), the hardening helper (adversarial/rejections.py) and tiered verdicts
end to end through `check` and `grade`."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from adversarial.rejections import rejects
from killmatrix import tiers
from killmatrix.mutation.catalog import ROOT
from killmatrix.plugins import suite_plugin as root_conftest
from killmatrix.rendering.suite_inventory import discover
from tests.outward_cli import outward_app

SUBMISSIONS = ROOT / "examples" / "submissions"


def test_every_suite_test_has_exactly_one_tier():
    """(Fails as soon as a suite test is added in a file the registry does not know: it would count in no
    verdict. Collection refuses it too, see below.)"""
    suite = discover(ROOT)
    assert len(suite) > 60
    untiered = [t.test_id for t in suite if t.tier == "untiered"]
    assert untiered == [], f"add these to killmatrix/tiers.py: {untiered}"
    for test in suite:
        assert str(tiers.tier_of(test.test_id)) in (test.tier.replace(": ", "(") + ")", test.tier)


def test_the_registry_names_only_what_exists_and_each_test_once():
    """(Catches a stale or renamed entry, which silently drops a test back to its file's default, and a key
    written twice in a dict literal, where the second entry wins unseen.)"""
    suite = {t.test_id for t in discover(ROOT)}
    files = {test_id.split("::")[0] for test_id in suite}
    assert set(tiers.FILE_DEFAULTS) == files
    functions = {key.split("[", 1)[0] for key in tiers.OVERRIDES}
    assert functions <= suite, functions - suite
    for key in tiers.OVERRIDES:
        if "[" in key:  # one parametrized case: its id must still be in the file
            case = key.split("[", 1)[1].rstrip("]")
            assert f'"{case}"' in (ROOT / key.split("::")[0]).read_text(), f"{key}: no case {case!r}"
    for test_id, tier in tiers.OVERRIDES.items():
        assert tier != tiers.FILE_DEFAULTS[test_id.split("::")[0]], f"{test_id}: override equals its file default"
    source = ast.parse(Path(tiers.__file__).read_text())
    for node in ast.walk(source):
        if isinstance(node, ast.Dict) and node.keys:
            keys = [k.value for k in node.keys if isinstance(k, ast.Constant)]
            assert len(keys) == len(set(keys)), f"duplicate keys in a registry dict: {keys}"


def test_tier_of_ignores_parameters_and_the_scratch_directory_a_check_runs_in():
    """(Catches a lookup that misses parametrized node ids or absolute paths: their tests would become untiered.)"""
    assert tiers.tier_of("/tmp/killmatrix-check-x/adversarial/test_attention_bad_input.py::test_rejects_empty_"
                         "dimension[Nq=0]") == tiers.hardening
    assert tiers.tier_of("properties/test_attention_oracle.py::test_log_sum_exp_matches_float64_oracle") == \
        tiers.extension("return_lse")
    with pytest.raises(tiers.UntieredTest, match="killmatrix/tiers.py"):
        tiers.tier_of("adversarial/test_new_things.py::test_x")
    with pytest.raises(ValueError, match="feature"):
        tiers.extension("teleportation")


class _Item(SimpleNamespace):
    def add_marker(self, marker):
        self.markers.append(marker)


def test_collection_marks_tiers_and_refuses_an_untiered_property():
    """(Catches a hook that lets an untiered test run, where it would be judged by no tier.)"""
    tiered = _Item(nodeid="properties/test_attention_oracle.py::test_matches_float64_oracle[x]",
                   fixturenames=["flash_impl"], markers=[])
    helper = _Item(nodeid="tests/test_tiers.py::test_x", fixturenames=["tmp_path"], markers=[])
    root_conftest.pytest_collection_modifyitems([tiered, helper])
    assert [(m.name, m.args) for m in tiered.markers] == [("flash", ()), ("implementation", ()),
                                                          ("tier", ("correctness", None))]
    assert helper.markers == []
    stray = _Item(nodeid="adversarial/test_new_things.py::test_x", fixturenames=["beam_impl"], markers=[])
    with pytest.raises(pytest.UsageError, match="test_new_things.py::test_x has no tier"):
        root_conftest.pytest_collection_modifyitems([stray])


REFERENCE, OUTSIDE = SimpleNamespace(is_reference=True), SimpleNamespace(is_reference=False)


def test_rejects_holds_the_reference_to_value_error_and_its_message():
    """(Catches a helper that went lenient for the reference too: mutants that drop a check or garble
    a message would survive.)"""
    with rejects(REFERENCE, "tile_size"):
        raise ValueError("tile_size must be a positive int")
    with pytest.raises(AssertionError, match="does not match"), rejects(REFERENCE, "tile_size"):
        raise ValueError("bad value")
    with pytest.raises(AssertionError, match="the contract asks ValueError"), rejects(REFERENCE, "tile_size"):
        raise TypeError("tile_size must be an int")


def test_rejects_takes_any_exception_with_a_message_from_outside_code():
    """(Catches the false failure of issue 11: an IndexError with a message is a clear rejection; silence is not.)"""
    with rejects(OUTSIDE, "tile_size"):
        raise IndexError("index 3 is out of bounds")
    with pytest.raises(AssertionError, match="no message"), rejects(OUTSIDE):
        raise RuntimeError()
    for target in (REFERENCE, OUTSIDE):
        with pytest.raises(pytest.fail.Exception, match="returned without raising"), rejects(target):
            pass


@pytest.mark.parametrize("command", ["check", "grade"])
def test_a_selection_without_a_correctness_property_is_a_usage_error(tmp_path, command):
    """(Catches the vacuous `verdict: pass ()` of `-k zzz`, and grade marking submissions pass having run nothing.)"""
    if command == "check":
        args = ["check", "flash", str(SUBMISSIONS / "flash_correct" / "flash.py"), "-k", "zzz"]
    else:
        (tmp_path / "one").mkdir()
        shutil.copy(SUBMISSIONS / "flash_correct" / "flash.py", tmp_path / "one" / "flash.py")
        args = ["grade", str(tmp_path), "-k", "zzz"]
    result = CliRunner().invoke(outward_app(), args)
    assert result.exit_code == 2, result.output
    assert "-k 'zzz' selects no property of the flash suite" in result.output


@pytest.mark.slow
@pytest.mark.parametrize(
    ("submission", "verdict"),
    [("flash_correct/flash.py", "pass"), ("flash_inverted_rescale/flash.py", "fail")],
    ids=["correct", "inverted-rescale"],
)
def test_check_of_the_whole_flash_suite(tmp_path, submission, verdict):
    """The seed-signature kernel passes the whole suite with its missing keywords unsupported; the inverted
    rescale fails a correctness property (it overflows at large logits)."""
    out = tmp_path / "check.json"
    result = CliRunner().invoke(outward_app(), ["check", "flash", str(SUBMISSIONS / submission), "--json", str(out)])
    document = json.loads(out.read_text())
    assert (result.exit_code, document["verdict"]) == ((0, "pass") if verdict == "pass" else (1, "fail")), \
        result.output
    correctness = [p for p in document["properties"] if p["tier"] == "correctness"]
    if verdict == "pass":
        # not_applicable: a property the user contract does not ask of outside code (the default tile size).
        assert {p["status"] for p in correctness} <= {"passed", "not_applicable"}, correctness
        assert any(p["status"] == "passed" for p in correctness)
        extensions = document["tiers"]["extensions"]
        assert "fails" not in extensions.values()
        # Keywords the seed's signature lacks; Nq != Nk and float16 it may well handle.
        assert {extensions[f] for f in ("key_padding_mask", "return_lse", "observer")} == {"unsupported"}
    else:
        assert any(p["status"] == "failed" for p in correctness)
        assert document["reason"].startswith("correctness ")
