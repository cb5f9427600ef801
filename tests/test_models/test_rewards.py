import math
import os.path as osp

import pytest
import torch

from mmrefmutual.datasets.refcoco import load_refs
from mmrefmutual.evaluation import CiderD
from mmrefmutual.models.task_modules import UnambiguityCiderReward
from mmrefmutual.registry import TASK_UTILS
from mmrefmutual.utils import register_all_modules

CORPUS = {1: ['the red circle', 'red circle on the left'], 2: ['blue square', 'the square'],
          3: ['small green star', 'the star at the top']}


def test_unambiguity_reward_hand_computed():
    reward = UnambiguityCiderReward(alpha=4.0, tau=2.5, cider_weight=0)
    tau = 2.5
    scores = torch.tensor([[0.0, 0.0], [tau * math.log(3), 0.0]])
    # softmax(S / tau): row 0 (1/2, 1/2), row 1 (3/4, 1/4)
    got = reward(scores, torch.tensor([0, 1]), ['a', 'b'], [['x'], ['y']])
    torch.testing.assert_close(got, torch.tensor([4 * 0.5, 4 * 0.25]))


def test_cider_term_uses_the_corpus_document_frequencies():
    register_all_modules()
    reward = TASK_UTILS.build(dict(type='UnambiguityCiderReward', corpus=CORPUS))
    texts = ['the red circle', 'the square on the left']
    refs = [CORPUS[1], CORPUS[2]]
    scores = torch.zeros(2, 3)
    got = reward(scores, torch.tensor([0, 2]), texts, refs)
    cider = CiderD(CORPUS).score(texts, refs)
    expected = 4.0 / 3 + torch.tensor(cider, dtype=torch.float32)
    torch.testing.assert_close(got, expected)
    assert got[0] > got[1]  # exact reference beats a partial one
    # document frequencies from a different corpus give different values
    other = CiderD({**CORPUS, 4: ['the red circle'] * 2, 5: ['the red circle']})
    assert not torch.allclose(torch.tensor(other.score(texts, refs)), torch.tensor(cider))


def test_corpus_from_the_training_refs(synthetic_root):
    refs_file = osp.join(synthetic_root, 'refcoco', 'refs(unc).p')
    corpus = UnambiguityCiderReward.load_corpus(refs_file, 'train')
    train = [r for r in load_refs(refs_file) if r['split'] == 'train']
    assert set(corpus) == {r['ref_id'] for r in train}
    assert all(s == s.lower() for sents in corpus.values() for s in sents)
    with pytest.raises(ValueError, match='no sentences'):
        UnambiguityCiderReward.load_corpus(refs_file, 'nosuchsplit')
    with pytest.raises(ValueError, match='corpus'):
        UnambiguityCiderReward()
