"""`killmatrix audit` on a tiny outside test file: the right kills, the contract's JSON, and exit codes."""

from __future__ import annotations

import json
import textwrap

import jsonschema
from typer.testing import CliRunner

from killmatrix.plugins.audit_plugin import algorithms_tested
from tests.outward_cli import AUDIT_SCHEMA, outward_app

# A small-shape oracle check: catches the inverted rescale, knows nothing of padding masks.
TINY_TEST = """
    import numpy as np

    from impl.attention import flash_attention_fwd


    def test_matches_naive_softmax():
        rng = np.random.default_rng(0)
        Q, K, V = (rng.standard_normal((1, 1, 20, 4)) for _ in range(3))
        S = Q @ K.swapaxes(-1, -2) / 2.0
        S = np.where(np.tril(np.ones((20, 20), bool)), S, -np.inf)
        P = np.exp(S - S.max(-1, keepdims=True))
        expected = (P / P.sum(-1, keepdims=True)) @ V
        assert np.allclose(flash_attention_fwd(Q, K, V, tile_size=3), expected)


    def test_nothing():
        pass
"""


def test_audit_reports_which_mutants_a_tiny_test_kills(tmp_path):
    tests = tmp_path / "test_tiny.py"
    tests.write_text(textwrap.dedent(TINY_TEST))
    out = tmp_path / "audit.json"
    result = CliRunner().invoke(outward_app(), [
        "audit", str(tests), "--only", "flash-rescale-inverted", "--only", "flash-padding-mask-ignored",
        "--no-cache", "--json", str(out),
    ])
    assert result.exit_code == 1, result.output  # a survivor
    document = json.loads(out.read_text())
    jsonschema.validate(document, AUDIT_SCHEMA)
    by_id = {m["id"]: m for m in document["mutants"]}
    assert by_id["flash-rescale-inverted"]["status"] == "killed"
    assert by_id["flash-rescale-inverted"]["killed_by"] == ["test_tiny.py::test_matches_naive_softmax"]
    assert by_id["flash-padding-mask-ignored"]["status"] == "survived"
    assert (document["killed"], document["total"]) == (1, 2)
    assert "padded keys receive attention" in by_id["flash-padding-mask-ignored"]["bug"]  # what the tests miss


def test_audit_of_a_missing_path_exits_2(tmp_path):
    result = CliRunner().invoke(outward_app(), ["audit", str(tmp_path / "nope.py")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_algorithms_are_guessed_from_imports_then_words():
    assert algorithms_tested("from impl.attention import flash_attention_fwd\n") == {"flash"}
    assert algorithms_tested("import impl.beam_search\n") == {"beam"}
    assert algorithms_tested("from impl import attention_bwd, beam_search\n") == {"flash_bwd", "beam"}
    assert algorithms_tested('def test_eos_retention():\n    """EOS beams"""\n    pass\n') == {"beam"}
    assert algorithms_tested("def test_x():\n    pass\n") == {"flash", "beam", "flash_bwd", "dflash"}
