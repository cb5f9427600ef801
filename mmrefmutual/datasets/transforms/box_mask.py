"""Box-shaped instance masks: the paper's Table 1 "Box" rows."""
from typing import List

import numpy as np
from mmcv.transforms import BaseTransform
from mmdet.structures.mask import BitmapMasks, PolygonMasks

from mmrefmutual.registry import TRANSFORMS


@TRANSFORMS.register_module()
class BoxToMask(BaseTransform):
    """Replace every instance mask by its filled bounding box.

    The paper's "Box" results (Table 1) train Mask2Former on "the region inside
    the bounding box as a mask", a fair comparison with REG methods that are given
    boxes. Put this right after ``LoadAnnotations``: every later transform (resize,
    padding) then treats the box masks as it would the true ones.

    Only ``gt_masks`` changes. ``PackRefInputs`` computes the referred object's
    evaluation mask (``gt_refs.rles``) from the raw annotation in ``instances``,
    so RES is still scored against the true mask.

    Pixel ``(row, col)`` is inside the box ``(x1, y1, x2, y2)`` when
    ``floor(x1) <= col < ceil(x2)`` and ``floor(y1) <= row < ceil(y2)`` (clipped to
    the image): a COCO box ``[x, y, w, h]`` of a mask covers exactly the mask's
    columns ``x .. x + w - 1`` and rows ``y .. y + h - 1``.

    Required Keys:

    - gt_bboxes (``HorizontalBoxes`` or (N, 4) array, xyxy)
    - gt_masks (``BitmapMasks`` or ``PolygonMasks``), optional: without it the
      masks are created at ``img_shape``

    Modified Keys:

    - gt_masks: the same type and size, one filled box per instance
    """

    def transform(self, results: dict) -> dict:
        """Replace ``gt_masks`` by the filled ``gt_bboxes``.

        Args:
            results (dict): Result dict after ``LoadAnnotations(with_bbox=True)``.

        Returns:
            dict: ``results`` with box-shaped ``gt_masks``.
        """
        if 'gt_bboxes' not in results:
            raise KeyError('BoxToMask needs gt_bboxes: put it after '
                           'LoadAnnotations(with_bbox=True)')
        boxes = results['gt_bboxes']
        boxes = boxes.numpy() if hasattr(boxes, 'numpy') else np.asarray(boxes)
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        masks = results.get('gt_masks')
        if masks is not None:
            height, width = masks.height, masks.width
            if len(masks) != len(boxes):
                raise ValueError(f'{len(masks)} masks but {len(boxes)} boxes')
        else:
            height, width = results['img_shape'][:2]
        if isinstance(masks, PolygonMasks):
            results['gt_masks'] = PolygonMasks(
                [self._box_polygon(box, height, width) for box in boxes], height, width)
        else:
            bitmaps = np.zeros((len(boxes), height, width), dtype=np.uint8)
            for i, box in enumerate(boxes):
                x1, y1, x2, y2 = self._pixel_range(box, height, width)
                bitmaps[i, y1:y2, x1:x2] = 1
            results['gt_masks'] = BitmapMasks(bitmaps, height, width)
        return results

    @staticmethod
    def _pixel_range(box: np.ndarray, height: int, width: int) -> List[int]:
        """First and one-past-last column/row of the box, clipped to the image."""
        x1, y1 = np.floor(box[:2]).astype(int)
        x2, y2 = np.ceil(box[2:]).astype(int)
        return [int(np.clip(x1, 0, width)), int(np.clip(y1, 0, height)),
                int(np.clip(x2, 0, width)), int(np.clip(y2, 0, height))]

    @classmethod
    def _box_polygon(cls, box: np.ndarray, height: int, width: int) -> List[np.ndarray]:
        """The box as one rectangle polygon (the pixel range's outline)."""
        x1, y1, x2, y2 = cls._pixel_range(box, height, width)
        return [np.array([x1, y1, x2, y1, x2, y2, x1, y2], dtype=np.float64)]

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}()'
