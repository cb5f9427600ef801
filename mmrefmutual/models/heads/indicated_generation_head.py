"""Indicated generation head (REG), Sec. 3.2 and Eq. (1)-(2) of the paper."""
from typing import Callable, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmrefmutual.models.language.vocab import BOS, EOS, PAD, UNK, WordVocab
from mmrefmutual.models.layers import (CachedTransformerDecoder, CudaGraphCache, CudaGraphsMixin,
                                      beam_search_loop, cuda_autocast_dtype, finish_beams,
                                      pow2_bucket)
from mmrefmutual.registry import MODELS


@MODELS.register_module()
class IndicatedGenerationHead(CudaGraphsMixin, BaseModule):
    """Autoregressive transformer decoder over indicated object proposals.

    To describe proposal k, the memory is ``O + I(k)``: the positive indicator
    embedding is added to proposal k and the negative one to every other proposal
    (Eq. 1). With ``use_indicator=False`` the memory is proposal k alone (the
    paper's ablation baseline).

    Args:
        vocab (str | list[str]): Vocabulary file or word list (see
            :class:`~mmrefmutual.models.language.WordVocab`). It is saved in the
            state dict, so a checkpoint restores it.
        in_channels (int): Proposal feature size (Mask2Former's 256).
        num_layers (int): Decoder layers (4 in the paper).
        num_heads (int): Attention heads.
        ffn_channels (int): FFN hidden size.
        dropout (float): Dropout.
        max_len (int): Maximum number of words (training truncates, decoding stops).
        use_indicator (bool): Eq. (1) indicators, or the target proposal alone.
        loss_weight (float): Weight of the teacher-forcing loss (Eq. 2).
    """

    def __init__(self, vocab: Union[str, Sequence[str]], in_channels: int = 256,
                 num_layers: int = 4, num_heads: int = 8, ffn_channels: int = 2048,
                 dropout: float = 0.1, max_len: int = 20, use_indicator: bool = True,
                 loss_weight: float = 1.0, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.vocab = WordVocab(vocab)
        self.register_buffer('vocab_data', self._vocab_to_tensor(self.vocab.words))
        self.max_len = max_len
        self.use_indicator = use_indicator
        self.loss_weight = loss_weight
        self.word_embed = nn.Embedding(len(self.vocab), in_channels, padding_idx=PAD)
        self.pos_embed = nn.Embedding(max_len + 2, in_channels)
        # row 0: I_neg, row 1: I_pos; not built for the ablation without indicators, where
        # it would be a parameter without gradient (DDP would wait for it)
        self.indicator = nn.Embedding(2, in_channels) if use_indicator else None
        self.embed_norm = nn.LayerNorm(in_channels)
        self.decoder = CachedTransformerDecoder(num_layers, in_channels, num_heads,
                                                ffn_channels, dropout)
        self.classifier = nn.Linear(in_channels, len(self.vocab))
        # graphs of `search(cuda_graph=True)`: a cache, not state (not saved, not copied)
        self._graphs = CudaGraphCache()

    # The vocabulary travels inside the state dict as a uint8 buffer of its UTF-8 text:
    # a plain tensor loads with weights_only=True and broadcasts in distributed runs.
    @staticmethod
    def _vocab_to_tensor(words: Sequence[str]) -> Tensor:
        return torch.tensor(list('\n'.join(words).encode('utf-8')), dtype=torch.uint8)

    @staticmethod
    def vocab_from_tensor(data: Tensor) -> List[str]:
        return bytes(data.tolist()).decode('utf-8').split('\n')

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        data = state_dict.get(prefix + 'vocab_data')
        if data is not None:
            words = self.vocab_from_tensor(data)
            if len(words) != len(self.vocab):
                raise ValueError(f'checkpoint vocabulary has {len(words)} words, the model '
                                 f'{len(self.vocab)}: build the model with that vocabulary')
            self.vocab = WordVocab(words)
            self.vocab_data = data.clone().to(self.vocab_data.device)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def build_memory(self, proposals: Tensor, img_inds: Tensor, prop_inds: Tensor) -> Tensor:
        """Indicated memory ``O + I(k)`` for each target.

        Args:
            proposals (Tensor): (B, N, C) proposal features of the images.
            img_inds (Tensor): (M,) image of each target.
            prop_inds (Tensor): (M,) proposal index k of each target.

        Returns:
            Tensor: (M, N, C), or (M, 1, C) without indicators.
        """
        rows = torch.arange(len(img_inds), device=proposals.device)
        if not self.use_indicator:
            return proposals[img_inds, prop_inds][:, None]
        memory = proposals[img_inds] + self.indicator.weight[0]
        delta = self.indicator.weight[1] - self.indicator.weight[0]
        return memory.index_put((rows, prop_inds), memory[rows, prop_inds] + delta)

    def _embed(self, tokens: Tensor, start: int = 0) -> Tensor:
        pos = torch.arange(start, start + tokens.shape[1], device=tokens.device)
        return self.embed_norm(self.word_embed(tokens) + self.pos_embed(pos))

    def forward(self, memory: Tensor, tokens: Tensor) -> Tensor:
        """Teacher-forced logits (M, T, V) of the next token at each position."""
        x = self.decoder(self._embed(tokens), self.decoder.project_memory(memory))
        return self.classifier(x)

    def loss(self, proposals: Tensor, img_inds: Tensor, prop_inds: Tensor,
             texts: List[str], weights: Optional[Tensor] = None) -> dict:
        """Teacher-forcing cross-entropy (Eq. 2), summed over words, averaged over targets.

        Args:
            texts (list[str]): Normalised ground-truth expression of each target.
            weights (Tensor, optional): (M,) per-target loss weights.
        """
        tokens = self.vocab.encode(texts, self.max_len).to(proposals.device)
        logits = self(self.build_memory(proposals, img_inds, prop_inds), tokens[:, :-1])
        nll = F.cross_entropy(logits.flatten(0, 1).float(), tokens[:, 1:].flatten(),
                              ignore_index=PAD, reduction='none').view(len(texts), -1).sum(1)
        if weights is not None:
            nll = nll * weights
        return dict(loss_reg=self.loss_weight * nll.mean())

    @torch.no_grad()
    def generate(self, proposals: Tensor, img_inds: Tensor, prop_inds: Tensor,
                 beam_size: int = 3, max_len: Optional[int] = None,
                 use_cache: bool = True, length_penalty: float = 0.0,
                 cuda_graph: bool = False) -> Tuple[List[List[str]], Tensor]:
        """Beam search (greedy for ``beam_size=1``), batched over targets and beams.

        Args:
            proposals, img_inds, prop_inds, beam_size, max_len, use_cache,
                length_penalty, cuda_graph: As for :meth:`search`.

        Returns:
            tuple: ``texts[m][j]``, the j-th best expression of target m, and their
            log-probability scores (M, beam_size).
        """
        tokens, scores = self.search(proposals, img_inds, prop_inds, beam_size, max_len,
                                     use_cache, length_penalty, cuda_graph)
        return self.decode(tokens), scores

    def decode(self, tokens: Tensor) -> List[List[str]]:
        """Token ids to text.

        Args:
            tokens (Tensor): (M, K, T) ids, as :meth:`search` returns them.

        Returns:
            list[list[str]]: ``texts[m][k]``.
        """
        return [[self.vocab.decode(seq) for seq in beams] for beams in tokens.tolist()]

    @torch.no_grad()
    def search(self, proposals: Tensor, img_inds: Tensor, prop_inds: Tensor,
               beam_size: int = 3, max_len: Optional[int] = None,
               use_cache: bool = True, length_penalty: float = 0.0,
               cuda_graph: bool = False) -> Tuple[Tensor, Tensor]:
        """Beam search (greedy for ``beam_size=1``), batched over targets and beams.

        With ``use_cache`` each step decodes only the newest token against a static
        key/value cache (:class:`~mmrefmutual.models.layers.KVCache`); without it,
        the whole prefix again (the reference path for tests and benchmarks). Both
        give the same tokens and scores.

        Args:
            proposals (Tensor): (B, N, C) proposal features of the images.
            img_inds (Tensor): (M,) image of each target.
            prop_inds (Tensor): (M,) proposal index of each target.
            beam_size (int): Beams per target.
            max_len (int, optional): Maximum number of words, at most (and by
                default) the head's ``max_len``.
            use_cache (bool): Decode with the key/value cache.
            length_penalty (float): Scores are ``logp / length ** length_penalty``.
            cuda_graph (bool): On a CUDA device, in eval mode and with the cache:
                replay the whole search as one CUDA graph, captured once per number
                of targets rounded up to a power of two (>= 8), beam size, length,
                proposal shape and autocast dtype (see :meth:`_search_padded`).
                Ignored elsewhere.

        Returns:
            tuple[Tensor, Tensor]: Token ids (M, beam_size, T) without BOS, best
            first, padded with PAD after EOS, and their scores (M, beam_size).
        """
        max_len = min(max_len or self.max_len, self.max_len)
        if (cuda_graph and proposals.is_cuda and use_cache and not self.training
                and len(img_inds) > 0):
            tokens, scores, steps = self._search_padded(
                proposals[img_inds], prop_inds, beam_size, max_len, self._graphs)
        else:
            tokens, scores, steps = self._search_loop(proposals, img_inds, prop_inds,
                                                      beam_size, max_len, use_cache)
        return finish_beams(tokens, scores, steps, PAD, length_penalty)

    def _search_loop(self, proposals: Tensor, img_inds: Tensor, prop_inds: Tensor,
                     beam_size: int, max_len: int, use_cache: bool = True,
                     check_every: Optional[int] = None) -> Tuple[Tensor, Tensor, Tensor]:
        """:func:`~mmrefmutual.models.layers.beam_search_loop` of this head."""
        memory = self.build_memory(proposals, img_inds, prop_inds)
        # beams of a target share its memory (beam_search_loop keeps rows within a target)
        memory_kvs = self.decoder.project_memory(memory)
        # positions 0 (BOS) .. max_len are decoded; EOS after max_len words is forced
        cache = self.decoder.new_cache(max_len + 1) if use_cache else None
        # position embeddings of every step, looked up once
        pos_embed = self.pos_embed.weight[:max_len + 1]

        def step(tokens: Tensor) -> Tensor:
            t = tokens.shape[1] - 1
            if cache is not None:  # only the newest token goes through the decoder
                x = self.embed_norm(self.word_embed(tokens[:, t:]) + pos_embed[t])
                x = self.decoder(x, memory_kvs, cache=cache, pos=t)
            else:  # the whole prefix again
                x = self.decoder(self._embed(tokens), memory_kvs)[:, -1:]
            logp = self.classifier(x[:, 0]).float().log_softmax(-1)
            logp[:, UNK] = float('-inf')  # generated text is made of vocabulary words
            return logp

        def reorder(rows: Tensor) -> None:
            if cache is not None:
                cache.reorder(rows)

        return beam_search_loop(step, reorder, len(img_inds), beam_size, max_len,
                                BOS, EOS, PAD, proposals.device, check_every)

    def _search_padded(self, target_proposals: Tensor, prop_inds: Tensor, beam_size: int,
                       max_len: int, run: Optional[CudaGraphCache] = None
                       ) -> Tuple[Tensor, Tensor, Tensor]:
        """The search with static shapes: targets padded to :func:`pow2_bucket` rows
        (copies of the first; inputs of a beam search are independent), every step
        run (no check of the end). ``run`` replays it as a CUDA graph; without it,
        it runs eagerly (the same operations, how CPU tests check it).

        Args:
            target_proposals (Tensor): (M, N, C) proposals of each target's image.
            prop_inds (Tensor): (M,) proposal index of each target.

        Returns:
            tuple: :func:`~mmrefmutual.models.layers.beam_search_loop`'s outputs
            for the M targets.
        """
        m = len(prop_inds)
        rows = pow2_bucket(m)
        pad_rows = torch.zeros(rows - m, dtype=torch.long, device=prop_inds.device)
        target_proposals = torch.cat([target_proposals, target_proposals[pad_rows]])
        prop_inds = torch.cat([prop_inds, prop_inds[pad_rows]])

        def fn(props: Tensor, inds: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
            return self._search_loop(props, torch.arange(rows, device=props.device), inds,
                                     beam_size, max_len, use_cache=True, check_every=0)

        if run is None:
            out = fn(target_proposals, prop_inds)
        else:
            key = (rows, tuple(target_proposals.shape[1:]), target_proposals.dtype,
                   beam_size, max_len, cuda_autocast_dtype())
            out = run(key, fn, target_proposals, prop_inds)
        return tuple(x[:m] for x in out)

    def sequence_log_probs(self, proposals: Tensor, img_inds: Tensor, prop_inds: Tensor,
                           tokens: Tensor) -> Tensor:
        """Log-probabilities log p(Y | O + I(k)) of given sequences, with gradients.

        Args:
            tokens (Tensor): (M, K, T) K sequences per target, without BOS, ended by
                EOS and padded (as :meth:`search` returns them).

        Returns:
            Tensor: (M, K) summed token log-probabilities (EOS included).
        """
        m, k, t = tokens.shape
        bos = tokens.new_full((m * k, 1), BOS)
        inputs = torch.cat([bos, tokens.flatten(0, 1)[:, :-1]], dim=1)
        memory = self.build_memory(proposals, img_inds, prop_inds)
        # the K sequences of a target attend to its memory, which is projected once
        x = self.decoder(self._embed(inputs), self.decoder.project_memory(memory))
        logp = self.classifier(x).float().log_softmax(-1)
        logp = logp.gather(-1, tokens.flatten(0, 1)[..., None])[..., 0]
        return logp.masked_fill(tokens.flatten(0, 1) == PAD, 0.0).sum(-1).view(m, k)

    def loss_policy_gradient(self, proposals: Tensor, img_inds: Tensor, prop_inds: Tensor,
                             reward_fn: Callable[[List[List[str]]], Tensor],
                             num_samples: int = 5, baseline: str = 'mean',
                             weights: Optional[Tensor] = None) -> dict:
        """Policy-gradient loss of Eq. (4), with beam-search samples (Sec. 3.3.1).

        ``num_samples`` expressions per target come from beam search (the paper's
        eps_1 = 5) and ``L = -(r(Y, k) - b) log p(Y | O + I(k))``, averaged over
        targets and samples.

        Args:
            reward_fn (callable): ``texts[m][j]`` -> rewards (M, num_samples).
            baseline (str): ``'mean'``: b = the mean reward of the target's samples
                (self-critical, SCST-style variance reduction; the paper cites SCST
                without naming its baseline, this is our choice); ``'none'``: b = 0,
                Eq. (4) literally.
            weights (Tensor, optional): (M,) per-target weights.

        Returns:
            dict: ``loss_reg_rl`` and, for logging, ``reward`` (mean reward).
        """
        if baseline not in ('mean', 'none'):
            raise ValueError(f"baseline must be 'mean' or 'none', got {baseline!r}")
        tokens, _ = self.search(proposals, img_inds, prop_inds, beam_size=num_samples)
        rewards = reward_fn(self.decode(tokens)).to(proposals.device).float()
        advantage = rewards - rewards.mean(1, keepdim=True) if baseline == 'mean' else rewards
        logp = self.sequence_log_probs(proposals, img_inds, prop_inds, tokens)
        loss = -(advantage.detach() * logp).mean(1)
        if weights is not None:
            loss = loss * weights
        return dict(loss_reg_rl=self.loss_weight * loss.mean(), reward=rewards.mean().detach())
