import pytest
import torch

from mmrefmutual.models.heads import IndicatedGenerationHead
from mmrefmutual.models.language.vocab import BOS, EOS, PAD, WordVocab, build_vocab

SENTS = ['the red circle on the left', 'blue square', 'second small star from the right',
         'green triangle above the square']


def make_head(**kwargs):
    torch.manual_seed(0)
    cfg = dict(vocab=build_vocab(SENTS), in_channels=32, num_layers=2, num_heads=4,
               ffn_channels=64, dropout=0.0, max_len=10)
    cfg.update(kwargs)
    return IndicatedGenerationHead(**cfg)


def test_vocab_encode_decode_roundtrip():
    vocab = WordVocab(build_vocab(SENTS))
    ids = vocab.encode(['blue square', 'unknownword circle'], max_len=10)
    assert ids[0].tolist()[:4] == [BOS, vocab.index['blue'], vocab.index['square'], EOS]
    assert ids[0, 4:].eq(PAD).all()
    assert vocab.decode(ids[0, 1:]) == 'blue square'
    assert vocab.decode(ids[1, 1:]) == '<unk> circle'
    with pytest.raises(ValueError):
        WordVocab(['a', 'b'])


def test_indicator_memory():
    head = make_head()
    proposals = torch.randn(2, 5, 32)
    mem = head.build_memory(proposals, torch.tensor([0, 1, 1]), torch.tensor([3, 0, 4]))
    assert mem.shape == (3, 5, 32)
    i_neg, i_pos = head.indicator.weight
    torch.testing.assert_close(mem[0, 3], proposals[0, 3] + i_pos)
    torch.testing.assert_close(mem[0, 1], proposals[0, 1] + i_neg)
    torch.testing.assert_close(mem[2, 4], proposals[1, 4] + i_pos)
    torch.testing.assert_close(mem[2, 0], proposals[1, 0] + i_neg)
    # the ablation without indicators sees the target proposal only
    off = make_head(use_indicator=False)
    assert off.indicator is None  # no parameter without gradient (DDP)
    mem = off.build_memory(proposals, torch.tensor([1]), torch.tensor([2]))
    assert mem.shape == (1, 1, 32)
    torch.testing.assert_close(mem[0, 0], proposals[1, 2])


def test_overfit_reproduces_sentences_and_distinguishes_objects():
    """Same image, different target proposals -> different sentences (indicators)."""
    head = make_head()
    proposals = torch.randn(1, 6, 32)
    img = torch.tensor([0, 0, 0, 0])
    props = torch.tensor([0, 2, 3, 5])
    opt = torch.optim.Adam(head.parameters(), lr=3e-3)
    first = None
    for _ in range(150):
        loss = head.loss(proposals, img, props, SENTS)['loss_reg']
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05 * first
    head.eval()
    for beam in (1, 3):
        texts, scores = head.generate(proposals, img, props, beam_size=beam)
        assert [t[0] for t in texts] == SENTS
        assert scores.shape == (4, beam)
        assert torch.all(scores[:, :-1] >= scores[:, 1:])  # best first


@pytest.mark.parametrize('beam,max_len,length_penalty',
                         [(1, 10, 0.0), (2, 3, 0.0), (3, 10, 0.0), (3, 10, 0.8), (5, 6, 0.0),
                          (5, 10, 1.0), (3, 1, 0.0)])
def test_beam_search_cache_matches_no_cache(beam, max_len, length_penalty):
    """The static key/value cache gives the tokens and scores of decoding the whole prefix
    at every step (random weights, so that texts are long and varied)."""
    head = make_head().eval()
    proposals = torch.randn(2, 6, 32)
    img, props = torch.tensor([0, 1, 1, 0]), torch.tensor([1, 0, 5, 3])
    for seed, eos_bias in ((0, 0.0), (1, 1.5), (2, 3.0)):  # long to short texts
        torch.manual_seed(seed)
        for module in head.modules():
            if hasattr(module, 'reset_parameters'):
                module.reset_parameters()
        head.classifier.bias.data[EOS] += eos_bias
        cached = head.search(proposals, img, props, beam, max_len, True, length_penalty)
        plain = head.search(proposals, img, props, beam, max_len, False, length_penalty)
        assert torch.equal(cached[0], plain[0])
        torch.testing.assert_close(cached[1], plain[1], rtol=1e-5, atol=1e-5)
        assert cached[0].shape[:2] == (4, beam) and cached[0].shape[2] <= max_len + 1


@pytest.mark.parametrize('num_targets,beam,max_len', [(5, 3, 10), (1, 2, 4), (8, 3, 10),
                                                       (11, 1, 6)])
