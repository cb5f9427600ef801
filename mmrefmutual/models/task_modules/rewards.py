"""Reward of disambiguation supervision (RES -> REG), Eq. (5)-(6) of the paper."""
from typing import Dict, Hashable, Mapping, Optional, Sequence

import torch
from torch import Tensor

from mmrefmutual.registry import TASK_UTILS
from mmrefmutual.utils.cider import CiderD


@TASK_UTILS.register_module()
class UnambiguityCiderReward:
    """``r(Y, k) = alpha * softmax(S(Y) / tau)_k + CIDEr(Y, Y*)`` (Eq. 6).

    ``S(Y)`` are the selection head's matching scores of the generated expression Y
    over the image's proposals (the softmax runs over all N proposals: the selection
    head's own output space) and ``k`` the target proposal. CIDEr is CIDEr-D
    (:class:`~mmrefmutual.utils.CiderD`, pycocoevalcap's definition) against the
    target's ground-truth sentences ``Y*``, with the document frequencies of a fixed
    corpus, the training refs, never of the batch being scored.
    ``MutualSupervisionHook`` builds this reward with the corpus of the training
    dataset itself and hands it to the model.

    The variants of the paper's Table 5 are switches: ``cider_weight=0`` (unambiguity
    only), ``unambiguity='sigmoid'`` (``sigmoid(S_k / tau)``, the target's score alone,
    as JointSLR) and ``tau=1`` (softmax without temperature).

    Args:
        alpha (float): Weight of the unambiguity reward (4 in the paper).
        tau (float): Temperature smoothing the matching scores (2.5 in the paper).
        cider_weight (float): Weight of the CIDEr term (1 in the paper).
        unambiguity (str): ``'softmax'`` (Eq. 5, the paper's) or ``'sigmoid'``.
        corpus (Mapping | Sequence, optional): ``{ref_id: [sentences]}`` (normalised)
            giving CIDEr's document frequencies. Required when ``cider_weight`` > 0.
    """

    UNAMBIGUITY = ('softmax', 'sigmoid')

    def __init__(self, alpha: float = 4.0, tau: float = 2.5, cider_weight: float = 1.0,
                 unambiguity: str = 'softmax',
                 corpus: Optional[Mapping[Hashable, Sequence[str]]] = None) -> None:
        if unambiguity not in self.UNAMBIGUITY:
            raise ValueError(f'unambiguity must be one of {self.UNAMBIGUITY}, got '
                             f'{unambiguity!r}')
        if tau <= 0:
            raise ValueError(f'tau must be positive, got {tau}')
        self.alpha = alpha
        self.tau = tau
        self.cider_weight = cider_weight
        self.unambiguity = unambiguity
        self.cider = None
        if cider_weight:
            if not corpus:
                raise ValueError('the CIDEr reward needs a reference corpus (the training '
                                 "refs): MutualSupervisionHook passes the training dataset's")
            self.cider = CiderD(corpus)

    def __call__(self, scores: Tensor, targets: Tensor, texts: Sequence[str],
                 references: Sequence[Sequence[str]]) -> Dict[str, Tensor]:
        """Rewards of generated expressions and their parts.

        Args:
            scores (Tensor): (M, N) matching scores S(Y) of each expression.
            targets (Tensor): (M,) target proposal k of each expression.
            texts (Sequence[str]): The M generated expressions.
            references (Sequence[Sequence[str]]): Ground-truth sentences Y* of each.

        Returns:
            dict[str, Tensor]: (M,) tensors on the device of ``scores``: ``reward``
            (the total), ``unambiguity`` (``softmax(S / tau)_k`` or the sigmoid,
            before ``alpha``), ``cider`` (before ``cider_weight``; zeros without the
            CIDEr term) and ``target_wins`` (1.0 where the target has the highest
            score, i.e. the selection head grounds Y to its object).
        """
        scores = scores.detach().float()
        targets = targets.to(scores.device)
        if self.unambiguity == 'softmax':
            unamb = (scores / self.tau).softmax(-1).gather(1, targets[:, None])[:, 0]
        else:
            unamb = (scores.gather(1, targets[:, None])[:, 0] / self.tau).sigmoid()
        cider = torch.zeros_like(unamb)
        if self.cider is not None:
            cider = torch.as_tensor(self.cider.score(list(texts), [list(r) for r in references]),
                                    dtype=unamb.dtype, device=unamb.device)
        return dict(reward=self.alpha * unamb + self.cider_weight * cider, unambiguity=unamb,
                    cider=cider, target_wins=(scores.argmax(-1) == targets).float())
