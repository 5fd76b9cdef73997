"""Raw outcomes become one readable verdict per property (killmatrix/verdicts.py)."""

from killmatrix.pytest_runner import TestOutcome as Outcome  # aliased: pytest would try to collect Test*
from killmatrix.verdicts import family_of, overall, property_verdicts, readable_example

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
    assert overall([q]) == "pass"


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
