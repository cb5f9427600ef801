"""Mask2Former head that also returns its proposals and its ground-truth assignment."""
from typing import Dict, List, Tuple

import torch
import torch.nn.functional as F
from mmdet.models.dense_heads import Mask2FormerHead
from mmdet.models.utils import get_uncertain_point_coords_with_randomness, multi_apply
from mmdet.structures import SampleList
from mmdet.utils import reduce_mean
from mmcv.ops import point_sample
from mmengine.structures import InstanceData
from torch import Tensor

from mmrefmutual.models.utils.boxes import masks_to_boxes
from mmrefmutual.registry import MODELS, TASK_UTILS


def _fp32(*tensors: Tensor) -> Tuple[Tensor, ...]:
    return tuple(t.float() for t in tensors)


@MODELS.register_module()
class ProposalMask2FormerHead(Mask2FormerHead):
    """mmdet's ``Mask2FormerHead`` plus what the referring heads need, as return values.

    * ``forward(x, samples, return_proposals=True)`` also returns the final decoder
      layer's query features after the decoder's post-norm: the object proposals O of
      the paper.
    * :meth:`loss_and_assign`: Mask2Former's losses and, for each image, the proposal
      that the final layer's Hungarian assignment gave to each ground-truth instance,
      so that the referring heads supervise the proposal Mask2Former trains for it.
    * :meth:`assign`: that assignment alone (Mask2Former's assigner, final layer).
    * :meth:`match_targets`: class-agnostic bipartite matching of given masks/boxes to
      proposals (inference: an object given without a category).

    Losses and matching costs are computed in float32 with autocast off (mmdet 2.x's
    ``force_fp32``): mmdet's ``_loss_by_feat_single`` makes ``avg_factor`` a tensor of
    the logits' dtype, and ``num_masks * num_points`` (e.g. 39 x 4,096) overflows
    float16's 65,504 to ``inf``, turning the mask loss into ``inf / inf = NaN``.

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

    def forward(self, x: List[Tensor], batch_data_samples: SampleList,
                return_proposals: bool = False) -> tuple:
        """mmdet's forward; with ``return_proposals`` also the proposals (B, N, C).

        ``_forward_head`` applies the decoder's post-norm to the queries of every layer,
        the final layer last; a forward hook that lives for this call only keeps them.
        """
        if not return_proposals:
            return super().forward(x, batch_data_samples)
        queries = []
        handle = self.transformer_decoder.post_norm.register_forward_hook(
            lambda module, args, out: queries.append(out))
        try:
            cls_list, mask_list = super().forward(x, batch_data_samples)
        finally:
            handle.remove()
        return cls_list, mask_list, queries[-1]

    # ---------------------------------------------------------------- training
    def _gt_instances(self, batch_data_samples: SampleList) -> List[InstanceData]:
        return self.preprocess_gt([s.gt_instances for s in batch_data_samples],
                                  [s.get('gt_sem_seg', None) for s in batch_data_samples])

    def loss_and_assign(self, all_cls_scores: List[Tensor], all_mask_preds: List[Tensor],
                        batch_data_samples: SampleList
                        ) -> Tuple[Dict[str, Tensor], List[Tensor]]:
        """Mask2Former's losses and the final layer's ground-truth assignment.

        Args:
            all_cls_scores (list[Tensor]): Per-layer class logits (B, N, C + 1).
            all_mask_preds (list[Tensor]): Per-layer mask logits (B, N, h, w).
            batch_data_samples (list[DetDataSample]): With ``gt_instances``.

        Returns:
            tuple: the loss dict of ``Mask2FormerHead.loss_by_feat`` (``loss_cls``,
            ``loss_mask``, ``loss_dice`` and ``d{i}.*`` for the other layers) and, per
            image, a Long tensor (num_gts,) with the proposal assigned to each
            ground-truth instance by the final layer (-1: unassigned).
        """
        return self._loss_and_assign(all_cls_scores, all_mask_preds,
                                     self._gt_instances(batch_data_samples),
                                     [s.metainfo for s in batch_data_samples])

    def loss_by_feat(self, all_cls_scores: List[Tensor], all_mask_preds: List[Tensor],
                     batch_gt_instances: List[InstanceData],
                     batch_img_metas: List[dict]) -> Dict[str, Tensor]:
        """mmdet's interface (used by ``Mask2FormerHead.loss``), through the float32
        path of :meth:`loss_and_assign`."""
        return self._loss_and_assign(all_cls_scores, all_mask_preds, batch_gt_instances,
                                     batch_img_metas)[0]

    def _loss_and_assign(self, all_cls_scores, all_mask_preds, batch_gt_instances,
                         batch_img_metas) -> Tuple[Dict[str, Tensor], List[Tensor]]:
        with torch.autocast(all_cls_scores[0].device.type, enabled=False):
            per_layer = [self._loss_single(*_fp32(cls, mask), batch_gt_instances,
                                           batch_img_metas)
                         for cls, mask in zip(all_cls_scores, all_mask_preds)]
        losses = {}  # mmdet's names and order: the final layer, then d0., d1., ...
        for i, (loss_cls, loss_mask, loss_dice, _) in enumerate(per_layer[-1:] + per_layer[:-1]):
            prefix = f'd{i - 1}.' if i else ''
            losses.update({f'{prefix}loss_cls': loss_cls, f'{prefix}loss_mask': loss_mask,
                           f'{prefix}loss_dice': loss_dice})
        return losses, per_layer[-1][3]

    @torch.no_grad()
    def assign(self, cls_scores: Tensor, mask_preds: Tensor,
               batch_data_samples: SampleList) -> List[Tensor]:
        """The assignment of :meth:`loss_and_assign` without the losses.

        Args:
            cls_scores (Tensor): Final-layer class logits (B, N, C + 1).
            mask_preds (Tensor): Final-layer mask logits (B, N, h, w).

        Returns:
            list[Tensor]: Per image, the proposal of each ground-truth instance.
        """
        batch_gt_instances = self._gt_instances(batch_data_samples)
        with torch.autocast(cls_scores.device.type, enabled=False):
            results = multi_apply(self._get_targets_single, *_fp32(cls_scores, mask_preds),
                                  batch_gt_instances, [s.metainfo for s in batch_data_samples])
        return [self._to_gt_order(r, len(g)) for r, g in zip(results[6], batch_gt_instances)]

    def _loss_single(self, cls_scores: Tensor, mask_preds: Tensor,
                     batch_gt_instances: List[InstanceData], batch_img_metas: List[dict]
                     ) -> Tuple[Tensor, Tensor, Tensor, List[Tensor]]:
        """``Mask2FormerHead._loss_by_feat_single`` that also returns its assignment.

        mmdet's method returns the three losses only and drops the sampling results
        it computes (``get_targets(..., return_sampling_results=True)`` fails in mmdet
        3.3: it adds a list to a tuple), so the steps are spelt out here, unchanged.
        """
        (labels, label_weights, mask_targets, mask_weights, _, _,
         sampling_results) = multi_apply(self._get_targets_single, list(cls_scores),
                                         list(mask_preds), batch_gt_instances, batch_img_metas)
        assignment = [self._to_gt_order(r, len(g))
                      for r, g in zip(sampling_results, batch_gt_instances)]
        avg_factor = sum(r.avg_factor for r in sampling_results)
        labels = torch.stack(labels).flatten(0, 1)
        label_weights = torch.stack(label_weights).flatten(0, 1)
        mask_targets = torch.cat(mask_targets)
        mask_weights = torch.stack(mask_weights)

        cls_scores = cls_scores.flatten(0, 1)
        class_weight = cls_scores.new_tensor(self.class_weight)
        loss_cls = self.loss_cls(cls_scores, labels, label_weights,
                                 avg_factor=class_weight[labels].sum())
        num_total_masks = max(reduce_mean(cls_scores.new_tensor([avg_factor])), 1)
        mask_preds = mask_preds[mask_weights > 0]
        if mask_targets.shape[0] == 0:  # zero match
            return loss_cls, mask_preds.sum(), mask_preds.sum(), assignment
        with torch.no_grad():
            points_coords = get_uncertain_point_coords_with_randomness(
                mask_preds.unsqueeze(1), None, self.num_points, self.oversample_ratio,
                self.importance_sample_ratio)
            mask_point_targets = point_sample(mask_targets.unsqueeze(1).float(),
                                              points_coords).squeeze(1)
        mask_point_preds = point_sample(mask_preds.unsqueeze(1), points_coords).squeeze(1)
        loss_dice = self.loss_dice(mask_point_preds, mask_point_targets,
                                   avg_factor=num_total_masks)
        loss_mask = self.loss_mask(mask_point_preds.reshape(-1), mask_point_targets.reshape(-1),
                                   avg_factor=num_total_masks * self.num_points)
        return loss_cls, loss_mask, loss_dice, assignment

    @staticmethod
    def _to_gt_order(sampling_result, num_gts: int) -> Tensor:
        """Proposal index of each ground-truth instance (-1 if unmatched)."""
        out = torch.full((num_gts, ), -1, dtype=torch.long,
                         device=sampling_result.pos_inds.device)
        out[sampling_result.pos_assigned_gt_inds] = sampling_result.pos_inds
        return out

    # ---------------------------------------------------------------- inference
    @torch.no_grad()
    def match_targets(self, cls_score: Tensor, mask_pred: Tensor, gt_instances: InstanceData,
                      img_meta: dict, by: str = 'mask') -> Tensor:
        """Map given objects to proposals by class-agnostic bipartite matching.

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
        if by not in ('mask', 'box'):
            raise ValueError(f"`by` must be 'mask' or 'box', got {by!r}")
        num_gts = len(gt_instances)
        if num_gts == 0:
            return mask_pred.new_zeros((0, ), dtype=torch.long)
        with torch.autocast(mask_pred.device.type, enabled=False):
            cls_score, mask_pred = _fp32(cls_score, mask_pred)
            if by == 'mask':
                gt_masks = gt_instances.masks.to_tensor(torch.float32, mask_pred.device)
                gt_masks = F.interpolate(gt_masks[None], mask_pred.shape[-2:],
                                         mode='bilinear', align_corners=False)[0]
                pred = InstanceData(scores=cls_score, masks=mask_pred)
                gt = InstanceData(labels=gt_instances.labels, masks=(gt_masks > 0.5).float())
                result = self.target_matcher.assign(pred, gt, img_meta=img_meta)
            else:
                h, w = mask_pred.shape[-2:]
                pad_h, pad_w = img_meta['batch_input_shape']
                boxes = masks_to_boxes(mask_pred > 0) * mask_pred.new_tensor(
                    [pad_w / w, pad_h / h, pad_w / w, pad_h / h])
                gt_boxes = gt_instances.bboxes
                gt_boxes = gt_boxes.tensor if hasattr(gt_boxes, 'tensor') else gt_boxes
                pred = InstanceData(scores=cls_score, bboxes=boxes)
                gt = InstanceData(labels=gt_instances.labels, bboxes=gt_boxes.float())
                result = self.box_matcher.assign(pred, gt, img_meta=img_meta)
        out = torch.full((num_gts, ), -1, dtype=torch.long, device=mask_pred.device)
        assigned = result.gt_inds > 0
        out[result.gt_inds[assigned] - 1] = assigned.nonzero()[:, 0]
        return out
