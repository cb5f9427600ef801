"""Which instances are described, and which of their expressions are kept (step 3)."""
from typing import Dict, List, Tuple

import numpy as np
import torch
from torch import Tensor

#: (dataset index, ann_id, area) of an instance of the pool.
Candidate = Tuple[int, int, float]


def pool_candidates(dataset) -> List[Candidate]:
    """Every instance of an ``UnannotatedInstanceDataset``, in the dataset's order."""
    return [(idx, ref['ann_id'], ref['area']) for idx in range(len(dataset))
            for ref in dataset.get_data_info(idx)['refs']]


def area_filter(candidates: List[Candidate], min_area: float) -> List[Candidate]:
    """The instances of area >= ``min_area`` (the paper's data filtering)."""
    return [c for c in candidates if c[2] >= min_area]


def random_filter(candidates: List[Candidate], min_area: float, seed: int) -> List[Candidate]:
    """As many instances as :func:`area_filter` keeps, drawn at random (Fig. 5's control),
    in the candidates' order."""
    count = sum(c[2] >= min_area for c in candidates)
    rng = np.random.default_rng(seed)
    return [candidates[i] for i in sorted(rng.choice(len(candidates), count, replace=False))]


def select_instances(dataset, instance_filter: str, min_area: float,
                     seed: int) -> Dict[int, List[int]]:
    """``{dataset index: [ann_id to describe]}`` after the instance filter
    (``'area'``, ``'random'`` or ``'none'``)."""
    candidates = pool_candidates(dataset)
    if instance_filter == 'none':
        kept = candidates
    elif instance_filter == 'area':
        kept = area_filter(candidates, min_area)
    elif instance_filter == 'random':
        kept = random_filter(candidates, min_area, seed)
    else:
        raise ValueError(f'unknown instance filter {instance_filter!r}')
    selected: Dict[int, List[int]] = {}
    for idx, ann_id, _ in kept:
        selected.setdefault(idx, []).append(ann_id)
    return selected


def grounded_to_own_instance(scores: Tensor, prop_inds: Tensor) -> List[List[bool]]:
    """Refer-back: which expressions the selection head grounds to their own instance.

    Args:
        scores (Tensor): (M, K, N) scores of K expressions of each of M instances against
            the N proposals of the instance's image (:meth:`RefMutual.score_texts`).
        prop_inds (Tensor): (M, ) the proposal of each instance.

    Returns:
        list[list[bool]]: (M, K) whether expression k of instance m is kept.
    """
    return (scores.argmax(-1) == prop_inds[:, None]).tolist()


def refer_back_margins(scores: Tensor, prop_inds: Tensor) -> Tensor:
    """(M, K) how far the selection head prefers each expression's own instance: its score
    on the instance's proposal minus its best score on any other proposal (> 0: grounded
    back to its own instance).

    Args:
        scores (Tensor): (M, K, N) scores of K expressions of each of M instances against the
            N proposals of the instance's image (:meth:`RefMutual.score_texts`).
        prop_inds (Tensor): (M, ) the proposal of each instance.
    """
    if scores.size(-1) < 2:
        raise ValueError('a margin needs at least two proposals')
    own_index = prop_inds[:, None, None].expand(-1, scores.size(1), 1)
    own = scores.gather(-1, own_index)[..., 0]
    others = scores.scatter(-1, own_index, float('-inf'))
    return own - others.max(-1).values


def rank_by_margin(scores: Tensor, prop_inds: Tensor, keep: int) -> List[List[int]]:
    """Refer-back as ranking: for each of M instances, the indices of the ``keep`` of its K
    expressions with the largest :func:`refer_back_margins`, largest first (ties: the
    earlier beam first)."""
    margins = refer_back_margins(scores, prop_inds)
    if not 1 <= keep <= margins.size(1):
        raise ValueError(f'keep must be in [1, {margins.size(1)}], got {keep}')
    # a stable sort: among equal margins the better beam (lower index) stays first
    order = torch.sort(margins, dim=1, descending=True, stable=True).indices
    return order[:, :keep].tolist()
