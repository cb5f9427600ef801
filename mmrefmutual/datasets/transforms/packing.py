"""Packing of referring samples into :class:`DetDataSample` (``docs/data_flow.md``)."""
from typing import List, Sequence, Union

import numpy as np
import pycocotools.mask as mask_utils
import torch
from mmdet.datasets.transforms import PackDetInputs
from mmengine.structures import InstanceData

from mmrefmutual.registry import TRANSFORMS


def ann_to_rle(mask: Union[list, dict], height: int, width: int) -> dict:
    """Compressed RLE of a COCO segmentation at the image size.

    Args:
        mask (list | dict): Polygons (``[[x1, y1, x2, y2, ...], ...]``), an
            uncompressed RLE (``counts`` a list) or a compressed RLE.
        height (int): Image height the annotation refers to.
        width (int): Image width.

    Returns:
        dict: ``dict(size=[height, width], counts=str)``; polygons with fewer
        than three points (which mmdet also ignores) give an empty mask.
    """
    if isinstance(mask, list):
        polygons = [p for p in mask if len(p) >= 6 and len(p) % 2 == 0]
        if polygons:
            rle = mask_utils.merge(mask_utils.frPyObjects(polygons, height, width))
        else:
            rle = mask_utils.encode(np.zeros((height, width), dtype=np.uint8, order='F'))
    elif isinstance(mask['counts'], list):
        rle = mask_utils.frPyObjects(mask, height, width)
    else:
        rle = mask
    counts = rle['counts']
    if isinstance(counts, bytes):
        counts = counts.decode('ascii')
    return dict(size=[int(s) for s in rle['size']], counts=counts)


@TRANSFORMS.register_module()
class PackRefInputs(PackDetInputs):
    """:class:`PackDetInputs` plus the referring annotations.

    Besides ``inputs`` and ``gt_instances`` (all instances, packed by mmdet),
    the data sample gets:

    - ``gt_refs`` (one row per ref): ``inst_inds`` (row of the referred object
      in ``gt_instances``), ``ref_ids``, ``ann_ids``, ``weights``, ``generated``
      (a pseudo ref written by the generation head),
      ``sentences`` (all normalised sentences, plus ``extra_sentences``: the
      REG references), ``rles`` (RLE of the referred mask at the original
      image size, computed from the raw annotation so that evaluation does not
      depend on resizing) and ``ori_bboxes`` (xyxy, original size);
    - ``gt_sents`` (one row per expression to ground and, in training, to
      teacher-force): ``ref_inds`` (row in ``gt_refs``), ``sent_ids`` and ``texts``;
      a ref's ``selected_sentences`` (:class:`RandomSelectExpression`) or else all its
      ``sentences``.

    Pipelines must keep ``instances`` in order: ``inst_idx`` of a ref indexes
    the data_info's ``instances``, and it is mapped here onto the rows of
    ``gt_instances``. Transforms that drop instances (``FilterAnnotations``,
    ``RandomCrop``...) would break that link and are detected (the number of
    loaded boxes/masks no longer matches ``instances``). The only drop that is
    followed is mmdet's own: instances flagged in ``gt_ignore_flags`` go to
    ``ignored_instances``, so a ref to such an instance gets ``inst_inds=-1``
    (``rles`` and ``ori_bboxes`` are still exact).

    Args:
        meta_keys (Sequence[str]): As :class:`PackDetInputs`; ``img_id`` is
            always added.
    """

    def __init__(self,
                 meta_keys: Sequence[str] = ('img_id', 'img_path', 'ori_shape', 'img_shape',
                                             'scale_factor', 'flip', 'flip_direction')):
        meta_keys = tuple(meta_keys)
        if 'img_id' not in meta_keys:
            meta_keys += ('img_id',)
        super().__init__(meta_keys=meta_keys)

    @staticmethod
    def _instance_rows(results: dict) -> np.ndarray:
        """Row in ``gt_instances`` of each data_info instance (-1: ignored)."""
        num = len(results['instances'])
        for key in ('gt_bboxes', 'gt_bboxes_labels', 'gt_masks', 'gt_ignore_flags'):
            if key in results and len(results[key]) != num:
                raise ValueError(
                    f'{key} has {len(results[key])} entries but the sample has {num} '
                    'instances: a transform dropped or added instances, which breaks '
                    'inst_idx of the refs (see PackRefInputs).')
        rows = np.arange(num)
        if 'gt_ignore_flags' in results:
            ignored = np.asarray(results['gt_ignore_flags'], dtype=bool)
            rows = np.cumsum(~ignored) - 1
            rows[ignored] = -1
        return rows

    def transform(self, results: dict) -> dict:
        """Pack image, instances, refs and sentences.

        Args:
            results (dict): Result dict of the pipeline, holding the data_info
                keys ``instances``, ``refs``, ``height`` and ``width``.

        Returns:
            dict: ``inputs`` and ``data_samples`` (a :class:`DetDataSample`
            with ``gt_instances``, ``gt_refs`` and ``gt_sents``).
        """
        packed = super().transform(results)
        instances, refs = results['instances'], results['refs']
        height = results.get('height', results.get('ori_shape', (None, None))[0])
        width = results.get('width', results.get('ori_shape', (None, None))[1])
        rows = self._instance_rows(results)

        rles: List[dict] = []
        sentences: List[List[str]] = []
        ref_inds, sent_ids, texts = [], [], []
        for r, ref in enumerate(refs):
            instance = instances[ref['inst_idx']]
            rles.append(ann_to_rle(instance['mask'], height, width))
            sentences.append([s['sent'] for s in ref['sentences']] +
                             [s['sent'] for s in ref.get('extra_sentences', [])])
            for sentence in ref.get('selected_sentences', ref['sentences']):
                ref_inds.append(r)
                sent_ids.append(sentence['sent_id'])
                texts.append(sentence['sent'])

        gt_refs = InstanceData()
        gt_refs.inst_inds = torch.as_tensor(
            [int(rows[ref['inst_idx']]) for ref in refs], dtype=torch.long)
        gt_refs.ref_ids = torch.as_tensor([ref['ref_id'] for ref in refs], dtype=torch.long)
        gt_refs.ann_ids = torch.as_tensor([ref['ann_id'] for ref in refs], dtype=torch.long)
        gt_refs.weights = torch.as_tensor([ref.get('weight', 1.0) for ref in refs],
                                          dtype=torch.float32)
        gt_refs.generated = torch.as_tensor([bool(ref.get('generated', False)) for ref in refs],
                                            dtype=torch.bool)
        gt_refs.sentences = sentences
        gt_refs.rles = rles
        gt_refs.ori_bboxes = torch.as_tensor(
            [instances[ref['inst_idx']]['bbox'] for ref in refs],
            dtype=torch.float32).reshape(-1, 4)

        gt_sents = InstanceData()
        gt_sents.ref_inds = torch.as_tensor(ref_inds, dtype=torch.long)
        gt_sents.sent_ids = torch.as_tensor(sent_ids, dtype=torch.long)
        gt_sents.texts = texts

        data_sample = packed['data_samples']
        data_sample.gt_refs = gt_refs
        data_sample.gt_sents = gt_sents
        return packed
