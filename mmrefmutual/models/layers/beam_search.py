"""Batched beam search over any step function, without host synchronisation per step."""
from typing import Callable, Optional, Tuple

import torch
from torch import Tensor


@torch.no_grad()
def beam_search_loop(step: Callable[[Tensor], Tensor], reorder: Callable[[Tensor], None],
                     batch_size: int, beam_size: int, max_len: int, bos: int, eos: int,
                     pad: int, device: torch.device, check_every: Optional[int] = None
                     ) -> Tuple[Tensor, Tensor, Tensor]:
    """Beam search, batched over ``batch_size`` inputs and ``beam_size`` beams.

    Rows are laid out input-major: row ``b * beam_size + k`` is beam k of input b,
    and stay within their input, so per-input state (e.g. memory) needs no reordering.
    The text has at least one word: EOS can end it from the second step on.

    The loop never waits for the device: tokens live in a pre-allocated buffer, the
    vocabulary masks are built once, and whether every beam has ended is read back
    only every ``check_every`` steps. Steps run after the end change nothing (the
    state is kept as it was), so the result does not depend on ``check_every``.
    :func:`finish_beams` then cuts and ranks the beams (one read from the device): the two
    are split so that the loop alone can be captured as a CUDA graph (``check_every=0``).

    Args:
        step (callable): ``step(tokens)`` gets all tokens so far, Long
            (B * beam, t), a view valid during the call only, and returns
            log-probabilities of the next token (B * beam, V). It may keep a cache,
            which ``reorder`` then permutes.
        reorder (callable): ``reorder(rows)`` permutes cached state to the rows
            (B * beam,) chosen at this step.
        batch_size (int): Number of inputs.
        beam_size (int): Beams per input.
        max_len (int): Maximum number of words (>= 1); EOS is forced after them.
        bos (int): Start token id, never generated.
        eos (int): End token id.
        pad (int): Padding id, never generated; follows EOS in the output.
        device (torch.device): Device of the tokens.
        check_every (int, optional): Steps between checks for the end of every
            beam. Default: 1 on CPU (a check costs nothing there), 4 elsewhere (a
            check waits for the device to finish the queued steps). 0: never check,
            run all ``max_len + 1`` steps (what a CUDA graph can capture).

    Returns:
        tuple[Tensor, Tensor, Tensor]: tokens (B, beam, max_len + 1) without BOS,
        padded with ``pad`` after EOS; scores (B, beam) before any length penalty;
        steps (B,): the number of steps each input took until all its beams ended.
        Inputs are independent: padding the batch with more inputs changes none of
        this for the others.
    """
    if max_len < 1:
        raise ValueError(f'max_len must be >= 1, got {max_len}')
    device = torch.device(device)
    if check_every is None:
        check_every = 1 if device.type == 'cpu' else 4
    b, k = batch_size, beam_size
    # double-buffered so that reordering writes into preallocated memory
    tokens = torch.full((b * k, max_len + 2), pad, dtype=torch.long, device=device)
    tokens[:, 0] = bos
    spare = torch.empty_like(tokens)
    scores = torch.zeros(b, k, device=device)
    scores[:, 1:] = float('-inf')  # all beams start identical: expand beam 0 only
    finished = torch.zeros(b * k, dtype=torch.bool, device=device)
    done = torch.zeros((), dtype=torch.bool, device=device)  # every beam has ended
    steps = torch.zeros(b, dtype=torch.long, device=device)  # steps while an input was open
    base = torch.arange(b, device=device)[:, None] * k
    keep_rows = torch.arange(b * k, device=device)
    masks = None
    for t in range(max_len + 1):
        logp = step(tokens[:, :t + 1]).float()
        vocab = logp.shape[-1]
        if masks is None:
            masks = _vocab_masks(vocab, bos, eos, pad, device)
        if t == max_len:  # out of length: end every open beam here
            logp = logp.masked_fill(masks['not_eos'], float('-inf'))
        # never generated: no restarted text, and no empty one (EOS first)
        logp = logp.masked_fill(masks['first' if t == 0 else 'never'], float('-inf'))
        # a finished beam only continues with free padding
        logp = torch.where(finished[:, None], masks['pad_only'], logp)
        cand = (scores.view(-1, 1) + logp).view(b, k * vocab)
        new_scores, idx = cand.topk(k, dim=1)
        rows = (base + torch.div(idx, vocab, rounding_mode='floor')).view(-1)
        word = (idx % vocab).view(-1)
        # once every beam has ended, a step keeps the state as it is
        rows = torch.where(done, keep_rows, rows)
        word = word.masked_fill(done, pad)
        scores = torch.where(done, scores, new_scores)
        steps += ~finished.view(b, k).all(1)
        torch.index_select(tokens, 0, rows, out=spare)
        tokens, spare = spare, tokens
        tokens[:, t + 1] = word
        finished = finished[rows] | (word == eos) | (word == pad)
        reorder(rows)
        done = finished.all()
        if check_every and (t + 1) % check_every == 0 and t < max_len and bool(done):
            break
    return tokens[:, 1:].view(b, k, -1), scores, steps


def finish_beams(tokens: Tensor, scores: Tensor, steps: Tensor, pad: int,
                 length_penalty: float = 0.0) -> Tuple[Tensor, Tensor]:
    """Cut :func:`beam_search_loop`'s tokens after the last step an input needed (one
    read from the device) and rank the beams by length-penalised score.

    Args:
        tokens (Tensor): (B, beam, L) tokens; ``steps`` (B,): steps of each input.
        scores (Tensor): (B, beam) log-probabilities.
        pad (int): Padding id.
        length_penalty (float): Final scores are ``logp / length ** length_penalty``.

    Returns:
        tuple[Tensor, Tensor]: tokens (B, beam, T), T the largest of ``steps``, and
        scores (B, beam), best first.
    """
    tokens = tokens[..., :int(steps.max()) if len(steps) else 0]
    if length_penalty:
        lengths = (tokens != pad).sum(-1).clamp(min=1).float()
        scores = scores / lengths ** length_penalty
        scores, order = scores.sort(dim=1, descending=True)
        tokens = tokens.gather(1, order[..., None].expand_as(tokens))
    return tokens, scores


def _vocab_masks(vocab: int, bos: int, eos: int, pad: int, device: torch.device) -> dict:
    """Masks over the vocabulary, built once per search so that steps only apply them.

    Returns:
        dict: ``never`` (bool, V): BOS and PAD; ``first`` (bool, V): those and EOS;
        ``not_eos`` (bool, V): all but EOS; ``pad_only`` (float, V): 0 on PAD, -inf
        elsewhere (the log-probabilities of a finished beam).
    """
    never = torch.zeros(vocab, dtype=torch.bool, device=device)
    never[bos] = never[pad] = True
    first = never.clone()
    first[eos] = True
    not_eos = torch.ones(vocab, dtype=torch.bool, device=device)
    not_eos[eos] = False
    pad_only = torch.full((vocab,), float('-inf'), device=device)
    pad_only[pad] = 0.0
    return dict(never=never, first=first, not_eos=not_eos, pad_only=pad_only)
