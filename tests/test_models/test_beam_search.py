"""Beam search and the static key/value cache, against a frozen copy of the former algorithm."""
import itertools

import pytest
import torch

from mmrefmutual.models.layers import KVCache, beam_search_loop, finish_beams

BOS, EOS, PAD = 1, 2, 0


def reference_beam_search(step, reorder, batch_size, beam_size, max_len, bos, eos, pad,
                          device, length_penalty=0.0, eos_first=False):
    """The beam search before the static cache (commit aca2356), kept verbatim but for the
    EOS fix: with ``eos_first=True`` it is the former algorithm exactly, which let EOS be
    the first word (an empty expression)."""
    b, k = batch_size, beam_size
    tokens = torch.full((b * k, 1), bos, dtype=torch.long, device=device)
    scores = torch.zeros(b, k, device=device)
    scores[:, 1:] = float('-inf')
    finished = torch.zeros(b * k, dtype=torch.bool, device=device)
    base = torch.arange(b, device=device)[:, None] * k
    for t in range(max_len + 1):
        logp = step(tokens).float()
        vocab = logp.shape[-1]
        if t == max_len:
            forced = torch.full_like(logp, float('-inf'))
            forced[:, eos] = logp[:, eos]
            logp = forced
        logp[:, [bos, pad]] = float('-inf')
        if t == 0 and not eos_first:
            logp[:, eos] = float('-inf')  # the fix
        logp[finished] = float('-inf')
        logp[finished, pad] = 0.0
        cand = (scores.view(-1, 1) + logp).view(b, k * vocab)
        scores, idx = cand.topk(k, dim=1)
        rows = (base + torch.div(idx, vocab, rounding_mode='floor')).view(-1)
        word = (idx % vocab).view(-1, 1)
        tokens = torch.cat([tokens[rows], word], dim=1)
        finished = finished[rows] | (word[:, 0] == eos) | (word[:, 0] == pad)
        reorder(rows)
        if bool(finished.all()):
            break
    tokens = tokens[:, 1:].view(b, k, -1)
    if length_penalty:
        lengths = (tokens != pad).sum(-1).clamp(min=1).float()
        scores = scores / lengths ** length_penalty
        scores, order = scores.sort(dim=1, descending=True)
        tokens = tokens.gather(1, order[..., None].expand_as(tokens))
    return tokens, scores


def beam_search(step, reorder, batch_size, beam_size, max_len, bos, eos, pad, device,
                length_penalty=0.0, check_every=None):
    """The search as the generation head runs it: the loop, then the finish."""
    tokens, scores, steps = beam_search_loop(step, reorder, batch_size, beam_size, max_len,
                                             bos, eos, pad, device, check_every)
    return finish_beams(tokens, scores, steps, pad, length_penalty)


class ToyModel:
    """A random language model whose next-token distribution depends on the whole prefix
    (through a running state that ``reorder`` must permute, like a cache)."""

    def __init__(self, rows, vocab=12, seed=0, eos_bias=0.0):
        g = torch.Generator().manual_seed(seed)
        self.table = torch.randn(vocab, vocab, generator=g) * 2
        self.mix = torch.randn(vocab, vocab, generator=g)
        self.table[:, EOS] += eos_bias
        self.state = torch.zeros(rows, vocab)
        self.rows = rows

    def step(self, tokens):
        self.state = self.state * 0.5 + self.mix[tokens[:, -1]]
        return (self.table[tokens[:, -1]] + self.state).log_softmax(-1)

    def reorder(self, rows):
        self.state = self.state[rows]


def run(search, batch, beam, max_len, seed=0, eos_bias=0.0, **kwargs):
    model = ToyModel(batch * beam, seed=seed, eos_bias=eos_bias)
    return search(model.step, model.reorder, batch, beam, max_len, BOS, EOS, PAD,
                  torch.device('cpu'), **kwargs)


@pytest.mark.parametrize('beam,max_len,length_penalty',
                         list(itertools.product((1, 2, 3, 5), (1, 4, 9), (0.0, 0.7))))
def test_matches_former_algorithm(beam, max_len, length_penalty):
    for seed in range(3):
        ref_tokens, ref_scores = run(reference_beam_search, 3, beam, max_len, seed,
                                     length_penalty=length_penalty)
        for check_every in (None, 1, 2, 3, 100):
            tokens, scores = run(beam_search, 3, beam, max_len, seed,
                                 length_penalty=length_penalty, check_every=check_every)
            assert torch.equal(tokens, ref_tokens), (seed, check_every)
            assert torch.equal(scores, ref_scores), (seed, check_every)


def test_early_end_is_the_same_without_checks():
    """Short texts end long before max_len: steps after the end must not change anything,
    however rarely the end is checked."""
    ref = run(reference_beam_search, 4, 3, 15, eos_bias=2.0)
    assert ref[0].shape[-1] < 15
    for check_every in (1, 4, 7, 1000):
        out = run(beam_search, 4, 3, 15, eos_bias=2.0, check_every=check_every)
        assert torch.equal(out[0], ref[0]) and torch.equal(out[1], ref[1])


