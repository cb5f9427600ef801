"""Batched beam search over any step function."""
from typing import Callable, Tuple

import torch
from torch import Tensor


@torch.no_grad()
def beam_search(step: Callable[[Tensor], Tensor], reorder: Callable[[Tensor], None],
                batch_size: int, beam_size: int, max_len: int, bos: int, eos: int, pad: int,
                device: torch.device, length_penalty: float = 0.0) -> Tuple[Tensor, Tensor]:
    """Beam search, batched over ``batch_size`` inputs and ``beam_size`` beams.

    Rows are laid out input-major: row ``b * beam_size + k`` is beam k of input b,
    and stay within their input, so per-input state (e.g. memory) needs no reordering.

    Args:
        step (callable): ``step(tokens)`` gets all tokens so far, Long
            (B * beam, t), and returns log-probabilities of the next token
            (B * beam, V). It may keep a cache, which ``reorder`` then permutes.
        reorder (callable): ``reorder(rows)`` permutes cached state to the rows
            (B * beam,) chosen at this step.
        batch_size, beam_size (int): Inputs and beams per input.
        max_len (int): Maximum number of words; EOS is forced after them.
        bos, eos, pad (int): Special token ids.
        device: Device of the tokens.
        length_penalty (float): Final scores are ``logp / length ** length_penalty``.

    Returns:
        tuple[Tensor, Tensor]: tokens (B, beam, T) without BOS, best first, padded
        with ``pad`` after EOS, and their scores (B, beam).
    """
    b, k = batch_size, beam_size
    tokens = torch.full((b * k, 1), bos, dtype=torch.long, device=device)
    scores = torch.zeros(b, k, device=device)
    scores[:, 1:] = float('-inf')  # all beams start identical: expand beam 0 only
    finished = torch.zeros(b * k, dtype=torch.bool, device=device)
    base = torch.arange(b, device=device)[:, None] * k
    for t in range(max_len + 1):
        logp = step(tokens).float()
        vocab = logp.shape[-1]
        if t == max_len:  # out of length: end every open beam here
            forced = torch.full_like(logp, float('-inf'))
            forced[:, eos] = logp[:, eos]
            logp = forced
        logp[:, [bos, pad]] = float('-inf')  # never generated: no empty or restarted text
        logp[finished] = float('-inf')
        logp[finished, pad] = 0.0  # a finished beam only continues with free padding
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
