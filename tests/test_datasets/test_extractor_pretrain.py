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


def _dataset(root, **kwargs):
    return ExtractorPretrainDataset(
        ann_file='coco/annotations/instances_train2014.json', data_root=root,
        data_prefix=dict(img_path='coco/train2014/'),
        protected_refs_files=['refcoco/refs(unc).p', 'refcoco+/refs(unc).p'], **kwargs)


def test_a_filter_that_lets_an_evaluation_image_through_is_caught(synthetic_root, monkeypatch):
    from mmrefmutual.datasets import LeakageError, extractor_pretrain

    # a filter bug: the ids to remove are read as strings and never match
    real = extractor_pretrain.evaluation_image_ids
    monkeypatch.setattr(extractor_pretrain, 'evaluation_image_ids',
                        lambda files: {str(i) for i in real(files)})
    with pytest.raises(LeakageError, match='evaluation split'):
        _dataset(synthetic_root)


def test_an_evaluation_sample_is_refused_where_it_is_served(synthetic_root):
    from mmrefmutual.datasets import LeakageError
    dataset = _dataset(synthetic_root, serialize_data=False)
    refs = load_refs(osp.join(synthetic_root, 'refcoco', 'refs(unc).p'))
    evaluation = sorted({r['image_id'] for r in refs if r['split'] != 'train'})
    dataset[0]  # a kept image is served
    # a sample list changed after the filter (e.g. by a subclass or a wrapper)
    dataset.data_list[0] = dict(dataset.data_list[0], img_id=evaluation[0])
    with pytest.raises(LeakageError, match=f'image {evaluation[0]} .*pre-training sample'):
        dataset[0]


def test_provenance_in_the_metainfo(synthetic_root):
    import hashlib
    dataset = _dataset(synthetic_root)
    record = dataset.metainfo['extractor_pretrain']
    refs_file = osp.join(synthetic_root, 'refcoco', 'refs(unc).p')
    refs = load_refs(refs_file)
    refs_plus = load_refs(osp.join(synthetic_root, 'refcoco+', 'refs(unc).p'))
    evaluation = {r['image_id'] for r in refs + refs_plus if r['split'] != 'train'}
    assert record['evaluation_images_excluded'] == len(evaluation)
    assert record['images'] == len(dataset)
    assert record['protected_refs_files'][0] == dict(
        file='refs(unc).p', sha256=hashlib.sha256(open(refs_file, 'rb').read()).hexdigest())
