"""masks_to_boxes: mmdet's mask2bbox without its per-mask loop."""
import pytest
import torch
from mmdet.structures.mask import mask2bbox

from mmrefmutual.models.utils import masks_to_boxes


@pytest.mark.parametrize('shape', [(0, 5, 7), (1, 1, 1), (6, 9, 13), (30, 40, 31)])
def test_same_boxes_as_mmdet(shape):
    g = torch.Generator().manual_seed(sum(shape))
    masks = torch.rand(shape, generator=g) > 0.97
    if shape[0] > 2:
        masks[1] = False  # empty: zeros
        masks[2] = False
        masks[2, 3:5, 2:9] = True  # a rectangle: [2, 3, 9, 5]
    boxes = masks_to_boxes(masks)
    assert boxes.dtype == torch.float32 and boxes.shape == (shape[0], 4)
    assert torch.equal(boxes, mask2bbox(masks))
    if shape[0] > 2:
        assert boxes[1].tolist() == [0, 0, 0, 0] and boxes[2].tolist() == [2, 3, 9, 5]
    assert torch.equal(masks_to_boxes(masks.float()), boxes)  # 0/1 masks too
