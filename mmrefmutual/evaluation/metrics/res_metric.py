"""Referring expression segmentation (RES) and comprehension (REC) metric."""
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import pycocotools.mask as mask_util
import torch
import torch.nn.functional as F
from mmdet.structures.bbox import bbox_overlaps
from mmengine.evaluator import BaseMetric
from mmengine.fileio import dump
from mmengine.logging import MMLogger
from mmengine.utils import mkdir_or_exist

from mmrefmutual.registry import METRICS
from .utils import get_field, to_numpy


@METRICS.register_module()
class RESMetric(BaseMetric):
    """Per-expression segmentation (RES) and box grounding (REC) accuracy.

    Every row of ``gt_sents`` is one expression to ground. Its prediction is
    ``pred_sents.masks[i]`` (bool, original image size) and ``pred_sents.bboxes[i]``; its
    ground truth is the referred object ``gt_refs.rles[gt_sents.ref_inds[i]]`` /
    ``gt_refs.ori_bboxes[...]`` (see ``docs/data_flow.md``).

    Reported metrics (all in percent, as in the paper's tables and mmdet's ``RefSegMetric``):

    - ``mIoU``: mean over expressions of the mask IoU.
    - ``oIoU``: overall IoU, sum of intersections / sum of unions over the split (called
      ``cIoU`` by mmdet's ``RefSegMetric``).
    - ``Pr@X``: share of expressions with mask IoU ``>= X`` for each ``X`` in ``iou_thrs``.
    - ``REC@0.5``: share of expressions whose predicted box has IoU ``>= rec_iou_thr`` with
      the ground-truth box. The paper takes the bounding box of the predicted mask as the
      REC prediction; ``RefMutual.predict`` fills ``pred_sents.bboxes`` that way, so this
      metric just reads the boxes.

    Thresholds are inclusive (``>=``) like LAVT's ``Pr@X`` and MAttNet/refer's REC accuracy.

    Conventions:

    - An empty predicted mask has IoU 0 (its union is the ground-truth area).
    - If a predicted mask does not have the ground-truth size (e.g. it was left at the
      padded/resized input size), it is resized to the ground-truth size with *nearest*
      interpolation before comparison, so it stays binary. The model is expected to
      return masks at the original size; the resize is a safety net, not a feature.
    - An expression whose ground-truth mask and prediction are both empty (union 0) gets
      IoU 0, like mmdet's ``RefSegMetric`` (``nan_to_num``).

    ``process`` keeps only a few numbers per expression (intersection, union, box IoU and
    ids) and appends exactly **one** entry per data sample: mmengine's ``collect_results``
    truncates the gathered list to the dataset size (number of samples), so per-expression
    entries would be cut off in distributed evaluation.

    Args:
        iou_thrs (Sequence[float]): Mask-IoU thresholds of ``Pr@X``.
            Defaults to (0.5, 0.7, 0.9).
        rec_iou_thr (float): Box-IoU threshold of the REC accuracy. Defaults to 0.5.
        outfile_prefix (str, optional): If given, the predictions are dumped to
            ``{outfile_prefix}.res_masks.json`` as a list of
            ``dict(sent_id, ref_id, image_id, segmentation (RLE), bbox (xyxy), iou)``.
            Only then is the RLE of each predicted mask kept in ``self.results``.
        collect_device (str): Device used to collect results across ranks,
            ``'cpu'`` or ``'gpu'``. Defaults to ``'cpu'``.
        prefix (str, optional): Prefix of the metric names. Defaults to ``'res'``.
        collect_dir (str, optional): Directory shared by all ranks used to collect results
            when ``collect_device='cpu'``. Defaults to None (a temporary directory).
    """

    default_prefix: Optional[str] = 'res'

    def __init__(self,
                 iou_thrs: Sequence[float] = (0.5, 0.7, 0.9),
                 rec_iou_thr: float = 0.5,
                 outfile_prefix: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(
            collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        self.iou_thrs = tuple(float(t) for t in iou_thrs)
        self.rec_iou_thr = float(rec_iou_thr)
        self.outfile_prefix = outfile_prefix

    @staticmethod
    def _decode_gt_masks(rles: Sequence[dict], device: torch.device) -> torch.Tensor:
        """Decode the referred masks of one image.

        Args:
            rles (Sequence[dict]): pycocotools RLEs (``counts`` as str or bytes).
            device (torch.device): Device of the returned tensor.

        Returns:
            Tensor: Bool tensor (R, H, W).
        """
        masks = mask_util.decode(list(rles))  # (H, W, R), Fortran order
        masks = np.ascontiguousarray(masks.transpose(2, 0, 1)).astype(bool)
        return torch.from_numpy(masks).to(device)

    def _empty_result(self, data_sample: Any) -> dict:
        """Result entry of a sample without expressions."""
        result = dict(
            img_id=int(get_field(data_sample, 'img_id', -1)),
            sent_ids=np.zeros(0, np.int64),
            ref_ids=np.zeros(0, np.int64),
            inter=np.zeros(0, np.int64),
            union=np.zeros(0, np.int64),
            box_ious=np.zeros(0, np.float64))
        if self.outfile_prefix is not None:
            result.update(rles=[], bboxes=np.zeros((0, 4)))
        return result

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Compute intersection / union / box IoU of every expression of the batch.

        Args:
            data_batch (Any): A batch of data from the dataloader (unused).
            data_samples (Sequence[dict]): Data samples (as dicts) holding ``gt_refs``,
                ``gt_sents`` and ``pred_sents``.
        """
        for data_sample in data_samples:
            gt_refs = get_field(data_sample, 'gt_refs')
            gt_sents = get_field(data_sample, 'gt_sents')
            pred_sents = get_field(data_sample, 'pred_sents')
            ref_inds = torch.as_tensor(get_field(gt_sents, 'ref_inds')).long().cpu()
            ref_inds = ref_inds.reshape(-1)
            num_sents = len(ref_inds)
            if num_sents == 0:
                # Still one entry per sample, to keep collect_results' size truncation right.
                self.results.append(self._empty_result(data_sample))
                continue

            pred_masks = torch.as_tensor(get_field(pred_sents, 'masks'))
            assert len(pred_masks) == num_sents, (
                f'{len(pred_masks)} predicted masks for {num_sents} expressions')
            device = pred_masks.device
            gt_masks = self._decode_gt_masks(get_field(gt_refs, 'rles'), device)
            gt_masks = gt_masks[ref_inds.to(device)]  # (S, H, W), one per expression
            pred_masks = pred_masks.bool()
            if pred_masks.shape[-2:] != gt_masks.shape[-2:]:
                # Nearest keeps the mask binary; see the class docstring.
                pred_masks = F.interpolate(
                    pred_masks[:, None].float(), size=gt_masks.shape[-2:],
                    mode='nearest')[:, 0].bool()
            inter = (pred_masks & gt_masks).flatten(1).sum(1)
            union = (pred_masks | gt_masks).flatten(1).sum(1)

            pred_bboxes = torch.as_tensor(get_field(pred_sents, 'bboxes')).float().cpu()
            gt_bboxes = torch.as_tensor(
                get_field(gt_refs, 'ori_bboxes')).float().cpu().reshape(-1, 4)[ref_inds]
            box_ious = bbox_overlaps(
                pred_bboxes.reshape(-1, 4), gt_bboxes, mode='iou', is_aligned=True)

            ref_ids = to_numpy(get_field(gt_refs, 'ref_ids'), np.int64)
            result = dict(
                img_id=int(get_field(data_sample, 'img_id', -1)),
                sent_ids=to_numpy(get_field(gt_sents, 'sent_ids'), np.int64).reshape(-1),
                ref_ids=ref_ids.reshape(-1)[ref_inds.numpy()],
                inter=to_numpy(inter, np.int64),
                union=to_numpy(union, np.int64),
                box_ious=to_numpy(box_ious, np.float64))
            if self.outfile_prefix is not None:
                # RLE strings are small; the dense masks never enter self.results.
                rles = mask_util.encode(
                    np.asfortranarray(pred_masks.cpu().numpy().transpose(1, 2, 0), np.uint8))
                for rle in rles:
                    rle['counts'] = rle['counts'].decode()
                result['rles'] = rles
                result['bboxes'] = to_numpy(pred_bboxes, np.float64).reshape(-1, 4)
            self.results.append(result)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Compute mIoU, oIoU, Pr@X and REC accuracy over the whole split.

        Args:
            results (List[dict]): One entry per data sample, from all ranks.

        Returns:
            Dict[str, float]: Metrics in percent.
        """
        logger = MMLogger.get_current_instance()
        inter = np.concatenate([r['inter'] for r in results]).astype(np.float64)
        union = np.concatenate([r['union'] for r in results]).astype(np.float64)
        box_ious = np.concatenate([r['box_ious'] for r in results])
        ious = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        num_sents = len(ious)
        if self.outfile_prefix is not None:
            self._dump(results, ious)
        if num_sents == 0:
            logger.warning('RESMetric got no expression to evaluate.')
            return {}

        metrics = dict(
            mIoU=float(ious.mean() * 100),
            oIoU=float(inter.sum() / max(union.sum(), 1.0) * 100))
        for thr in self.iou_thrs:
            metrics[f'Pr@{thr:g}'] = float((ious >= thr).mean() * 100)
        metrics[f'REC@{self.rec_iou_thr:g}'] = float(
            (box_ious >= self.rec_iou_thr).mean() * 100)
        logger.info(f'RES evaluated on {num_sents} expressions of {len(results)} samples.')
        return metrics

    def _dump(self, results: List[dict], ious: np.ndarray) -> None:
        """Write the predicted masks as RLE with their ids to JSON.

        Args:
            results (List[dict]): Gathered results (with ``rles``/``bboxes``).
            ious (np.ndarray): Mask IoU of every expression, in the order of ``results``.
        """
        records, k = [], 0
        for res in results:
            for i, sent_id in enumerate(res['sent_ids']):
                records.append(
                    dict(
                        sent_id=int(sent_id),
                        ref_id=int(res['ref_ids'][i]),
                        image_id=res['img_id'],
                        segmentation=res['rles'][i],
                        bbox=[float(v) for v in res['bboxes'][i]],
                        iou=float(ious[k])))
                k += 1
        out_file = f'{self.outfile_prefix}.res_masks.json'
        dirname = osp.dirname(osp.abspath(out_file))
        mkdir_or_exist(dirname)
        dump(records, out_file)
        MMLogger.get_current_instance().info(f'RES predictions dumped to {out_file}')
