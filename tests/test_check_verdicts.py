"""Raw outcomes become one readable verdict per property (killmatrix/outside/verdicts.py)."""

from killmatrix.outside.verdicts import (
    NO_RESULT,
    family_of,
    judge_verdicts,
    overall,
    property_verdicts,
    readable_example,
)
from killmatrix.plugins.pytest_runner import TestOutcome as Outcome  # aliased: pytest would try to collect Test*

SHRUNK = """Falsifying example: test_matches_oracle(
    flash_impl=FlashTarget(keyword_features=('kv_tile_size',
      'observer'),
     name='x.py:f'),
    # The test always failed when commented parts were varied together.
    case=AttentionCase(Q(1, 1, 3, 2), tile=2, causal=True),
    offset=0.0,  # or any other generated value
)"""


def test_readable_example_keeps_the_arguments_and_drops_fixtures_and_remarks():
    assert readable_example(SHRUNK) == "case=AttentionCase(Q(1, 1, 3, 2), tile=2, causal=True), offset=0.0"


def test_summarized_arrays_shrink_to_dtype_and_shape_and_small_ones_stay_whole():
    shrunk = ("Falsifying example: test_x(\n    case=Case(Q=array([[[[ 0.1891, -0.5227], ..., [ 0.26, 0.74]]]], "
              "shape=(1, 2, 53, 3), dtype=float32), mask=array([ True, False]), tile=4),\n)")
    assert readable_example(shrunk) == "case=Case(Q=<float32 array (1, 2, 53, 3)>, mask=array([ True, False]), tile=4)"


def test_cases_fold_into_the_worst_status_naming_the_first_bad_case():
    outcomes = {
        "a.py::test_p[one]": Outcome("a.py::test_p[one]", "passed"),
        "a.py::test_p[two]": Outcome("a.py::test_p[two]", "failed", "AssertionError: too big +  where x = 1"),
        "a.py::test_q": Outcome("a.py::test_q", "skipped", "no observer\nFailing explicit example: ..."),
    }
    p, q = property_verdicts(outcomes, [])
    assert (p.name, p.status) == ("a.py::test_p", "failed")
    assert p.detail == "1 of 2 cases, first [two]: AssertionError: too big"
    assert (q.status, q.detail) == ("skipped", "no observer")
    assert overall([p, q]) == "fail"
    # A test the tier registry does not know counts as correctness: skipped is no pass.
    assert overall([q]) == "fail"


def test_a_refused_write_or_memory_error_is_an_error_whatever_the_assertion_said():
    outcomes = {
        "a.py::test_w": Outcome("a.py::test_w", "passed"),
        "a.py::test_m": Outcome("a.py::test_m", "failed", "_ArrayMemoryError: Unable to allocate 2.00 GiB"),
    }
    refusals = [{"nodeid": "a.py::test_w", "attempt": "open('/home/u/x', 'w')"},
                {"nodeid": "<import>", "attempt": "os.remove('/home/u/y')"}]
    verdicts = {v.name: v for v in property_verdicts(outcomes, refusals)}
    assert verdicts["a.py::test_w"].status == "error"
    assert "/home/u/x" in verdicts["a.py::test_w"].detail
    assert verdicts["a.py::test_m"].status == "error"
    assert verdicts["<outside any test>"].status == "error"
    assert verdicts["<outside any test>"].family == "sandbox"


def test_family_is_the_module_without_test_and_algorithm_prefixes():
    assert family_of("adversarial/test_attention_overflow.py::test_x") == "overflow"
    assert family_of("properties/test_beam_oracles.py::test_y") == "oracles"


# Tiers (killmatrix/tiers.py): only correctness decides, extensions may be unsupported, hardening is a score.
ORACLE = "properties/test_attention_oracle.py::test_matches_float64_oracle"  # correctness
LSE = "properties/test_attention_oracle.py::test_log_sum_exp_matches_float64_oracle"  # extension: return_lse
BAD = "adversarial/test_attention_bad_input.py::test_rejects_empty_dimension"  # hardening
PEAK = "adversarial/test_attention_memory.py::test_large_causal_float32_call_allocates_no_score_matrix"  # performance