def test_every_step_and_padded_inputs_change_nothing():
    """``check_every=0`` runs all steps without reading back (what a CUDA graph captures),
    and more inputs in the batch leave the others' results as they were; ``finish_beams``
    cuts the tokens after the steps the kept inputs needed."""
    from mmrefmutual.models.layers import beam_search_loop, finish_beams
    for eos_bias in (0.0, 2.0):
        ref = run(beam_search, 3, 3, 9, eos_bias=eos_bias)
        model = ToyModel(5 * 3, eos_bias=eos_bias)  # two more inputs, which never end early

        def step(tokens):
            logp = model.step(tokens).clone()
            logp[9:, EOS] = float('-inf')
            return logp
        tokens, scores, steps = beam_search_loop(step, model.reorder, 5, 3, 9, BOS, EOS,
                                                 PAD, 'cpu', check_every=0)
        assert tokens.shape == (5, 3, 10) and steps[3:].tolist() == [10, 10]
        out = finish_beams(tokens[:3], scores[:3], steps[:3], PAD)
        assert torch.equal(out[0], ref[0]) and torch.equal(out[1], ref[1])
    assert ref[0].shape[-1] < 9  # short texts: the cut matters


def test_pow2_bucket():
    from mmrefmutual.models.layers import pow2_bucket
    assert [pow2_bucket(n) for n in (0, 1, 8, 9, 16, 17, 100)] == [8, 8, 8, 16, 16, 32, 128]
    assert pow2_bucket(3, smallest=1) == 4


def test_more_beams_than_words():
    """Beams without a finite score (a vocabulary of 2 words, EOS banned at first) and ties
    (two words always equally likely): still the former result, checked or not."""
    def step(tokens):
        logp = torch.full((tokens.shape[0], 5), -1.0)
        logp[:, EOS] = -0.5 * tokens.shape[1]
        return logp

    ref = reference_beam_search(step, lambda rows: None, 2, 6, 6, BOS, EOS, PAD, 'cpu')
    for check_every in (1, 3, 100):
        out = beam_search(step, lambda rows: None, 2, 6, 6, BOS, EOS, PAD, 'cpu',
                          check_every=check_every)
        assert torch.equal(out[0], ref[0]) and torch.equal(out[1], ref[1])


def test_no_empty_text():
    """A model that prefers EOS above all must still say one word first."""
    former, _ = run(reference_beam_search, 2, 3, 5, eos_bias=20.0, eos_first=True)
    assert (former[:, 0, 0] == EOS).all()  # the former bug: empty best expressions
    tokens, scores = run(beam_search, 2, 3, 5, eos_bias=20.0)
    assert (tokens[..., 0] != EOS).all() and (tokens[..., 0] != PAD).all()
    assert (tokens[..., 1] == EOS).all()  # then it ends
    assert torch.isfinite(scores).all()


def test_no_host_sync_between_checks(monkeypatch):
    """The loop reads nothing back from the device except at its checks and the end."""
    reads = []
    for name in ('__bool__', 'item', 'tolist', '__int__'):
        original = getattr(torch.Tensor, name)

        def spy(self, *args, _original=original, _name=name):
            reads.append(_name)
            return _original(self, *args)
        monkeypatch.setattr(torch.Tensor, name, spy)
    run(beam_search, 2, 3, 12, check_every=100)
    assert reads == ['__int__']  # the final length
    reads.clear()
    run(beam_search, 2, 3, 12, check_every=4)
    assert reads.count('__bool__') <= 12 // 4 and reads.count('__int__') == 1


def test_max_len_must_be_positive():
    with pytest.raises(ValueError, match='max_len'):
        run(beam_search, 1, 2, 0)


def test_kv_cache_writes_in_place_and_reorders_all_layers_at_once():
    cache = KVCache(num_layers=2, max_len=4)
    rows, heads, dims = 3, 2, 5
    ks = [[torch.randn(rows, heads, 1, dims) for _ in range(2)] for _ in range(3)]
    vs = [[torch.randn(rows, heads, 1, dims) for _ in range(2)] for _ in range(3)]
    perm = torch.tensor([2, 2, 0])
    for pos in range(3):
        for layer in range(2):
            k, v = cache.update(layer, pos, ks[pos][layer], vs[pos][layer])
            assert k.shape == (rows, heads, pos + 1, dims)
            assert k.data_ptr() == cache.data[2 * layer].data_ptr()  # a view, not a copy
            torch.testing.assert_close(v[:, :, pos:], vs[pos][layer])
        if pos == 1:
            buffers = {cache.data.data_ptr(), cache._spare.data_ptr()}
            cache.reorder(perm)
            assert {cache.data.data_ptr(), cache._spare.data_ptr()} == buffers  # no allocation
    # positions 0, 1 were permuted, position 2 was written after
    k, v = cache.update(1, 2, ks[2][1], vs[2][1])
    torch.testing.assert_close(k[:, :, :2], torch.cat([ks[0][1], ks[1][1]], 2)[perm])
    torch.testing.assert_close(v[:, :, :2], torch.cat([vs[0][1], vs[1][1]], 2)[perm])
    torch.testing.assert_close(k[:, :, 2:], ks[2][1])
    with pytest.raises(IndexError):
        cache.update(0, 4, ks[0][0], vs[0][0])
