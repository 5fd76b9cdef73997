"""The implementation under test: one mechanism for the reference, for mutants and for outside code.

Every property and adversarial test takes the `flash_impl`, `flash_bwd_impl` or `beam_impl` fixture (root conftest.py)
instead of importing `impl` directly. The fixture builds a target from an environment variable:

- unset: the reference, `impl.attention:flash_attention_fwd` / `impl.attention_bwd:flash_attention_bwd`
  / `impl.beam_search:beam_search` (a mutant run is the reference imported from a mutated copy of the tree);
- `KILLMATRIX_FLASH_TARGET` / `KILLMATRIX_FLASH_BWD_TARGET` / `KILLMATRIX_BEAM_TARGET` =
  `path/to/file.py[:func]` or `module:func`: outside code, loaded only inside the sandboxed child that
  `killmatrix check` starts.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import numpy as np
import pytest

ENV = {
    "flash": "KILLMATRIX_FLASH_TARGET",
    "flash_bwd": "KILLMATRIX_FLASH_BWD_TARGET",
    "beam": "KILLMATRIX_BEAM_TARGET",
}
REFERENCE = {
    "flash": "impl.attention:flash_attention_fwd",
    "flash_bwd": "impl.attention_bwd:flash_attention_bwd",
    "beam": "impl.beam_search:beam_search",
}
DEFAULT_FUNC = {algorithm: reference.rpartition(":")[2] for algorithm, reference in REFERENCE.items()}

# Keyword features of CONTRACTS §2 beyond the seed's signature; "cross_length" (Nq != Nk) has no
# keyword, so it is probed by a call.
FLASH_KEYWORD_FEATURES = ("kv_tile_size", "key_padding_mask", "observer", "return_lse")
FLASH_BWD_KEYWORD_FEATURES = ("kv_tile_size", "key_padding_mask")


@dataclass(frozen=True)
class TargetSpec:
    """Where a target lives: a file path or a module name, and the function in it."""

    location: str
    func: str
    is_file: bool

    @property
    def label(self) -> str:
        return f"{self.location}:{self.func}"


def parse_spec(spec: str, algorithm: str) -> TargetSpec:
    """Parse `path.py[:func]` or `module:func`; raise ValueError naming what is wrong."""
    if algorithm not in DEFAULT_FUNC:
        raise ValueError(f"algorithm must be one of {sorted(DEFAULT_FUNC)}, got {algorithm!r}")
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError("target must be 'PATH[:FUNC]' or 'module:func', got an empty string")
    location, _, func = spec.strip().rpartition(":") if ":" in spec else (spec.strip(), "", "")
    func = func or DEFAULT_FUNC[algorithm]
    if not func.isidentifier():
        raise ValueError(f"target function name {func!r} is not a Python identifier")
    if location.endswith(".py") or "/" in location or Path(location).exists():
        path = Path(location).expanduser()
        if not path.is_file():
            raise ValueError(f"target file {location!r} does not exist")
        if path.suffix != ".py":
            raise ValueError(f"target file {location!r} is not a .py file")
        return TargetSpec(str(path.resolve()), func, True)
    if not all(part.isidentifier() for part in location.split(".")):
        raise ValueError(f"target {spec!r} is neither an existing .py file nor a module:func")
    return TargetSpec(location, func, False)


def load_callable(spec: TargetSpec) -> Callable:
    """Import the target. Runs outside code: call it only inside a sandboxed child."""
    if spec.is_file:
        path = Path(spec.location)
        digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
        module_name = f"killmatrix_target_{path.stem}_{digest}"
        # Let a submission import its own sibling helpers.
        sys.path.insert(0, str(path.parent))
        module_spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[module_name] = module
        module_spec.loader.exec_module(module)
    else:
        module = importlib.import_module(spec.location)
    fn = getattr(module, spec.func, None)
    if not callable(fn):
        raise ValueError(f"{spec.label}: no callable named {spec.func!r}")
    return fn


def _accepted_keywords(fn: Callable) -> frozenset[str] | None:
    """Keyword names the function accepts; None when it takes **kwargs (anything goes)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return frozenset()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return frozenset(p.name for p in params if p.kind is not inspect.Parameter.POSITIONAL_ONLY)


@dataclass
class _OptionalFeatureTarget:
    """A target whose keyword options beyond the seed's signature are optional features.

    Options left at None are not passed, so a target with only the seed's positional signature works
    unchanged; a test that needs an optional feature calls `require(...)` and is skipped, with the
    reason, when the target lacks it. Subclasses name their keywords and probe "cross_length".
    """

    keyword_features: ClassVar[tuple[str, ...]] = ()

    fn: Callable
    name: str
    is_reference: bool = False

    @cached_property
    def features(self) -> frozenset[str]:
        if self.is_reference:
            return frozenset(self.keyword_features) | {"cross_length"}
        accepted = _accepted_keywords(self.fn)
        found = {f for f in self.keyword_features if accepted is None or f in accepted}
        if self._handles_cross_length():
            found.add("cross_length")
        return frozenset(found)

    def _handles_cross_length(self) -> bool:
        raise NotImplementedError

    def supports(self, feature: str) -> bool:
        return feature in self.features

    def require(self, *features: str) -> None:
        missing = [f for f in features if not self.supports(f)]
        if missing:
            pytest.skip(f"{self.name} does not support {', '.join(missing)}")

    def _call(self, *args: Any, causal: bool, options: dict[str, Any]):
        passed = {k: v for k, v in options.items() if v is not None}
        self.require(*(k for k in passed if k in self.keyword_features))
        return self.fn(*args, causal=causal, **passed)


