"""The DFlash (tree speculative decoding) target: three functions of one module, normalized.

`check dflash PATH[:FUNC]` names the VERIFY function (default `verify_tree`); its module's
`build_tree_mask` and, when present, `speculative_decode` are found by name. Accepted shapes
(docs/CONTRACT.md, DFlash):

- verify from logits, as the reference: `verify_tree(prompt_tokens, tree_tokens, tree_parents, logits,
  temperature=0.0, *, draft_probs=None, rng=None)`; or from a model, as the challenge text's
  `verify_and_accept(prompt_tokens, tree_tokens, tree_parents, target_model, temperature)`, which runs
  the tree pass itself (`target_model(tokens, mask)`), chosen when the fourth parameter's name does not
  mention logits. Given hand-built logits, the adapter passes a model that returns them.
- the result: the emitted tokens, or `(accepted_tokens, new_token)`, read as accepted + [new_token].
- no `speculative_decode`: the adapter runs the challenge's loop with the module's mask and verify.

Sampling (`temperature > 0` with `draft_probs` and `rng`) is the `sampling` extension: a verify without
those keywords is `unsupported` there.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
import pytest


def _sibling(fn: Callable, name: str) -> Callable | None:
    """The function `name` of `fn`'s module: in process for ours, in its own worker for outside code."""
    spec = getattr(fn, "spec", None)
    if spec is not None:  # a RemoteFunction: a worker of its own, which fails to load if the name is missing
        from killmatrix.outside.remote_target import RemoteFunction, TargetLoadError

        sibling = RemoteFunction(replace(spec, func=name))
        try:
            inspect.signature(sibling)
        except (TargetLoadError, ValueError):
            sibling.close()
            return None
        return sibling
    found = getattr(sys.modules.get(getattr(fn, "__module__", ""), None), name, None)
    return found if callable(found) else None


def _parameters(fn: Callable) -> list[inspect.Parameter]:
    try:
        return list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return []


def as_emitted(raw: Any) -> list[int]:
    """A verify result as the tokens the cycle emits: a token list, or `(accepted_tokens, new_token)`."""
    if isinstance(raw, tuple | list) and len(raw) == 2 and isinstance(raw[0], list | tuple | np.ndarray):
        accepted, new_token = raw
        return [int(t) for t in accepted] + ([] if new_token is None else [int(new_token)])
    return [int(t) for t in np.asarray(raw).reshape(-1)]


def _fixed_model(logits) -> Callable:
    rows = np.asarray(logits)

    def model(tokens, mask=None):
        if len(tokens) != len(rows):
            raise ValueError(f"the scripted target holds {len(rows)} rows, was asked for {len(tokens)}")
        return rows

    return model


@dataclass
class DFlashTarget:
    """Tree speculative decoding under test. `fn` is the verify function."""

    fn: Callable
    name: str
    is_reference: bool = False
    _notes: dict[str, str] = field(default_factory=dict)

    @cached_property
    def _mask_fn(self) -> Callable | None:
        return _sibling(self.fn, "build_tree_mask")

    @cached_property
    def _decode_fn(self) -> Callable | None:
        return _sibling(self.fn, "speculative_decode")

    @cached_property
    def verifies_from_model(self) -> bool:
        positional = [p for p in _parameters(self.fn) if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        return len(positional) >= 4 and "logit" not in positional[3].name.lower()

    @cached_property
    def features(self) -> frozenset[str]:
        names = {p.name for p in _parameters(self.fn)}
        takes_any = any(p.kind is p.VAR_KEYWORD for p in _parameters(self.fn))
        keywords = takes_any or {"draft_probs", "rng"} <= names
        sampling = self.is_reference or (not self.verifies_from_model and keywords)
        return frozenset({"sampling"} if sampling else ())

    def supports(self, feature: str) -> bool:
        return feature in self.features

    def require(self, *features: str) -> None:
        missing = [f for f in features if not self.supports(f)]
        if missing:
            pytest.skip(f"{self.name} does not support {', '.join(missing)}")

    def build_tree_mask(self, prompt_len: int, tree_parents) -> np.ndarray:
        if self._mask_fn is None:
            pytest.fail(f"{self.name}: its module defines no build_tree_mask(prompt_len, tree_parents)")
        return np.asarray(self._mask_fn(prompt_len, list(tree_parents)), dtype=bool)

    def verify_tree(self, prompt_tokens, tree_tokens, tree_parents, logits, temperature=0.0, *, draft_probs=None,
                    rng=None) -> list[int]:
        sampling = {} if draft_probs is None and rng is None else {"draft_probs": draft_probs, "rng": rng}
        if sampling:
            self.require("sampling")
        fourth = _fixed_model(logits) if self.verifies_from_model else logits
        raw = self.fn(list(prompt_tokens), list(tree_tokens), list(tree_parents), fourth, temperature, **sampling)
        return as_emitted(raw)

    def speculative_decode(self, target, draft, prompt, max_new_tokens, temperature=0.0, *, rng=None) -> list[int]:
        if temperature > 0:
            self.require("sampling")
        if self._decode_fn is not None:
            options = {"rng": rng} if rng is not None else {}
            return [int(t) for t in self._decode_fn(target, draft, list(prompt), max_new_tokens, temperature,
                                                    **options)]
        return self._challenge_loop(target, draft, list(prompt), max_new_tokens, temperature, rng)

    def _challenge_loop(self, target, draft, prompt, max_new_tokens, temperature, rng) -> list[int]:
        """The challenge text's loop around the module's own mask and verify (one target pass per cycle)."""
        generated: list[int] = []
        while len(generated) < max_new_tokens:
            context = prompt + generated
            tree_tokens, tree_parents, *probs = draft(context)
            sampling = {"draft_probs": probs[0], "rng": rng} if temperature > 0 else {}
            if self.verifies_from_model:
                raw = self.fn(context, list(tree_tokens), list(tree_parents), target, temperature, **sampling)
            else:
                mask = self.build_tree_mask(len(context), tree_parents)
                logits = target(context + list(tree_tokens), mask)
                raw = self.fn(context, list(tree_tokens), list(tree_parents), logits, temperature, **sampling)
            emitted = as_emitted(raw)
            if not emitted:
                pytest.fail(f"{self.name}: a verification cycle emitted no token")
            generated += emitted
        return generated[:max_new_tokens]