def test_padded_full_length_search_is_the_search(num_targets, beam, max_len):
    """What `search(cuda_graph=True)` replays on a GPU, run eagerly: targets padded to a
    power of two (>= 8) and every step run without checking for the end. It must give the
    targets' tokens and scores of the plain search (lengths cut alike)."""
    from mmrefmutual.models.layers import finish_beams
    head = make_head().eval()
    torch.manual_seed(3)
    proposals = torch.randn(3, 6, 32)
    img = torch.randint(0, 3, (num_targets,))
    props = torch.randint(0, 6, (num_targets,))
    for eos_bias in (0.0, 2.0):  # long and short texts: the padding rows end elsewhere
        head.classifier.bias.data[EOS] += eos_bias
        ref = head.search(proposals, img, props, beam, max_len)
        tokens, scores, steps = head._search_padded(proposals[img], props, beam, max_len)
        assert tokens.shape == (num_targets, beam, max_len + 1) and steps.shape == (num_targets,)
        out = finish_beams(tokens, scores, steps, PAD)
        assert torch.equal(out[0], ref[0])
        torch.testing.assert_close(out[1], ref[1], rtol=1e-5, atol=1e-5)
    # on a CPU the option is ignored: the same search, no graph captured
    again = head.search(proposals, img, props, beam, max_len, cuda_graph=True)
    assert torch.equal(again[0], ref[0]) and len(head._graphs) == 0 and head._graphs.captures == 0


def test_graph_cache_is_not_copied_with_the_model():
    """A deep copy of the head (e.g. a referee or EMA copy) captures its own graphs."""
    import copy
    head = make_head()
    head._graphs._graphs['fake'] = ('graph', (), ())
    clone = copy.deepcopy(head)
    assert len(clone._graphs) == 0 and len(head._graphs) == 1
    head.to(torch.float64)  # moving the parameters makes captured graphs stale
    assert len(head._graphs) == 0


def test_beam_search_never_generates_an_empty_text():
    """EOS is the likeliest first token: the search must still say a word before it."""
    head = make_head().eval()
    head.classifier.bias.data[EOS] = 50.0
    proposals = torch.randn(1, 6, 32)
    img, props = torch.tensor([0, 0]), torch.tensor([1, 4])
    for use_cache in (True, False):
        tokens, scores = head.search(proposals, img, props, beam_size=3, use_cache=use_cache)
        assert (tokens[..., 0] != EOS).all() and (tokens[..., 1] == EOS).all()
        assert torch.isfinite(scores).all()
        texts = head.decode(tokens)
        assert all(text and text != '<unk>' for beams in texts for text in beams)


def test_vocab_travels_in_state_dict():
    head = make_head()
    state = head.state_dict()
    other = make_head(vocab=build_vocab(SENTS)[:4] + sorted(build_vocab(SENTS)[4:]))
    assert other.vocab.words != head.vocab.words
    other.load_state_dict(state)
    assert other.vocab.words == head.vocab.words
    assert state['vocab_data'].dtype == torch.uint8  # a plain tensor
    small = make_head(vocab=build_vocab(['a b']))
    with pytest.raises(ValueError, match='vocabulary'):
        small.load_state_dict(state)


def test_sequence_log_probs_match_beam_scores_and_teacher_forcing():
    head = make_head().eval()
    proposals = torch.randn(2, 6, 32)
    img, props = torch.tensor([0, 1, 1]), torch.tensor([1, 0, 5])
    tokens, scores = head.search(proposals, img, props, beam_size=4)
    logp = head.sequence_log_probs(proposals, img, props, tokens)
    assert logp.shape == (3, 4)
    # beam search's scores are these log-probabilities (no length penalty)
    torch.testing.assert_close(logp, scores, rtol=1e-4, atol=1e-4)
    # and the teacher-forcing loss is their negative (one sequence per target)
    texts = [beams[0] for beams in head.decode(tokens)]
    nll = head.loss(proposals, img, props, texts)['loss_reg']
    torch.testing.assert_close(nll, -logp[:, 0].mean(), rtol=1e-4, atol=1e-4)


def test_policy_gradient_raises_the_reward():
    """Eq. (4) with beam samples: a reward for 'red square' turns the head's best expression
    from 'blue square' (2/3 of its training data) to 'red square' (1/3)."""
    head = make_head()
    proposals = torch.randn(1, 6, 32)
    img, props = torch.tensor([0, 0]), torch.tensor([1, 4])
    opt = torch.optim.Adam(head.parameters(), lr=3e-3)
    texts = ['blue square', 'blue square', 'red square']
    for _ in range(60):
        loss = head.loss(proposals, torch.tensor([0] * 6), torch.tensor([1, 1, 1, 4, 4, 4]),
                         texts * 2)['loss_reg']
        opt.zero_grad()
        loss.backward()
        opt.step()

    def best():
        head.eval()
        texts, _ = head.generate(proposals, img, props, beam_size=1)
        head.train()
        return [t[0] for t in texts]

    def reward_fn(texts):
        return torch.tensor([[float(t == 'red square') for t in beams] for beams in texts])

    assert best() == ['blue square', 'blue square']
    for _ in range(30):
        out = head.loss_policy_gradient(proposals, img, props, reward_fn, num_samples=5)
        assert set(out) == {'loss_reg_rl', 'reward'} and not out['reward'].requires_grad
        assert out['reward'].item() == pytest.approx(0.2)  # 'red square' is 1 of 5 beams
        opt.zero_grad()
        out['loss_reg_rl'].backward()
        opt.step()
    assert best() == ['red square', 'red square']
    with pytest.raises(ValueError, match='baseline'):
        head.loss_policy_gradient(proposals, img, props, reward_fn, baseline='greedy')
