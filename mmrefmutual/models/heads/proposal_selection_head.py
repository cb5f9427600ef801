"""Proposal selection head (RES), Eq. (3) of the paper."""
from typing import Optional

import torch
import torch.nn.functional as F
from mmdet.models.layers import MLP, DetrTransformerDecoder
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmrefmutual.models.layers import (CudaGraphCache, CudaGraphsMixin, cuda_autocast_dtype,
                                       pow2_bucket)
from mmrefmutual.registry import MODELS


@MODELS.register_module()
class ProposalSelectionHead(CudaGraphsMixin, BaseModule):
    """Scores every proposal for an expression: ``S(Y) = MLP(Decoder(O, F_Y))``.

    Proposals self-attend and cross-attend to the text features (mmdet's
    ``DetrTransformerDecoder``); an MLP gives one score per proposal, trained with
    cross-entropy over the proposals.

    Args:
        in_channels (int): Proposal feature size.
        text_channels (int): Text feature size (768 for BERT-base).
        num_layers (int): Decoder layers (4 in the paper).
        num_heads (int): Attention heads.
        ffn_channels (int): FFN hidden size.
        dropout (float): Dropout.
        loss_weight (float): Weight of the selection loss.
    """

    def __init__(self, in_channels: int = 256, text_channels: int = 768, num_layers: int = 4,
                 num_heads: int = 8, ffn_channels: int = 2048, dropout: float = 0.1,
                 loss_weight: float = 1.0, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.loss_weight = loss_weight
        self.text_proj = nn.Linear(text_channels, in_channels)
        attn = dict(embed_dims=in_channels, num_heads=num_heads, dropout=dropout,
                    batch_first=True)
        self.decoder = DetrTransformerDecoder(
            num_layers=num_layers, return_intermediate=False,
            layer_cfg=dict(self_attn_cfg=attn, cross_attn_cfg=attn,
                           ffn_cfg=dict(embed_dims=in_channels,
                                        feedforward_channels=ffn_channels,
                                        ffn_drop=dropout)))
        self.score_mlp = MLP(in_channels, in_channels, 1, 2)
        # graphs of `predict(cuda_graph=True)`: a cache, not state (not saved, not copied)
        self._graphs = CudaGraphCache()

    def forward(self, proposals: Tensor, text_feats: Tensor, text_pad_mask: Tensor) -> Tensor:
        """Matching scores.

        Args:
            proposals (Tensor): (M, N, C) proposals of the image of each expression.
            text_feats (Tensor): (M, L, C_text) token features.
            text_pad_mask (Tensor): (M, L), True on padding.

        Returns:
            Tensor: (M, N) scores S.
        """
        text = self.text_proj(text_feats)
        x = self.decoder(query=proposals, key=text, value=text, query_pos=None, key_pos=None,
                         key_padding_mask=text_pad_mask)[-1]
        return self.score_mlp(x).squeeze(-1)

    @torch.no_grad()
    def predict(self, proposals: Tensor, text_feats: Tensor, text_pad_mask: Tensor,
                cuda_graph: bool = False) -> Tensor:
        """Matching scores for inference, as :meth:`forward`.

        With ``cuda_graph`` on a CUDA device in eval mode the decoder is replayed as a
        CUDA graph, captured once per number of expressions rounded up to a power of
        two (>= 8), text length rounded up to a multiple of 8, proposal shape and
        autocast dtype (see :meth:`_forward_padded`). Ignored elsewhere.
        """
        if cuda_graph and proposals.is_cuda and not self.training and len(proposals) > 0:
            return self._forward_padded(proposals, text_feats, text_pad_mask, self._graphs)
        return self(proposals, text_feats, text_pad_mask)

    def _forward_padded(self, proposals: Tensor, text_feats: Tensor, text_pad_mask: Tensor,
                        run: Optional[CudaGraphCache] = None) -> Tensor:
        """:meth:`forward` on static shapes: expressions padded to :func:`pow2_bucket`
        rows (copies of the first; rows are independent) and the text to a multiple of
        8 tokens (masked padding, which attention ignores). ``run`` replays it as a
        CUDA graph; without it, it runs eagerly (how CPU tests check it)."""
        m, length = text_pad_mask.shape
        rows, tokens = pow2_bucket(m), -(-length // 8) * 8
        extra = torch.zeros(rows - m, dtype=torch.long, device=proposals.device)
        proposals = torch.cat([proposals, proposals[extra]])
        text_feats = F.pad(torch.cat([text_feats, text_feats[extra]]),
                           (0, 0, 0, tokens - length))
        text_pad_mask = F.pad(torch.cat([text_pad_mask, text_pad_mask[extra]]),
                              (0, tokens - length), value=True)
        if run is None:
            return self(proposals, text_feats, text_pad_mask)[:m]
        key = (tuple(proposals.shape), tuple(text_feats.shape), proposals.dtype,
               text_feats.dtype, cuda_autocast_dtype())
        return run(key, lambda *args: (self(*args), ), proposals, text_feats,
                   text_pad_mask)[0][:m]

    def loss(self, scores: Tensor, targets: Tensor, weights: Optional[Tensor] = None) -> dict:
        """Cross-entropy over proposals; ``weights`` (M,) scale each expression."""
        ce = F.cross_entropy(scores.float(), targets, reduction='none')
        if weights is not None:
            ce = ce * weights
        return dict(loss_res=self.loss_weight * ce.mean())
