"""The algorithm registry: the one place an algorithm is declared; everything else reads it.

An algorithm's name is how the catalog (`mutation_config/named_<name>.toml`), the pytest marker, the
fixture (`<name>_impl`), the environment variable that points `check` at outside code and the JSON spell
it; people read and type `flash-bwd` (its `label`). Adding an algorithm is one entry here, plus its
reference in `impl/`, its adapter class, its catalog and its properties.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Algorithm:
    name: str
    # `module:function` of the reference in `impl/`; a mutant run imports it from a mutated copy of the tree.
    reference: str
    # `module:class` of the adapter that calls a target as the contract says (killmatrix/outside/).
    adapter: str
    # The prefix of its suite's test modules (`test_attention_bwd_oracle.py`): a family is the rest of the name.
    test_prefix: str
    # What a test that imports no reference talks about when it is about this algorithm (`audit`'s guess).
    words: str
    # A few correctness properties that run in seconds and between them see every named bug class (the
    # oracle check `audit --impl` runs per surviving mutant of a user's code); empty: the whole correctness tier.
    fast_properties: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return f"KILLMATRIX_{self.name.upper()}_TARGET"

    @property
    def fixture(self) -> str:
        return f"{self.name}_impl"

    @property
    def catalog_file(self) -> str:
        return f"named_{self.name}.toml"

    @property
    def submission_file(self) -> str:
        """A `grade` subfolder's file for it by convention (`grade.toml` may say otherwise)."""
        return f"{self.name}.py"

    @property
    def reference_module(self) -> str:
        return self.reference.partition(":")[0]

    @property
    def default_function(self) -> str:
        return self.reference.rpartition(":")[2]

    def mentioned_in(self, text: str) -> bool:
        return re.search(self.words, text, re.I) is not None


ALGORITHMS: tuple[Algorithm, ...] = (
    Algorithm(
        name="flash",
        reference="impl.attention:flash_attention_fwd",
        adapter="killmatrix.outside.adapters:FlashTarget",
        test_prefix="attention_",
        words=r"flash|attention",
        fast_properties=("test_matches_float64_oracle", "test_seed_small_shape_matches_naive",
                         "test_causal_prefix_depends_only_on_prefix", "test_output_does_not_depend_on_tile_sizes"),
    ),
    Algorithm(
        name="flash_bwd",
        reference="impl.attention_bwd:flash_attention_bwd",
        adapter="killmatrix.outside.adapters:FlashBwdTarget",
        test_prefix="attention_bwd_",
        words=r"backward|\bbwd\b",
        fast_properties=("test_gradients_match_float64_oracle",
                         "test_masked_rows_and_keys_get_exactly_zero_gradient"),
    ),
    Algorithm(
        name="beam",
        reference="impl.beam_search:beam_search",
        adapter="killmatrix.outside.adapters:BeamTarget",
        test_prefix="beam_",
        words=r"beam|\beos\b",
        fast_properties=("test_matches_policy_oracle", "test_logprob_is_the_model_log_softmax_sum",
                         "test_score_is_the_penalized_logprob", "test_sorted_best_first",
                         "test_seed_finished_beam_against_longer_unfinished"),
    ),
    Algorithm(
        name="dflash",
        # Its module's build_tree_mask and speculative_decode are found by name beside verify_tree.
        reference="impl.speculative:verify_tree",
        adapter="killmatrix.outside.speculative_adapter:DFlashTarget",
        test_prefix="speculative_",
        words=r"speculative|dflash|draft",
    ),
)
BY_NAME = {algorithm.name: algorithm for algorithm in ALGORITHMS}
ALGORITHM_NAMES = tuple(BY_NAME)
ALGORITHM_CHOICES = ", ".join(algorithm.label for algorithm in ALGORITHMS)
# Every suite test that runs an implementation under test carries this marker besides its algorithm's
# (the mutation runs select with it, so no configuration file lists the algorithms).
IMPLEMENTATION_MARKER = "implementation"


def algorithm_label(name: str) -> str:
    """The one spelling printed for people: `flash-bwd`, the form they type (JSON keeps the name)."""
    return name.replace("_", "-")


def parse_algorithm(name: str) -> str:
    """The registry's name of an algorithm typed either way (`flash-bwd` or `flash_bwd`); ValueError if unknown."""
    normalized = name.strip().lower().replace("-", "_")
    if normalized not in BY_NAME:
        raise ValueError(f"unknown algorithm {name!r} (choose {ALGORITHM_CHOICES})")
    return normalized


def of_reference_module(module: str) -> str | None:
    """The algorithm whose reference lives in `impl.<module>` (`attention_bwd` -> flash_bwd), if any."""
    return next((a.name for a in ALGORITHMS if a.reference_module == f"impl.{module}"), None)
