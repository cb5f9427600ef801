"""Extractor pre-training data: every COCO image but the RefCOCO/+/g evaluation ones."""
import json
import os.path as osp

import pytest

from mmrefmutual.datasets import ExtractorPretrainDataset, load_refs


def test_every_image_but_the_evaluation_ones(synthetic_root):
    dataset = ExtractorPretrainDataset(
        ann_file='coco/annotations/instances_train2014.json', data_root=synthetic_root,
        data_prefix=dict(img_path='coco/train2014/'),
        protected_refs_files=['refcoco/refs(unc).p', 'refcoco+/refs(unc).p'])
    with open(osp.join(synthetic_root, 'coco', 'annotations', 'instances_train2014.json')) as f:
        coco = json.load(f)
    refs = load_refs(osp.join(synthetic_root, 'refcoco', 'refs(unc).p'))
    evaluation = {r['image_id'] for r in refs if r['split'] != 'train'}
    train = {r['image_id'] for r in refs if r['split'] == 'train'}
    got = {dataset.get_data_info(i)['img_id'] for i in range(len(dataset))}
    assert evaluation and not got & evaluation
    assert got == {img['id'] for img in coco['images']} - evaluation
    assert train <= got  # the train images and the unreferred pool
    info = dataset.get_data_info(0)
    assert info['refs'] == [] and info['instances']
    assert dataset.metainfo['classes'] == tuple(c['name'] for c in sorted(
        coco['categories'], key=lambda c: c['id']))
    with pytest.raises(ValueError, match='evaluation images'):
        ExtractorPretrainDataset(ann_file='coco/annotations/instances_train2014.json',
                                 data_root=synthetic_root, protected_refs_files=[])
