"""Mask2Former head that also exposes its proposals."""
from typing import Tuple

import torch
import torch.nn.functional as F
from mmdet.models.dense_heads import Mask2FormerHead
from mmdet.structures.mask import mask2bbox
from mmengine.structures import InstanceData
from torch import Tensor

from mmrefmutual.registry import MODELS, TASK_UTILS


@MODELS.register_module()
class ProposalMask2FormerHead(Mask2FormerHead):
    """mmdet's ``Mask2FormerHead`` plus what the referring heads need.

    * ``query_feats``: the final decoder layer's query features after the
      decoder's post-norm, i.e. the object proposals O of the paper.
      ``Mask2FormerHead`` computes them inside ``_forward_head`` without returning
      them; its last call in ``forward`` is the final layer, so we keep that one.
    * ``final_assignments``: the Hungarian assignment of the final layer during
      ``loss_by_feat``, so that the referring heads supervise the same proposal
      that Mask2Former matched to the referred object.
    * :meth:`match_targets`: bipartite matching of given masks/boxes to proposals
      (inference, and training without Mask2Former's loss).

    Args:
        target_matcher (dict): Assigner used by :meth:`match_targets` for masks.
        box_matcher (dict): Assigner used by :meth:`match_targets` for boxes.
            Both weigh the proposal's foreground probability as Mask2Former's
            assigner weighs its class probability.
        **kwargs: ``Mask2FormerHead`` arguments.
    """

    # Mask2Former's own assignment costs (class 2, mask BCE 5, Dice 5) with the class
    # term made class-agnostic (``ForegroundCost``), so that a given object maps to the
    # proposal that Mask2Former would have assigned to it in training.
    def __init__(self, *args,
                 target_matcher: dict = dict(
                     type='HungarianAssigner',
                     match_costs=[
                         dict(type='ForegroundCost', weight=2.0),
                         dict(type='CrossEntropyLossCost', weight=5.0, use_sigmoid=True),
                         dict(type='DiceCost', weight=5.0, pred_act=True, eps=1.0)
                     ]),
                 box_matcher: dict = dict(
                     type='HungarianAssigner',
                     match_costs=[
                         dict(type='ForegroundCost', weight=2.0),
                         dict(type='IoUCost', iou_mode='iou', weight=5.0)
                     ]),
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.target_matcher = TASK_UTILS.build(target_matcher)
        self.box_matcher = TASK_UTILS.build(box_matcher)
        self.query_feats = None
        self.final_assignments = None

    def _forward_head(self, decoder_out: Tensor, mask_feature: Tensor,
                      attn_mask_target_size: Tuple[int, int]) -> Tuple[Tensor]:
        self.query_feats = self.transformer_decoder.post_norm(decoder_out)
        return super()._forward_head(decoder_out, mask_feature, attn_mask_target_size)

    def _get_targets_single(self, cls_score, mask_pred, gt_instances, img_meta):
        targets = super()._get_targets_single(cls_score, mask_pred, gt_instances, img_meta)
        self._assignments.append(targets[-1])  # the SamplingResult
        return targets

    def loss_by_feat(self, all_cls_scores, all_mask_preds, batch_gt_instances,
                     batch_img_metas) -> dict:
        self._assignments = []
        losses = super().loss_by_feat(all_cls_scores, all_mask_preds, batch_gt_instances,
                                      batch_img_metas)
        # layers are processed in order, each over the batch: the last B are the final layer
        results = self._assignments[-len(batch_img_metas):]
        self.final_assignments = [self._to_gt_order(r, len(g))
                                  for r, g in zip(results, batch_gt_instances)]
        del self._assignments
        return losses

    @staticmethod
    def _to_gt_order(sampling_result, num_gts: int) -> Tensor:
        """Proposal index of each ground-truth instance (-1 if unmatched)."""
        out = torch.full((num_gts, ), -1, dtype=torch.long,
                         device=sampling_result.pos_inds.device)
        out[sampling_result.pos_assigned_gt_inds] = sampling_result.pos_inds
        return out

    @torch.no_grad()
    def match_targets(self, cls_score: Tensor, mask_pred: Tensor, gt_instances: InstanceData,
                      img_meta: dict, by: str = 'mask') -> Tensor:
        """Map ground-truth objects to proposals by bipartite matching.

        Args:
            cls_score (Tensor): (N, num_classes + 1) final-layer class logits.
            mask_pred (Tensor): (N, h, w) final-layer mask logits (1/4 of the padded
                input).
            gt_instances (InstanceData): ``masks`` (at the padded input size, as the
                data preprocessor leaves them), ``bboxes``, ``labels``.
            by (str): 'mask' (foreground, mask BCE and Dice costs) or 'box'
                (foreground cost and IoU of the proposal's box with the given box).

        Returns:
            Tensor: (num_gts,) proposal index of each object.
        """
        num_gts = len(gt_instances)
        if num_gts == 0:
            return mask_pred.new_zeros((0, ), dtype=torch.long)
        if by == 'mask':
            gt_masks = gt_instances.masks.to_tensor(torch.float32, mask_pred.device)
            gt_masks = F.interpolate(gt_masks[None], mask_pred.shape[-2:], mode='bilinear',
                                     align_corners=False)[0]
            pred = InstanceData(scores=cls_score, masks=mask_pred)
            gt = InstanceData(labels=gt_instances.labels, masks=(gt_masks > 0.5).float())
            result = self.target_matcher.assign(pred, gt, img_meta=img_meta)
        elif by == 'box':
            h, w = mask_pred.shape[-2:]
            pad_h, pad_w = img_meta['batch_input_shape']
            boxes = mask2bbox(mask_pred > 0) * mask_pred.new_tensor(
                [pad_w / w, pad_h / h, pad_w / w, pad_h / h])
            gt_boxes = gt_instances.bboxes
            gt_boxes = gt_boxes.tensor if hasattr(gt_boxes, 'tensor') else gt_boxes
            pred = InstanceData(scores=cls_score, bboxes=boxes)
            gt = InstanceData(labels=gt_instances.labels, bboxes=gt_boxes)
            result = self.box_matcher.assign(pred, gt, img_meta=img_meta)
        else:
            raise ValueError(f"`by` must be 'mask' or 'box', got {by!r}")
        out = torch.full((num_gts, ), -1, dtype=torch.long, device=mask_pred.device)
        assigned = result.gt_inds > 0
        out[result.gt_inds[assigned] - 1] = assigned.nonzero()[:, 0]
        return out
