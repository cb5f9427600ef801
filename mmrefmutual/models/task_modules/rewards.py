"""Reward of disambiguation supervision (RES -> REG), Eq. (5)-(6) of the paper."""
from typing import Dict, List, Optional, Sequence

import torch
from torch import Tensor

from mmrefmutual.registry import TASK_UTILS


@TASK_UTILS.register_module()
class UnambiguityCiderReward:
    """``r(Y, k) = alpha * softmax(S(Y) / tau)_k + CIDEr(Y, Y*)`` (Eq. 6).

    ``S(Y)`` are the selection head's matching scores of the generated expression Y
    over the image's proposals (the softmax runs over all N proposals: the selection
    head's own output space) and ``k`` the target proposal. CIDEr is CIDEr-D
    (:class:`~mmrefmutual.evaluation.CiderD`, pycocoevalcap's definition) against the
    target's ground-truth sentences ``Y*``, with document frequencies from the
    training refs (``corpus_refs_file``), never from the batch being scored.

    Args:
        alpha (float): Weight of the unambiguity reward (4 in the paper).
        tau (float): Temperature smoothing the matching scores (2.5 in the paper).
        cider_weight (float): Weight of the CIDEr term (1 in the paper; 0 gives the
            paper's Table 5 (a) "unambiguity reward only").
        corpus_refs_file (str, optional): Refs file whose ``corpus_split`` refs give
            CIDEr's document frequencies. Required when ``cider_weight`` > 0.
        corpus_split (str): Split of ``corpus_refs_file``. Defaults to 'train'.
        corpus (dict, optional): ``{key: [sentences]}`` instead of a refs file
            (sentences already normalised).
    """

    def __init__(self, alpha: float = 4.0, tau: float = 2.5, cider_weight: float = 1.0,
                 corpus_refs_file: Optional[str] = None, corpus_split: str = 'train',
                 corpus: Optional[Dict[int, List[str]]] = None) -> None:
        self.alpha = alpha
        self.tau = tau
        self.cider_weight = cider_weight
        self.cider = None
        if cider_weight:
            if corpus is None:
                if corpus_refs_file is None:
                    raise ValueError('the CIDEr reward needs a reference corpus: give '
                                     'corpus_refs_file (the training refs) or corpus')
                corpus = self.load_corpus(corpus_refs_file, corpus_split)
            from mmrefmutual.evaluation import CiderD
            self.cider = CiderD(corpus)

    @staticmethod
    def load_corpus(refs_file: str, split: str) -> Dict[int, List[str]]:
        """``{ref_id: normalised sentences}`` of one split of a refs file."""
        from mmrefmutual.datasets.refcoco import load_refs, normalize_sentences
        corpus = {}
        for ref in load_refs(refs_file):
            if ref.get('split') == split:
                sentences, _ = normalize_sentences(ref, None)
                if sentences:
                    corpus[int(ref['ref_id'])] = [s['sent'] for s in sentences]
        if not corpus:
            raise ValueError(f'{refs_file} has no sentences in split {split!r}')
        return corpus

    def __call__(self, scores: Tensor, targets: Tensor, texts: Sequence[str],
                 references: Sequence[Sequence[str]]) -> Tensor:
        """Rewards of generated expressions.

        Args:
            scores (Tensor): (M, N) matching scores S(Y) of each expression.
            targets (Tensor): (M,) target proposal k of each expression.
            texts (Sequence[str]): The M generated expressions.
            references (Sequence[Sequence[str]]): Ground-truth sentences Y* of each.

        Returns:
            Tensor: (M,) rewards, on the device of ``scores``.
        """
        probs = (scores.detach().float() / self.tau).softmax(-1)
        reward = self.alpha * probs.gather(1, targets[:, None].to(probs.device))[:, 0]
        if self.cider is not None:
            cider = self.cider.score(list(texts), [list(r) for r in references])
            reward = reward + self.cider_weight * torch.as_tensor(
                cider, dtype=reward.dtype, device=reward.device)
        return reward