def _cross_length_probe() -> tuple[np.ndarray, np.ndarray]:
    """Two queries against three keys: what a target that handles Nq != Nk must accept."""
    rng = np.random.default_rng(0)
    return rng.standard_normal((1, 1, 2, 4)), rng.standard_normal((1, 1, 3, 4))


@dataclass
class FlashTarget(_OptionalFeatureTarget):
    """A flash-attention forward under test, called as CONTRACTS §2 says.

    The seed signature `flash_attention_fwd(Q, K, V, tile_size, causal=True)` is enough for the plain
    path of every property.
    """

    keyword_features: ClassVar[tuple[str, ...]] = FLASH_KEYWORD_FEATURES

    def _handles_cross_length(self) -> bool:
        q, kv = _cross_length_probe()
        try:
            out = np.asarray(self.fn(q, kv, kv.copy(), 2, causal=False))
        except Exception:
            return False
        return out.shape == q.shape and bool(np.isfinite(out).all())

    def __call__(self, Q, K, V, tile_size=128, causal=True, **options: Any):
        return self._call(Q, K, V, tile_size, causal=causal, options=options)


@dataclass
class FlashBwdTarget(_OptionalFeatureTarget):
    """A flash-attention backward under test, called as issue 6 says:
    `flash_attention_bwd(Q, K, V, O, dO, lse, tile_size, causal=True, *, kv_tile_size, key_padding_mask)`
    returning `(dQ, dK, dV)`, given back as a tuple of three arrays whatever sequence the target returned.
    """

    keyword_features: ClassVar[tuple[str, ...]] = FLASH_BWD_KEYWORD_FEATURES

    def _handles_cross_length(self) -> bool:
        q, kv = _cross_length_probe()
        # Any O and lse of the right shape: the probe asks only whether Nq != Nk is accepted.
        o, lse = np.zeros_like(q), np.zeros(q.shape[:3])
        try:
            grads = self._as_gradients(self.fn(q, kv, kv.copy(), o, q.copy(), lse, 2, causal=False))
        except Exception:
            return False
        return [g.shape for g in grads] == [q.shape, kv.shape, kv.shape] and all(np.isfinite(g).all() for g in grads)

    @staticmethod
    def _as_gradients(raw: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        dQ, dK, dV = raw
        return np.asarray(dQ), np.asarray(dK), np.asarray(dV)

    def __call__(self, Q, K, V, O, dO, lse, tile_size=128, causal=True, **options: Any):  # noqa: E741
        return self._as_gradients(self._call(Q, K, V, O, dO, lse, tile_size, causal=causal, options=options))


class Hyp(NamedTuple):
    """One hypothesis in the form every beam test reads, whatever shape the target returned."""

    tokens: tuple[int, ...]
    logprob: float
    score: float
    finished: bool


def _as_hyp(raw: Any, eos_token_id: int, alpha: float) -> Hyp:
    if isinstance(raw, dict):
        return Hyp(tuple(int(t) for t in raw["tokens"]), float(raw["logprob"]), float(raw["score"]),
                   bool(raw["finished"]))
    if isinstance(raw, tuple | list) and len(raw) == 2:
        tokens = tuple(int(t) for t in raw[0])
        logprob = float(raw[1])
        length = max(len(tokens), 1)
        return Hyp(tokens, logprob, logprob / length**alpha, bool(tokens) and tokens[-1] == eos_token_id)
    return Hyp(tuple(int(t) for t in raw.tokens), float(raw.logprob), float(raw.score), bool(raw.finished))


@dataclass
class BeamTarget:
    """A beam search under test, called as CONTRACTS §3 says; results normalized to `Hyp`."""

    fn: Callable
    name: str
    is_reference: bool = False

    def __call__(
        self, model, prompts, beam_width, max_new_tokens, eos_token_id, alpha=0.6
    ) -> list[list[Hyp]]:
        raw = self.fn(model, prompts, beam_width, max_new_tokens, eos_token_id, alpha=alpha)
        return [[_as_hyp(h, eos_token_id, alpha) for h in per_prompt] for per_prompt in raw]


TARGET_CLASS = {"flash": FlashTarget, "flash_bwd": FlashBwdTarget, "beam": BeamTarget}


def target_from_env(algorithm: str, environ: dict | None = None) -> FlashTarget | FlashBwdTarget | BeamTarget:
    import os

    environ = os.environ if environ is None else environ
    spec_text = environ.get(ENV[algorithm]) or REFERENCE[algorithm]
    is_reference = spec_text == REFERENCE[algorithm]
    spec = parse_spec(spec_text, algorithm)
    fn = load_callable(spec)
    cls = TARGET_CLASS[algorithm]
    return cls(fn=fn, name="reference" if is_reference else spec.label, is_reference=is_reference)
