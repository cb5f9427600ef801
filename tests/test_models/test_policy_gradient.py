"""The policy-gradient loss of Eq. (4) against a hand computation."""
import pytest
import torch

from mmrefmutual.models.heads import IndicatedGenerationHead
from mmrefmutual.models.language.vocab import build_vocab

SENTS = ['the red circle on the left', 'blue square', 'second small star from the right']


@pytest.mark.parametrize('baseline', ['mean', 'none'])
def test_policy_gradient_loss_hand_computed(baseline):
    torch.manual_seed(0)
    head = IndicatedGenerationHead(build_vocab(SENTS), in_channels=32, num_layers=2,
                                   num_heads=4, ffn_channels=64, dropout=0.0, max_len=8)
    proposals = torch.randn(2, 5, 32)
    img, props = torch.tensor([0, 1, 1]), torch.tensor([2, 0, 4])
    # unequal rewards per target and per sample
    rewards = torch.tensor([[3.0, 1.0, 0.0], [0.5, 0.5, 2.0], [1.0, 4.0, -1.0]])
    weights = torch.tensor([1.0, 0.1, 2.0])
    out = head.loss_policy_gradient(proposals, img, props, lambda texts: rewards,
                                    num_samples=3, baseline=baseline, weights=weights)
    tokens, _ = head.search(proposals, img, props, beam_size=3)
    logp = head.sequence_log_probs(proposals, img, props, tokens)
    expected = 0.0
    for m in range(3):
        b = rewards[m].mean() if baseline == 'mean' else 0.0
        per_target = -sum((rewards[m, k] - b) * logp[m, k] for k in range(3)) / 3
        expected = expected + weights[m] * per_target
    expected = expected / 3
    torch.testing.assert_close(out['loss_reg_rl'], expected)
    torch.testing.assert_close(out['reward'], rewards.mean())
    # the gradient is the reward-weighted score function: it reaches the head
    out['loss_reg_rl'].backward()
    assert head.classifier.weight.grad.abs().sum() > 0
