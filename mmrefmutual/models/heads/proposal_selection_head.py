"""Proposal selection head (RES), Eq. (3) of the paper."""
from typing import Optional

import torch.nn.functional as F
from mmdet.models.layers import MLP, DetrTransformerDecoder
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmrefmutual.registry import MODELS


@MODELS.register_module()
class ProposalSelectionHead(BaseModule):
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

    def loss(self, scores: Tensor, targets: Tensor, weights: Optional[Tensor] = None) -> dict:
        """Cross-entropy over proposals; ``weights`` (M,) scale each expression."""
        ce = F.cross_entropy(scores.float(), targets, reduction='none')
        if weights is not None:
            ce = ce * weights
        return dict(loss_res=self.loss_weight * ce.mean())