def _verdicts(*records, selected=None):
    """`records`: (nodeid, outcome[, detail[, figures]])."""
    outcomes = {r[0]: Outcome(r[0], r[1], *(r[2:3] or [""]), figures=(r[3] if len(r) > 3 else {})) for r in records}
    return property_verdicts(outcomes, [], selected)


def test_an_unsupported_extension_is_no_failure():
    """(Catches a verdict that counts a skipped extension as a skipped correctness property: the seed-only
    signature could then never pass.)"""
    verdicts = _verdicts((ORACLE, "passed"), (LSE, "skipped", "x.py:f does not support return_lse"))
    lse = verdicts[1]
    assert (lse.tier, lse.feature, lse.status) == ("extension", "return_lse", "unsupported")
    judgement = judge_verdicts(verdicts)
    assert (judgement.verdict, judgement.extensions) == ("pass", {"return_lse": "unsupported"})


def test_a_supported_extension_that_fails_fails_the_verdict_named_as_such():
    """(Catches a verdict that ignores the extension tier altogether: a broken return_lse would pass.)"""
    judgement = judge_verdicts(_verdicts((ORACLE, "passed"), (LSE, "failed", "AssertionError: lse off by 3")))
    assert judgement.verdict == "fail"
    assert judgement.reason.startswith("extension return_lse: test_log_sum_exp_matches_float64_oracle failed")
    assert judgement.extensions == {"return_lse": "fails"}


def test_a_skipped_correctness_property_fails_the_verdict():
    """(Catches the old rule, where skips were not failures: a target could skip its way to a pass.)"""
    judgement = judge_verdicts(_verdicts((ORACLE, "skipped", "does not support causal"), (BAD + "[Nq=0]", "passed")))
    assert judgement.verdict == "fail"
    assert "test_matches_float64_oracle skipped" in judgement.reason


def test_hardening_failures_are_a_score_not_a_verdict():
    """(Catches a verdict that still fails code for accepting bad input, the false failure of issue 11.)"""
    verdicts = _verdicts((ORACLE, "passed"), (BAD + "[Nq=0]", "failed"), (BAD + "[Nk=0]", "passed"),
                         (BAD + "[D=0]", "timeout"), (PEAK, "failed", "peak too high", {"peak_mib": 70.5}))
    judgement = judge_verdicts(verdicts)
    assert judgement.verdict == "pass"
    assert judgement.hardening == (1, 3)
    assert judgement.figures == {"peak_mib": 70.5}
    assert judgement.tiers_json()["hardening"] == {"rejected": 1, "total": 3}


def test_a_selected_test_without_a_result_is_an_error_and_no_pass():
    """(Catches the forged pass of a kernel that ends the process: the tests after it never report.)"""
    verdicts = _verdicts((ORACLE + "[a]", "passed"), selected=[ORACLE + "[a]", ORACLE + "[b]"])
    assert (verdicts[0].status, NO_RESULT in verdicts[0].detail) == ("error", True)
    assert judge_verdicts(verdicts).verdict == "fail"


def test_no_correctness_property_is_no_pass():
    """(Catches a vacuous pass: nothing that decides ran, so nothing passed.)"""
    judgement = judge_verdicts(_verdicts((BAD + "[Nq=0]", "passed"), (LSE, "skipped")))
    assert (judgement.verdict, judgement.reason) == ("fail", "no correctness property ran to a result")
    assert judge_verdicts([]).verdict == "fail"


def test_a_function_whose_cases_span_two_tiers_is_judged_as_two_properties():
    """(Catches the masked-tile test counting its Nq > Nk case as padding-mask support: a kernel without
    a padding mask would be reported as supporting it.)"""
    name = "adversarial/test_attention_masked_tiles.py::test_fully_masked_tiles_leave_no_nan_and_blind_rows_zero"
    verdicts = _verdicts((ORACLE, "passed"), (f"{name}[left_padding_longer_than_a_tile]", "skipped", "no mask"),
                         (f"{name}[nq_above_nk_causal]", "passed"))
    assert {v.name: (v.feature, v.status) for v in verdicts[1:]} == {
        f"{name}[key_padding_mask]": ("key_padding_mask", "unsupported"),
        f"{name}[cross_length]": ("cross_length", "passed")}
    assert judge_verdicts(verdicts).extensions == {"key_padding_mask": "unsupported", "cross_length": "supported"}
