"""Referring targets of a batch as typed :class:`InstanceData` rows."""
from typing import List, Optional, Sequence

import torch
from mmdet.structures import SampleList
from mmengine.structures import InstanceData
from torch import Tensor, nn


def _cat(tensors: List[Tensor], dtype: torch.dtype) -> Tensor:
    return torch.cat(tensors) if tensors else torch.zeros(0, dtype=dtype)


def gather_ref_targets(batch_data_samples: SampleList, gt_to_prop: Optional[List[Tensor]],
                       level: str, keep_unassigned: bool = False) -> InstanceData:
    """Flatten the referring targets of a batch into one row per expression or per ref.

    Args:
        batch_data_samples (list[DetDataSample]): Samples with ``gt_refs`` and
            ``gt_sents`` (see ``docs/data_flow.md``).
        gt_to_prop (list[Tensor], optional): Per image, the proposal of each row of
            ``gt_instances`` (-1: none). None for grounding only (RES inference, where
            the referent is not needed): ``prop_inds`` are then 0.
        level (str): ``'sents'``: one row per expression (``texts``); ``'refs'``: one
            row per referred object (``references``: all its sentences).
        keep_unassigned (bool): Keep rows whose referent has no proposal (more objects
            than queries, or an instance the pipeline ignored) with ``prop_inds`` -1.
            Losses drop them (nothing to supervise); predictions keep them so that every
            ref gets an output.

    Returns:
        InstanceData: ``img_inds`` (Long), ``ref_inds`` (Long: the row of the ref in its
        sample's ``gt_refs``), ``prop_inds`` (Long), ``weights`` (Float: the
        ref's loss weight, e.g. 0.1 for generated refs), ``generated`` (Bool: a pseudo
        ref written by the generation head) and ``texts`` (list[str]) or ``references``
        (list[list[str]]), on the CPU.
    """
    if level not in ('sents', 'refs'):
        raise ValueError(f"level must be 'sents' or 'refs', got {level!r}")
    img_inds, ref_rows, prop_inds, weights, generated, texts = [], [], [], [], [], []
    for i, sample in enumerate(batch_data_samples):
        if 'gt_refs' not in sample:
            continue
        refs = sample.gt_refs
        if level == 'sents':
            if 'gt_sents' not in sample or len(sample.gt_sents) == 0:
                continue
            ref_inds = sample.gt_sents.ref_inds.cpu()
            texts += list(sample.gt_sents.texts)
        else:
            if len(refs) == 0:
                continue
            ref_inds = torch.arange(len(refs))
            texts += [list(refs.sentences[j]) if 'sentences' in refs else []
                      for j in ref_inds.tolist()]
        if gt_to_prop is None:
            prop = torch.zeros_like(ref_inds)
        else:  # inst_inds is -1 for a referent that the pipeline ignored
            inst = refs.inst_inds.cpu()[ref_inds]
            prop = gt_to_prop[i].cpu()[inst.clamp(min=0)]
            prop[inst < 0] = -1
        img_inds.append(torch.full_like(ref_inds, i))
        ref_rows.append(ref_inds)
        prop_inds.append(prop)
        weights.append(refs.weights.cpu()[ref_inds].float())
        flags = refs.generated.cpu() if 'generated' in refs else torch.zeros(len(refs), dtype=bool)
        generated.append(flags[ref_inds])
    rows = InstanceData(img_inds=_cat(img_inds, torch.long), ref_inds=_cat(ref_rows, torch.long),
                        prop_inds=_cat(prop_inds, torch.long),
                        weights=_cat(weights, torch.float), generated=_cat(generated, torch.bool))
    rows['texts' if level == 'sents' else 'references'] = texts
    if not keep_unassigned and len(rows) and bool((rows.prop_inds < 0).any()):
        rows = rows[rows.prop_inds >= 0]
    return rows


def zero_loss(*modules: Optional[nn.Module], anchor: Optional[Tensor] = None) -> Tensor:
    """A zero that depends on every parameter of ``modules`` (and on ``anchor``).

    A head without targets in a batch must still take part in the backward pass, or
    DDP waits for gradients that never come (``find_unused_parameters=False``).
    """
    params: Sequence[Tensor] = [p for m in modules if m is not None for p in m.parameters()
                                if p.requires_grad]
    zero = sum((p.sum() * 0 for p in params), torch.zeros(()))
    if anchor is not None:
        zero = zero + anchor.sum() * 0
    return zero
