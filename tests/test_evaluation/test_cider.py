import math
import random

import numpy as np
import pytest
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.cider.cider_scorer import CiderScorer

from mmrefmutual.evaluation import CiderD

VOCAB = ('man woman dog cat car left right red blue white the a on of in near big small '
         'front back middle second from').split()


def _corpus(num_docs: int, seed: int):
    """Deterministic RefCOCO-like references: 1-4 sentences of 1-9 words per object."""
    rng = random.Random(seed)

    def sentence():
        return ' '.join(rng.choice(VOCAB) for _ in range(rng.randint(1, 9)))

    docs = [[sentence() for _ in range(rng.randint(1, 4))] for _ in range(num_docs)]
    cands = [sentence() for _ in range(num_docs)]
    # edge cases: 1 word (zero norms for orders 2-4), unseen words, repeated n-grams
    # (clipping), empty candidate, candidate equal to one of its references
    cands[:5] = ['red', 'zebra zebra red car', 'car car car car car', '', docs[4][0]]
    return docs, cands


def _pycocoevalcap(docs, cands):
    scorer = CiderScorer(n=4, sigma=6.0)
    for cand, refs in zip(cands, docs):
        scorer += (cand, refs)
    return scorer.compute_score()[1]


@pytest.mark.parametrize('seed', [0, 1])
def test_ciderd_equals_pycocoevalcap(seed):
    docs, cands = _corpus(150, seed)
    assert sum(map(len, docs)) >= 100
    expected = _pycocoevalcap(docs, cands)
    assert expected.std() > 0.05  # a non-degenerate comparison
    scorer = CiderD(docs)  # same corpus for the document frequencies
    np.testing.assert_allclose(scorer.score(cands, range(len(docs))), expected, atol=1e-6)
    # explicit reference lists take the same path once vectorised
    np.testing.assert_allclose(scorer.score(cands, docs), expected, atol=1e-6)
    # and the Cider() wrapper agrees as well (mean over the set)
    mean, _ = Cider().compute_score({i: d for i, d in enumerate(docs)},
                                    {i: [c] for i, c in enumerate(cands)})
    assert scorer.score(cands, docs).mean() == pytest.approx(mean, abs=1e-6)


def test_ciderd_corpus_df_is_fixed_and_reused():
    docs, cands = _corpus(200, 3)
    corpus = {1000 + i: d for i, d in enumerate(docs)}
    scorer = CiderD(corpus)
    # a sub-batch (RL step: 4 objects x 3 samples) scored with the corpus statistics
    keys = [1000 + k for k in (7, 7, 7, 42, 42, 42, 99, 99, 99, 150, 150, 150)]
    batch = [cands[k - 1000] for k in keys]
    ours = scorer.score(batch, keys)
    # pycocoevalcap on the full corpus gives the same value for each (cand, refs) pair
    # because the df only depends on the corpus
    full = _pycocoevalcap(docs, cands)
    np.testing.assert_allclose(ours, [full[k - 1000] for k in keys], atol=1e-6)
    # pycocoevalcap on the sub-batch alone uses other document frequencies
    alone = _pycocoevalcap([docs[k - 1000] for k in keys], batch)
    assert not np.allclose(ours, alone, atol=1e-3)
    assert scorer.num_docs == len(docs)
    # repeated calls hit the cache and return identical values
    np.testing.assert_array_equal(scorer.score(batch, keys), ours)


def test_ciderd_references_outside_the_corpus():
    # corpus: 2 documents, so ref_len = log 2; df(a) = 2 -> idf 0; df(b) = 1 -> idf log 2;
    # n-grams outside the corpus (d, e, "a d", ...) have df 0 -> idf log 2
    scorer = CiderD([['a b'], ['a c']])
    # identical: cosine 1 for orders 1 and 2, orders 3-4 empty -> (1 + 1 + 0 + 0) / 4 * 10
    assert scorer.score(['a d'], [['a d']])[0] == pytest.approx(5.0)
    # only "a" (idf 0) shared -> 0
    assert scorer.score(['a d'], [['a e']])[0] == pytest.approx(0.0)
    # "b" shared: order-1 cosine = log2^2 / (sqrt(2) log2)^2 = 1/2 -> 0.5 / 4 * 10
    assert scorer.score(['b d'], [['b e']])[0] == pytest.approx(1.25)
    # two references: mean of the per-reference similarities
    assert scorer.score(['b d'], [['b e', 'b d']])[0] == pytest.approx((1.25 + 5.0) / 2)
    # a candidate equal to its only reference (>= 4 words) gets the maximum, 10
    assert scorer.score(['x y z w'], [['x y z w']])[0] == pytest.approx(10.0)
    # the corpus statistics did not change: "d" (seen in references above) still has df 0
    assert scorer.num_docs == 2
    assert scorer.score(['b d'], [['b e']])[0] == pytest.approx(1.25)
    # order 1: "d" tf 2 clipped to the reference's 1 (CIDEr-D), idf log 2 for d and e:
    # log2^2 / (2 log2 * sqrt(2) log2); orders 2-4 share nothing
    assert scorer.score(['d d'], [['d e']])[0] == pytest.approx(10 / 4 / (2 * math.sqrt(2)))
    # corpus key and the same sentences given explicitly
    assert scorer.score(['a b'], [0])[0] == pytest.approx(5.0)
    assert scorer.score(['a b'], [['a b']])[0] == pytest.approx(5.0)


def test_ciderd_errors():
    scorer = CiderD([['a b'], ['a c']])
    with pytest.raises(KeyError, match='not a key'):
        scorer.score(['a'], [12345])
    with pytest.raises(ValueError):
        scorer.score(['a', 'b'], [0])
    with pytest.raises(ValueError):
        scorer.score(['a'], [[]])
    with pytest.raises(ValueError):
        CiderD([])
    assert scorer.score([], []).shape == (0, )


def test_ciderd_lowercase():
    scorer = CiderD([['The red car'], ['a man']])
    assert scorer.score(['the RED car'], [0])[0] == pytest.approx(
        scorer.score(['the red car'], [0])[0])
