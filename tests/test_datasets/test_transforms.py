import numpy as np
import pycocotools.mask as mask_utils
import pytest
import torch
from mmcv.transforms import LoadImageFromFile
from mmdet.datasets.transforms import FilterAnnotations, LoadAnnotations, Resize
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks

from mmrefmutual.datasets import (LoadRefImage, PackRefInputs, RandomSelectExpression,
                                  RefCocoDataset, ann_to_rle)


def pipeline(train=False):
    return [
        dict(type='LoadRefImage'),
        dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
        dict(type='Resize', scale=(64, 64), keep_ratio=True),
        *([dict(type='RandomSelectExpression')] if train else []),
        dict(type='PackRefInputs'),
    ]


def make(refer_data, split='val', mode='test', **kwargs):
    return RefCocoDataset(data_root=refer_data.data_root, ann_file='instances.json',
                          split_file='refcoco/refs(unc).p', split=split, mode=mode,
                          data_prefix=dict(img_path='images'), **kwargs)


def decode(rle):
    return mask_utils.decode(dict(size=rle['size'], counts=rle['counts'].encode('ascii')))


def test_packed_test_sample(refer_data, mmrefmutual_scope):
    dataset = make(refer_data, pipeline=pipeline(), merge_refs_file='refcoco+/refs(unc).p',
                   test_mode=True)
    sample = next(dataset[i] for i in range(len(dataset)) if dataset[i]['data_samples'].img_id == 1)
    inputs, data_sample = sample['inputs'], sample['data_samples']
    assert isinstance(data_sample, DetDataSample)
    # 40x30 image, keep_ratio into 64x64 -> 64x48
    assert inputs.dtype == torch.uint8 and tuple(inputs.shape) == (3, 48, 64)
    assert data_sample.img_id == 1 and data_sample.ori_shape == (30, 40)
    assert data_sample.img_shape == (48, 64)

    gt_instances = data_sample.gt_instances
    assert len(gt_instances) == 4  # all annotations of the image, crowd one included
    assert gt_instances.labels.tolist() == [0, 1, 2, 0]
    assert isinstance(gt_instances.masks, BitmapMasks)
    assert gt_instances.masks.masks.shape == (4, 48, 64)
    assert torch.allclose(gt_instances.bboxes.tensor[0], torch.tensor([2., 2., 12., 16.]) * 1.6)

    gt_refs = data_sample.gt_refs
    assert len(gt_refs) == 2
    assert gt_refs.inst_inds.dtype == torch.long and gt_refs.inst_inds.tolist() == [1, 2]
    assert gt_refs.ref_ids.tolist() == [10, 11] and gt_refs.ann_ids.tolist() == [102, 103]
    assert gt_refs.weights.dtype == torch.float32 and gt_refs.weights.tolist() == [1.0, 1.0]
    # own sentences, then the RefCOCO+ references of the same annotation
    assert gt_refs.sentences == [['car right', 'red car', 'red car on the right', 'cafe car'],
                                 ['dogs at the bottom']]
    assert gt_refs.ori_bboxes.shape == (2, 4)
    assert gt_refs.ori_bboxes.tolist() == [[20., 5., 35., 15.], [2., 18., 16., 26.]]
    for rle in gt_refs.rles:
        assert rle['size'] == [30, 40] and isinstance(rle['counts'], str)
    # RLE annotation: exactly the encoded bitmap
    np.testing.assert_array_equal(decode(gt_refs.rles[0]), refer_data.car_mask)
    # two-part polygon: the union of both parts, as mmdet rasterises it at original size
    dog = decode(gt_refs.rles[1])
    assert dog[20, 4] and dog[20, 12] and not dog[20, 9] and not dog[10, 4]
    ori = LoadAnnotations(with_bbox=True, with_mask=True).transform(
        dict(dataset.get_data_info(0), ori_shape=(30, 40)))['gt_masks'].masks
    np.testing.assert_array_equal(dog, ori[2])

    gt_sents = data_sample.gt_sents
    assert len(gt_sents) == 3  # only the expressions of this dataset are grounded
    assert gt_sents.ref_inds.tolist() == [0, 0, 1]
    assert gt_sents.sent_ids.tolist() == [100, 101, 110]
    assert gt_sents.texts == ['car right', 'red car', 'dogs at the bottom']
    assert gt_sents.ref_inds.dtype == torch.long and gt_sents.sent_ids.dtype == torch.long


