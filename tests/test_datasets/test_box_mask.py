"""BoxToMask: box-shaped training masks of the paper's Table 1 "Box" rows."""
import numpy as np
import pycocotools.mask as mask_utils
import pytest
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.structures.mask import BitmapMasks, PolygonMasks

from mmrefmutual.datasets import BoxToMask, RefCocoDataset
from mmrefmutual.registry import TRANSFORMS


def filled(box, height, width):
    out = np.zeros((height, width), dtype=np.uint8)
    x1, y1, x2, y2 = box
    out[y1:y2, x1:x2] = 1
    return out


def test_bitmap_masks_become_filled_boxes():
    height, width = 20, 30
    ring = np.zeros((2, height, width), dtype=np.uint8)
    ring[0, 2:10, 3:12] = 1
    ring[0, 4:8, 5:10] = 0  # a hole: the box fills it
    ring[1, 15:20, 25:30] = 1
    results = dict(gt_bboxes=HorizontalBoxes(np.array([[3, 2, 12, 10], [24.6, 14.2, 31, 21]],
                                                      dtype=np.float32)),
                   gt_masks=BitmapMasks(ring, height, width), img_shape=(height, width))
    out = TRANSFORMS.build(dict(type='BoxToMask'))(results)
    masks = out['gt_masks']
    assert isinstance(masks, BitmapMasks) and masks.masks.shape == (2, height, width)
    np.testing.assert_array_equal(masks.masks[0], filled((3, 2, 12, 10), height, width))
    # fractional corners: floor / ceil, clipped to the image
    np.testing.assert_array_equal(masks.masks[1], filled((24, 14, 30, 20), height, width))


def test_polygon_masks_stay_polygons():
    polygons = PolygonMasks([[np.array([2., 2., 8., 2., 5., 9.])]], 12, 12)
    results = dict(gt_bboxes=np.array([[2., 2., 8., 9.]], dtype=np.float32), gt_masks=polygons)
    masks = BoxToMask()(results)['gt_masks']
    assert isinstance(masks, PolygonMasks)
    np.testing.assert_array_equal(masks.to_ndarray()[0], filled((2, 2, 8, 9), 12, 12))


def test_without_masks_and_empty():
    out = BoxToMask()(dict(gt_bboxes=np.array([[1., 1., 3., 2.]]), img_shape=(4, 5)))
    np.testing.assert_array_equal(out['gt_masks'].masks[0], filled((1, 1, 3, 2), 4, 5))
    out = BoxToMask()(dict(gt_bboxes=np.zeros((0, 4)),
                           gt_masks=BitmapMasks(np.zeros((0, 4, 5), np.uint8), 4, 5)))
    assert out['gt_masks'].masks.shape == (0, 4, 5)
    with pytest.raises(KeyError, match='LoadAnnotations'):
        BoxToMask()(dict(img_shape=(4, 5)))


def test_box_training_samples_keep_the_true_evaluation_mask(refer_data, mmrefmutual_scope):
    """In a real pipeline the instances are boxes; the referred object's RLE is its mask."""
    pipeline = [
        dict(type='LoadRefImage'),
        dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
        dict(type='BoxToMask'),
        dict(type='PackRefInputs'),
    ]
    dataset = RefCocoDataset(data_root=refer_data.data_root, ann_file='instances.json',
                             split_file='refcoco/refs(unc).p', split='val', mode='test',
                             data_prefix=dict(img_path='images'), pipeline=pipeline,
                             test_mode=True)
    sample = next(dataset[i]['data_samples'] for i in range(len(dataset))
                  if dataset[i]['data_samples'].img_id == 1)
    masks = sample.gt_instances.masks.masks
    boxes = sample.gt_instances.bboxes.tensor.numpy()
    for mask, box in zip(masks, boxes):
        np.testing.assert_array_equal(mask, filled(np.round(box).astype(int), 30, 40))
    # ref 11 is the dog (annotation 103): two 6 x 8 rectangles with a 2-px gap. It trains
    # on the 14 x 8 box, and is evaluated on its true mask
    dog = sample.gt_refs.inst_inds.tolist().index(2)
    assert masks[2].sum() == 14 * 8
    rle = sample.gt_refs.rles[dog]
    true = mask_utils.decode(dict(size=rle['size'], counts=rle['counts'].encode('ascii')))
    expected = np.zeros((30, 40), dtype=np.uint8)
    expected[mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(
        refer_data.coco['annotations'][2]['segmentation'], 30, 40))) > 0] = 1
    np.testing.assert_array_equal(true, expected)
    assert true.sum() < masks[2].sum()
