"""The author's tests of search.py: a toy bigram model, checked by hand-made expectations."""
import numpy as np
from search import search

EOS = 0


def bigram_model(seed=0, vocab=6):
    table = np.random.default_rng(seed).standard_normal((vocab, vocab)) * 2

    def model(batch):
        return np.stack([table[seq[-1]] for seq in batch])

    return model


def test_width_one_is_greedy():
    model = bigram_model(1)
    [[(tokens, _)]] = search(model, [[3]], width=1, max_len=5, eos=EOS)
    seq = [3]
    for _ in range(len(tokens)):
        seq.append(int(np.argmax(model([seq])[0])))
        if seq[-1] == EOS:
            break
    assert tokens == seq[1:]


def test_results_best_first():
    results = search(bigram_model(2), [[1], [4, 2]], width=3, max_len=4, eos=EOS)
    for per_prompt in results:
        scores = [lp / len(t) ** 0.6 for t, lp in per_prompt]
        assert scores == sorted(scores, reverse=True)


def test_at_most_width_results():
    results = search(bigram_model(3), [[2]], width=4, max_len=3, eos=EOS)
    assert len(results) == 1 and 1 <= len(results[0]) <= 4


def test_logprob_is_negative():
    for tokens, logprob in search(bigram_model(4), [[5]], width=2, max_len=3, eos=EOS)[0]:
        assert logprob < 0 and tokens