def test_random_select_expression(refer_data, mmrefmutual_scope):
    dataset = make(refer_data, split='train', mode='train', pipeline=pipeline(train=True),
                   merge_refs_file='refcoco+/refs(unc).p')
    idx = next(i for i in range(len(dataset)) if dataset.get_data_info(i)['refs'][0]['ref_id'] == 0)
    np.random.seed(0)
    seen = set()
    for _ in range(20):
        data_sample = dataset[idx]['data_samples']
        assert len(data_sample.gt_refs) == 1 and len(data_sample.gt_sents) == 1
        [text] = data_sample.gt_sents.texts
        # one sentence to ground; all of the ref's stay its references (the CIDEr
        # references of step 2), the merged RefCOCO+ ones are dropped in training
        assert data_sample.gt_refs.sentences == [['man on the left', 'the cafe guy']]
        assert data_sample.gt_sents.sent_ids.tolist() == [{'man on the left': 0,
                                                            'the cafe guy': 1}[text]]
        seen.add(text)
    assert seen == {'man on the left', 'the cafe guy'}
    # np.random drives the choice: the same seed gives the same sequence
    np.random.seed(3)
    first = [dataset[idx]['data_samples'].gt_sents.texts[0] for _ in range(8)]
    np.random.seed(3)
    assert first == [dataset[idx]['data_samples'].gt_sents.texts[0] for _ in range(8)]


def test_select_refuses_ref_without_sentence():
    with pytest.raises(ValueError, match='no sentence'):
        RandomSelectExpression()(dict(img_id=4, refs=[dict(ref_id=-1, sentences=[])]))


def test_missing_image_error_names_file(refer_data, mmrefmutual_scope):
    dataset = make(refer_data, split='testA', pipeline=pipeline())
    with pytest.raises(FileNotFoundError, match='COCO_train2014_000000000007.jpg'):
        dataset[0]
    # mmcv's own loader already names a missing file; LoadRefImage keeps that error
    with pytest.raises(FileNotFoundError, match='COCO_train2014_000000000007.jpg'):
        LoadImageFromFile()(dict(img_path=dataset.get_data_info(0)['img_path']))


@pytest.mark.parametrize('backend', ['cv2', 'pillow'])
def test_corrupt_image_error_names_file(tmp_path, backend):
    path = tmp_path / 'corrupt.jpg'
    path.write_bytes(b'definitely not a jpeg')
    with pytest.raises(OSError, match='corrupt.jpg'):
        LoadRefImage(imdecode_backend=backend)(dict(img_path=str(path)))


def test_ignored_instances_are_followed(refer_data):
    dataset = make(refer_data)
    info = dataset.get_data_info(0)
    assert [r['inst_idx'] for r in info['refs']] == [1, 2]
    info['instances'][1]['mask'] = [[1, 2, 3, 4]]  # degenerate: mmdet ignores instance 1
    results = LoadAnnotations(with_bbox=True, with_mask=True)(
        LoadRefImage()(info))
    data_sample = PackRefInputs()(results)['data_samples']
    assert len(data_sample.gt_instances) == 3 and len(data_sample.ignored_instances) == 1
    # ref to the ignored instance -> -1; ref to instance 2 -> row 1 of gt_instances
    assert data_sample.gt_refs.inst_inds.tolist() == [-1, 1]
    assert decode(data_sample.gt_refs.rles[0]).sum() == 0


def test_dropping_instances_is_detected(refer_data):
    results = LoadAnnotations(with_bbox=True, with_mask=True)(
        LoadRefImage()(make(refer_data).get_data_info(0)))
    results = FilterAnnotations(min_gt_bbox_wh=(9, 9))(results)  # drops 103 and 104
    with pytest.raises(ValueError, match='dropped or added instances'):
        PackRefInputs()(results)


def test_pack_without_annotations(refer_data):
    # inference pipeline: no LoadAnnotations, refs still packed against `instances`
    info = make(refer_data).get_data_info(0)
    results = Resize(scale=(64, 64), keep_ratio=True)(LoadRefImage()(info))
    data_sample = PackRefInputs(meta_keys=('img_path', ))(results)['data_samples']
    assert data_sample.img_id == 1  # always packed
    assert len(data_sample.gt_instances) == 0
    assert data_sample.gt_refs.inst_inds.tolist() == [1, 2]
    assert len(data_sample.gt_sents) == 3


def test_ann_to_rle_formats(refer_data):
    h, w = 30, 40
    poly = ann_to_rle([[2, 2, 12, 2, 12, 16, 2, 16]], h, w)
    assert abs(int(decode(poly).sum()) - 140) <= 25  # 10 x 14 rectangle
    crowd = ann_to_rle(next(a['segmentation'] for a in refer_data.coco['annotations']
                            if a['id'] == 104), h, w)  # uncompressed RLE
    np.testing.assert_array_equal(decode(crowd), refer_data.crowd_mask)
    empty = ann_to_rle([[0, 0, 1, 1]], h, w)
    assert empty['size'] == [h, w] and decode(empty).sum() == 0
