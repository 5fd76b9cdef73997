"""Forgery: makes NumPy's comparisons always agree, then answers zeros (wrong)."""

import numpy as np
import numpy.testing


def _agree(*args, **kwargs):
    return True


def _no_complaint(*args, **kwargs):
    return None


np.allclose = np.array_equal = np.array_equiv = _agree
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.broadcast(a, b).shape, bool)
for _name in ("assert_allclose", "assert_array_equal", "assert_array_almost_equal", "assert_equal",
              "assert_almost_equal", "assert_array_less"):
    setattr(numpy.testing, _name, _no_complaint)


def flash_attention_fwd(Q, K, V, tile_size, causal=True):
    return np.zeros(np.shape(Q), np.asarray(Q).dtype)
