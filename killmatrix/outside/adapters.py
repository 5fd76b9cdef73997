"""The implementation under test: one mechanism for the reference, for mutants and for outside code.

Every property and adversarial test takes the `flash_impl`, `flash_bwd_impl` or `beam_impl` fixture (root conftest.py)
instead of importing `impl` directly. The fixture builds a target from an environment variable:

- unset: the reference, `impl.attention:flash_attention_fwd` / `impl.attention_bwd:flash_attention_bwd`
  / `impl.beam_search:beam_search` (a mutant run is the reference imported from a mutated copy of the tree);
- `KILLMATRIX_FLASH_TARGET` / `KILLMATRIX_FLASH_BWD_TARGET` / `KILLMATRIX_BEAM_TARGET` =
  `path/to/file.py[:func]` or `module:func`: outside code, run in its own confined worker process
  (killmatrix/outside/remote_target.py), started by the sandboxed child that `killmatrix check` starts.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pytest

from killmatrix.algorithms import BY_NAME

if TYPE_CHECKING:
    from properties.beam_hypothesis import Hyp


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
    if algorithm not in BY_NAME:
        raise ValueError(f"algorithm must be one of {sorted(BY_NAME)}, got {algorithm!r}")
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError("target must be 'PATH[:FUNC]' or 'module:func', got an empty string")
    location, _, func = spec.strip().rpartition(":") if ":" in spec else (spec.strip(), "", "")
    func = func or BY_NAME[algorithm].default_function
    if not func.isidentifier():
        raise ValueError(f"target function name {func!r} is not a Python identifier")
    if location.endswith(".py") or "/" in location or Path(location).exists():
        path = Path(location).expanduser()
        if path.is_dir():
            raise ValueError(f"target {location!r} is a directory: name the .py file in it (DIR/FILE.py[:FUNC])")
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
        # What it does define, so the fix (PATH:FUNC) is one look away; imported names are not its own.
        own = sorted(name for name, value in vars(module).items() if callable(value) and not name.startswith("_")
                     and getattr(value, "__module__", None) == module.__name__)
        found = f"callables in it: {', '.join(own)}" if own else "it defines no public callable"
        raise ValueError(f"{spec.label}: no callable named {spec.func!r} ({found}; name one as PATH:FUNC)")
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

    @cached_property
    def feature_notes(self) -> dict[str, str]:
        """Why a feature is reported unsupported, when the reason is an accepted convention."""
        return {}

    def _handles_cross_length(self) -> bool:
        raise NotImplementedError

    def supports(self, feature: str) -> bool:
        return feature in self.features

    def require(self, *features: str) -> None:
        missing = [f for f in features if not self.supports(f)]
        if missing:
            notes = [self.feature_notes[f] for f in missing if f in self.feature_notes]
            pytest.skip(f"{self.name} does not support {', '.join(missing)}" + "".join(f": {n}" for n in notes))

    def accept_convention(self, feature: str, reason: str) -> None:
        """End the test as `require` does for a missing feature: the target follows another accepted
        convention (e.g. float16 computed in float16), reported as such, not as a failure."""
        pytest.skip(f"{self.name} does not support {feature}: {reason} (an accepted convention)")

    def _call(self, *args: Any, causal: bool, options: dict[str, Any]):
        passed = {k: v for k, v in options.items() if v is not None}
        tile = passed.get("kv_tile_size")
        if not self.supports("kv_tile_size") and isinstance(tile, int) and not isinstance(tile, bool) and tile > 0:
            # Keys then come in tiles of tile_size; the output must not depend on the tiling, so the
            # case still tests what it was drawn for. (An invalid kv_tile_size still needs the feature.)
            del passed["kv_tile_size"]
        self.require(*(k for k in passed if k in self.keyword_features))
        return self.fn(*args, causal=causal, **passed)


def _cross_length_probe() -> tuple[np.ndarray, np.ndarray]:
    """Two queries against three keys: what a target that handles Nq != Nk must accept."""
    rng = np.random.default_rng(0)
    return rng.standard_normal((1, 1, 2, 4)), rng.standard_normal((1, 1, 3, 4))


def _probe_probabilities(q: np.ndarray, k: np.ndarray, offset: int | None) -> tuple[np.ndarray, np.ndarray]:
    """softmax(q k^T / sqrt(D)) in float64 and its log-sum-exp, query i seeing key j iff j <= i + offset
    (None: all keys). The probe has Nq < Nk, so every row sees a key."""
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if offset is not None:
        i, j = np.arange(q.shape[2])[:, None], np.arange(k.shape[2])[None, :]
        scores = np.where(j <= i + offset, scores, -np.inf)
    top = scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores - top)
    total = weights.sum(axis=-1, keepdims=True)
    return weights / total, (top + np.log(total))[..., 0]


def _probe_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, offset: int | None) -> np.ndarray:
    return _probe_probabilities(q, k, offset)[0] @ v


def _probe_gradients(q, k, v, d_out, offset: int | None) -> tuple[np.ndarray, ...]:
    """(O, lse, dQ, dK, dV) of the probe, naive, in float64."""
    p, lse = _probe_probabilities(q, k, offset)
    out = p @ v
    d_scores = p * (d_out @ np.swapaxes(v, -1, -2) - (d_out * out).sum(axis=-1, keepdims=True))
    scale = 1 / np.sqrt(q.shape[-1])
    return out, lse, d_scores @ k * scale, np.swapaxes(d_scores, -1, -2) @ q * scale, np.swapaxes(p, -1, -2) @ d_out


TOP_LEFT_NOTE = ("aligns the causal mask top-left when Nq != Nk (query i sees keys j <= i), an accepted convention; "
                 "Nq != Nk cases expect bottom-right alignment (query i sees keys j <= i + Nk - Nq)")


def _causal_alignment(out: Any, q: np.ndarray, kv: np.ndarray) -> str:
    """"bottom-right", "top-left" or "neither", for a causal probe output on Nq < Nk."""
    out = np.asarray(out, np.float64)
    for name, offset in (("bottom-right", kv.shape[2] - q.shape[2]), ("top-left", 0)):
        if out.shape == q.shape and np.allclose(out, _probe_attention(q, kv, kv, offset), rtol=1e-3, atol=1e-3):
            return name
    return "neither"


@dataclass
class FlashTarget(_OptionalFeatureTarget):
    """A flash-attention forward under test, called as CONTRACTS §2 says.

    The seed signature `flash_attention_fwd(Q, K, V, tile_size, causal=True)` is enough for the plain
    path of every property.
    """

    keyword_features: ClassVar[tuple[str, ...]] = FLASH_KEYWORD_FEATURES

    def _handles_cross_length(self) -> bool:
        """Nq != Nk works non-causal and, causal, aligns bottom-right as the tests expect. A causal mask
        aligned top-left is an accepted convention: the feature is then unsupported (with that note);
        an alignment that is neither stays supported, so the tests show the bug."""
        q, kv = _cross_length_probe()
        try:
            out = np.asarray(self.fn(q, kv, kv.copy(), 2, causal=False))
            if out.shape != q.shape or not np.isfinite(out).all():
                return False
            causal_out = self.fn(q, kv, kv.copy(), 2, causal=True)
        except Exception:
            return False
        if _causal_alignment(causal_out, q, kv) == "top-left":
            self.feature_notes["cross_length"] = TOP_LEFT_NOTE
            return False
        return True

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
        """As the forward's probe: non-causal Nq != Nk accepted, causal aligned bottom-right; top-left
        alignment is an accepted convention (unsupported, with that note)."""
        q, kv = _cross_length_probe()
        # Any O and lse of the right shape: the non-causal call asks only whether Nq != Nk is accepted.
        o, lse = np.zeros_like(q), np.zeros(q.shape[:3])
        try:
            grads = self._as_gradients(self.fn(q, kv, kv.copy(), o, q.copy(), lse, 2, causal=False))
            shapes_ok = [g.shape for g in grads] == [q.shape, kv.shape, kv.shape]
            if not shapes_ok or not all(np.isfinite(g).all() for g in grads):
                return False
            alignment = "neither"
            for name, offset in (("bottom-right", kv.shape[2] - q.shape[2]), ("top-left", 0)):
                out, lse, *truth = _probe_gradients(q, kv, kv, q, offset)
                grads = self._as_gradients(self.fn(q, kv, kv.copy(), out, q.copy(), lse, 2, causal=True))
                if all(np.allclose(g, t, rtol=1e-3, atol=1e-3) for g, t in zip(grads, truth, strict=True)):
                    alignment = name
                    break
        except Exception:
            return False
        if alignment == "top-left":
            self.feature_notes["cross_length"] = TOP_LEFT_NOTE
            return False
        return True

    @staticmethod
    def _as_gradients(raw: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        dQ, dK, dV = raw
        return np.asarray(dQ), np.asarray(dK), np.asarray(dV)

    def __call__(self, Q, K, V, O, dO, lse, tile_size=128, causal=True, **options: Any):  # noqa: E741
        return self._as_gradients(self._call(Q, K, V, O, dO, lse, tile_size, causal=causal, options=options))


def _is_pair(raw: Any) -> bool:
    """A `(tokens, logprob)` hypothesis: its score and finished flag are the checker's, not the target's."""
    return isinstance(raw, tuple | list) and len(raw) == 2


def _as_hyp(raw: Any, eos_token_id: int, alpha: float) -> Hyp:
    # The suite's type, imported where the suite runs (the pytest child), never in the parent process.
    from properties.beam_hypothesis import Hyp

    if isinstance(raw, dict):
        return Hyp(tuple(int(t) for t in raw["tokens"]), float(raw["logprob"]), float(raw["score"]),
                   bool(raw["finished"]))
    if _is_pair(raw):
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
    # Hyp fields computed here rather than returned by the target (pairs carry no score or finished
    # flag): a property about one of them holds by construction, so it is not applicable.
    derived: set[str] = field(default_factory=set)

    def __call__(
        self, model, prompts, beam_width, max_new_tokens, eos_token_id, alpha=0.6
    ) -> list[list[Hyp]]:
        raw = self.fn(model, prompts, beam_width, max_new_tokens, eos_token_id, alpha=alpha)
        if any(_is_pair(h) for per_prompt in raw for h in per_prompt):
            self.derived |= {"score", "finished"}
        return [[_as_hyp(h, eos_token_id, alpha) for h in per_prompt] for per_prompt in raw]


def target_from_env(algorithm: str, environ: dict | None = None) -> FlashTarget | FlashBwdTarget | BeamTarget:
    import os

    environ = os.environ if environ is None else environ
    declared = BY_NAME[algorithm]
    spec_text = environ.get(declared.env) or declared.reference
    is_reference = spec_text == declared.reference
    spec = parse_spec(spec_text, algorithm)
    if is_reference:
        fn = load_callable(spec)  # ours (a mutant is ours too): in process, where memray and mutmut see it
    else:
        from killmatrix.outside.remote_target import RemoteFunction

        # Outside code runs in a confined worker process, never beside the oracles and outcome records.
        fn = RemoteFunction(spec)
    module, _, name = declared.adapter.partition(":")
    cls = getattr(importlib.import_module(module), name)
    return cls(fn=fn, name="reference" if is_reference else spec.label, is_reference=is_reference)
