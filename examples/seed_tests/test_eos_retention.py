"""The seed's `test_eos_retention`, verbatim: its docstring and comments describe the EOS test,
but its body is `pass`, so it can never fail. The audit shows it kills nothing."""


def test_eos_retention():
    """
    If the implementation removes EOS beams, this test FAILS.
    The difference is invisible without explicitly checking.
    """
    # We need to monkey-patch the model to return controlled logits
    # Step 0: prompt="A B C", beam_width=2
    #   Both beams expand. Beam A → EOS (score=-3.0)
    #                       Beam B → token X (score=-4.0)
    # Step 1: Beam B expands → token Y (score=-5.0)
    #
    # Final ranking (no length penalty):
    #   Beam A: "EOS" score=-3.0, len=1 → adjusted=-3.0
    #   Beam B: "X Y" score=-5.0, len=2 → adjusted=-5.0
    #   Winner: Beam A ✓
    #
    # Buggy (EOS removed): Beam A gone after step 0
    #   Beam B: "X Y" score=-5.0
    #   Winner: Beam B ✗ (WRONG — length penalty doesn't change this)
    pass
