import math

import pytest
import torch

from mmrefmutual.engine.hooks import MutualSupervisionHook
from mmrefmutual.models.task_modules import UnambiguityCiderReward
from mmrefmutual.registry import TASK_UTILS
from mmrefmutual.utils import CiderD, register_all_modules

CORPUS = {1: ['the red circle', 'red circle on the left'], 2: ['blue square', 'the square'],
          3: ['small green star', 'the star at the top']}


def test_unambiguity_reward_hand_computed():
    reward = UnambiguityCiderReward(alpha=4.0, tau=2.5, cider_weight=0)
    tau = 2.5
    scores = torch.tensor([[0.0, 0.0], [tau * math.log(3), 0.0], [0.0, 1.0]])
    # softmax(S / tau): row 0 (1/2, 1/2), row 1 (3/4, 1/4), target 1 of row 2 wins
    got = reward(scores, torch.tensor([0, 1, 1]), ['a', 'b', 'c'], [['x'], ['y'], ['z']])
    row2 = math.exp(1 / tau) / (1 + math.exp(1 / tau))
    torch.testing.assert_close(got['unambiguity'], torch.tensor([0.5, 0.25, row2]))
    torch.testing.assert_close(got['reward'], 4 * torch.tensor([0.5, 0.25, row2]))
    torch.testing.assert_close(got['cider'], torch.zeros(3))
    # ties are no win: argmax picks the first of equal scores
    torch.testing.assert_close(got['target_wins'], torch.tensor([1.0, 0.0, 1.0]))


def test_reward_variants_of_table5():
    """Sigmoid of the target's score alone (JointSLR) vs the softmax over all proposals."""
    scores = torch.tensor([[2.0, 2.0, 2.0], [2.0, -9.0, -9.0]])
    targets = torch.tensor([0, 0])
    sigmoid = UnambiguityCiderReward(alpha=1.0, tau=1.0, cider_weight=0, unambiguity='sigmoid')
    softmax = UnambiguityCiderReward(alpha=1.0, tau=1.0, cider_weight=0)
    got = sigmoid(scores, targets, ['a', 'b'], [['x'], ['y']])['reward']
    # the sigmoid does not see that three proposals tie: both rows get sigmoid(2)
    torch.testing.assert_close(got, torch.sigmoid(torch.tensor([2.0, 2.0])))
    got = softmax(scores, targets, ['a', 'b'], [['x'], ['y']])['reward']
    assert got[0] == pytest.approx(1 / 3) and got[1] > 0.99
    with pytest.raises(ValueError, match='unambiguity'):
        UnambiguityCiderReward(cider_weight=0, unambiguity='hinge')


def test_cider_term_uses_the_corpus_document_frequencies():
    register_all_modules()
    reward = TASK_UTILS.build(dict(type='UnambiguityCiderReward', corpus=CORPUS))
    texts = ['the red circle', 'the square on the left']
    refs = [CORPUS[1], CORPUS[2]]
    scores = torch.zeros(2, 3)
    got = reward(scores, torch.tensor([0, 2]), texts, refs)
    cider = CiderD(CORPUS).score(texts, refs)
    torch.testing.assert_close(got['cider'], torch.tensor(cider, dtype=torch.float32))
    torch.testing.assert_close(got['reward'], 4.0 / 3 + got['cider'])
    assert got['reward'][0] > got['reward'][1]  # exact reference beats a partial one
    # document frequencies from a different corpus give different values
    other = CiderD({**CORPUS, 4: ['the red circle'] * 2, 5: ['the red circle']})
    assert not torch.allclose(torch.tensor(other.score(texts, refs)), torch.tensor(cider))
    with pytest.raises(ValueError, match='corpus'):
        UnambiguityCiderReward()


def test_corpus_from_the_training_dataset(synthetic_root):
    """The hook's CIDEr-D corpus: every train ref of the dataset, normalised sentences."""
    from mmrefmutual.datasets import RefCocoDataset, load_refs
    dataset = RefCocoDataset(ann_file='refcoco/instances.json', split_file='refcoco/refs(unc).p',
                             data_root=synthetic_root, split='train', pipeline=[])
    corpus = MutualSupervisionHook.training_corpus(dataset)
    train = [r for r in load_refs(dataset.split_file) if r['split'] == 'train']
    assert set(corpus) == {r['ref_id'] for r in train}
    assert corpus[train[0]['ref_id']] == [s['sent'] for s in train[0]['sentences']]
    assert all(s == s.lower() for sents in corpus.values() for s in sents)
