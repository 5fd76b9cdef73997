"""The tier of every suite test: the one place that says what a property's result means for a verdict.

- correctness: what the seed's challenge texts (and the backward's definition) require. Only this tier
  decides `pass`/`fail` of `killmatrix check` and `grade`.
- extension(feature): a feature of the project's contract beyond the seed's signature. A target
  without it gets `unsupported` (the test skips), never a failure; a target that has it and gets it
  wrong fails the verdict, named as that extension.
- hardening: bad input ends in a clear exception. Strict (our ValueError and message) for the
  reference, lenient (any exception with a message) for outside code; reported as a score.
- performance: model calls per step, peak memory and the largest allocation at the seed's shape;
  reported as figures, never a verdict.

A test's tier is its file's default unless OVERRIDES names it. The suite plugin marks every collected
test `tier(name, feature)` from here and stops collection when a test written against an
implementation-under-test fixture has none, so a new test must be tiered before it can run. It is
killmatrix's reading of the suite, not part of the suite: no property imports it.
"""

from __future__ import annotations

from dataclasses import dataclass

CORRECTNESS, EXTENSION, HARDENING, PERFORMANCE = "correctness", "extension", "hardening", "performance"
TIERS = (CORRECTNESS, EXTENSION, HARDENING, PERFORMANCE)
# Contract features beyond the seed's signature `flash_attention_fwd(Q, K, V, tile_size, causal=True)`.
FEATURES = ("kv_tile_size", "key_padding_mask", "cross_length", "return_lse", "observer", "float16", "tie_order",
            "sampling")


@dataclass(frozen=True)
class Tier:
    name: str
    feature: str | None = None

    def __post_init__(self) -> None:
        if self.name not in TIERS:
            raise ValueError(f"tier must be one of {TIERS}, got {self.name!r}")
        if (self.name == EXTENSION) != (self.feature is not None):
            raise ValueError(f"an extension names exactly one feature, other tiers none: {self!r}")
        if self.feature is not None and self.feature not in FEATURES:
            raise ValueError(f"feature must be one of {FEATURES}, got {self.feature!r}")

    def __str__(self) -> str:
        return f"{self.name}({self.feature})" if self.feature else self.name


def extension(feature: str) -> Tier:
    return Tier(EXTENSION, feature)


correctness, hardening, performance = Tier(CORRECTNESS), Tier(HARDENING), Tier(PERFORMANCE)

# A test that cannot fail for a target, because the checker itself supplied what it checks (e.g. the
# score of a `(tokens, logprob)` pair), skips with a reason that starts with this; its verdict is then
# `not_applicable` whatever its tier: never a pass, never a miss (killmatrix/outside/verdicts.py). The suite
# writes it with properties/applicability.py.
NOT_APPLICABLE_PREFIX = "not applicable: "

# Every suite file (a module with tests taking `flash_impl`, `flash_bwd_impl` or `beam_impl`) and the
# tier of its tests unless OVERRIDES says otherwise.
FILE_DEFAULTS: dict[str, Tier] = {
    # flash forward
    "properties/test_attention_oracle.py": correctness,
    "properties/test_attention_properties.py": correctness,
    "adversarial/test_attention_bad_input.py": hardening,
    "adversarial/test_attention_masked_tiles.py": extension("key_padding_mask"),  # and Nq > Nk
    "adversarial/test_attention_memory.py": performance,
    "adversarial/test_attention_mutmut_kills.py": correctness,
    "adversarial/test_attention_observer_bounds.py": extension("observer"),
    "adversarial/test_attention_overflow.py": correctness,  # the seed's numerical stability at large logits
    "adversarial/test_attention_seed_deliverables.py": correctness,
    "properties/test_attention_cost.py": performance,  # tiles visited, state dtype, allocations per tile pair
    # A float64 operand among float32 ones keeps float64 precision (CONTRACTS §2, §2b); beyond the seed,
    # reported as a figure (the relative error) for outside code, like the cost properties.
    "properties/test_mixed_dtype_precision.py": performance,
    # flash backward
    "properties/test_attention_bwd.py": correctness,
    "adversarial/test_attention_bwd_bad_input.py": hardening,
    "adversarial/test_attention_bwd_masking.py": extension("key_padding_mask"),  # and Nq > Nk
    "adversarial/test_attention_bwd_memory.py": performance,
    "adversarial/test_attention_bwd_mutmut_kills.py": correctness,
    "adversarial/test_attention_bwd_overflow.py": correctness,
    "properties/test_attention_bwd_cost.py": performance,  # a causal call allocates no more than a full one
    # beam search
    "properties/test_beam_batch_independence.py": correctness,  # the seed's independent prompts
    "properties/test_beam_invariants.py": correctness,
    "properties/test_beam_oracles.py": correctness,
    "adversarial/test_beam_bad_input.py": hardening,
    "adversarial/test_beam_eos_schedules.py": correctness,  # the seed's EOS, retention and tie scenarios
    "adversarial/test_beam_logit_scale.py": correctness,
    "adversarial/test_beam_mutmut_kills.py": correctness,
    "adversarial/test_beam_model_rows.py": correctness,  # each beam its own row (independent prompts); -inf allowed
    "adversarial/test_beam_seed_deliverables.py": correctness,
    "properties/test_beam_cost.py": performance,  # model rows per step, positions computed with a cache
    # tree speculative decoding (DFlash): the golden rule, the walk's traps and the mask are correctness;
    # accepting fewer tokens than the maximum is lossless, so a performance figure
    "properties/test_speculative_golden.py": correctness,
    "properties/test_speculative_mask.py": correctness,
    "properties/test_speculative_acceptance.py": performance,
    "properties/test_speculative_sampling.py": extension("sampling"),
    "adversarial/test_speculative_walk.py": correctness,
    "adversarial/test_speculative_bad_input.py": hardening,
    "adversarial/test_speculative_mutmut_kills.py": correctness,
    "properties/test_speculative_sampling_rule.py": extension("sampling"),
}

# path::function (or path::function[case] for one parametrized case) -> tier, where it differs from
# its file's default. A function whose cases fall in two tiers is judged as two properties.
OVERRIDES: dict[str, Tier] = {
    # The Nq > Nk cases of the masked-tile tests need only Nq != Nk, no padding mask.
    "adversarial/test_attention_masked_tiles.py::test_fully_masked_tiles_leave_no_nan_and_blind_rows_zero"
    "[nq_above_nk_causal]": extension("cross_length"),
    "adversarial/test_attention_bwd_masking.py::test_masked_rows_and_keys_get_exactly_zero_gradient"
    "[causal_more_queries_than_keys]": extension("cross_length"),
    "properties/test_attention_oracle.py::test_log_sum_exp_matches_float64_oracle": extension("return_lse"),
    "properties/test_attention_oracle.py::test_float16_outputs_are_the_float64_truth_rounded": extension("float16"),
    "properties/test_attention_properties.py::test_padded_keys_change_nothing": extension("key_padding_mask"),
    # The seed's "no N x N matrix", judged by the largest single allocation where a tiled kernel's
    # largest buffer is far below N^2 * 4 bytes; the seed's peak bar at its large shape is a figure.
    "adversarial/test_attention_memory.py::test_no_allocation_comes_near_a_score_matrix": correctness,
    "adversarial/test_attention_bwd_memory.py::test_no_allocation_comes_near_a_score_matrix": correctness,
    "adversarial/test_attention_seed_deliverables.py::test_seed_large_shape_peak_memory_below_30_percent_of_score_matrix":
        performance,
    "adversarial/test_attention_mutmut_kills.py::test_float16_inputs_accumulate_in_at_least_float32":
        extension("float16"),
    "adversarial/test_attention_mutmut_kills.py::test_bad_tile_size_error_names_the_argument": hardening,
    "adversarial/test_attention_mutmut_kills.py::test_observer_state_is_read_only": extension("observer"),
    "adversarial/test_attention_mutmut_kills.py::test_rows_that_see_no_key_get_lse_minus_inf_without_warnings":
        extension("return_lse"),
    "properties/test_attention_bwd.py::test_float16_inputs_accumulate_in_float32": extension("float16"),
    "adversarial/test_attention_bwd_mutmut_kills.py::test_float16_inputs_accumulate_in_at_least_float32":
        extension("float16"),
    # One batched model call per step is about speed: per-beam calls give the same beams.
    "properties/test_beam_oracles.py::test_one_model_call_per_step": performance,
    # The contract's order among exact ties at the per-beam cut; the seed's own tie (a finished beam
    # against an unfinished one in the pool) is test_finished_wins_a_tie_with_unfinished, correctness.
    "adversarial/test_beam_eos_schedules.py::test_tied_eos_survives_the_per_beam_cut": extension("tie_order"),
    "adversarial/test_beam_mutmut_kills.py::test_bad_argument_raises_value_error_naming_it": hardening,
    # Stopping at the first failing sibling or dropping the bonus is lossless: fewer tokens, never wrong ones.
    "adversarial/test_speculative_walk.py::test_cycle_reaches_the_maximum": performance,
    # Passes per cycle are cost; the reference's own tolerance on draft rows is its choice, reference only.
    "adversarial/test_speculative_mutmut_kills.py::test_one_target_pass_per_cycle": performance,
    "properties/test_speculative_sampling_rule.py::test_reference_accepts_draft_rows_within_its_tolerance": hardening,
    "adversarial/test_beam_mutmut_kills.py::test_logits_row_without_a_finite_entry_is_refused": hardening,
}


class UntieredTest(LookupError):
    """A suite test with no tier: add its file to FILE_DEFAULTS or the test to OVERRIDES."""


def tier_of(test_id: str) -> Tier:
    """The tier of `path::function[case]` (a leading directory outside the suite ignored): the case's
    override, else the function's, else its file's default."""
    for full in (test_id, _suite_relative(test_id)):
        function = full.split("[", 1)[0]
        for key in (full, function):
            if key in OVERRIDES:
                return OVERRIDES[key]
        if function.split("::", 1)[0] in FILE_DEFAULTS:
            return FILE_DEFAULTS[function.split("::", 1)[0]]
    function = test_id.split("[", 1)[0]
    raise UntieredTest(f"{function} has no tier: add it to killmatrix/tiers.py (FILE_DEFAULTS or OVERRIDES)")


def _suite_relative(test_id: str) -> str:
    """`/abs/scratch/adversarial/test_x.py::t` -> `adversarial/test_x.py::t`."""
    path, sep, rest = test_id.partition("::")
    parts = path.replace("\\", "/").split("/")
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] in ("properties", "adversarial"):
            return "/".join(parts[i:]) + sep + rest
    return test_id
