import importlib.util
import json
import os.path as osp

import pytest
import torch

from mmrefmutual.datasets import UnannotatedInstanceDataset

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool(name):
    spec = importlib.util.spec_from_file_location(
        name, osp.join(ROOT, 'tools', 'dataset_converters', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def infos(dataset):
    return [dataset.get_data_info(i) for i in range(len(dataset))]


def make(refer_data, **kwargs):
    kwargs.setdefault('refs_files', refer_data.refs_files)
    kwargs.setdefault('ann_file', refer_data.ann_file)
    return UnannotatedInstanceDataset(data_prefix=dict(img_path=refer_data.img_dir), **kwargs)


def test_excludes_every_referred_image(refer_data):
    dataset = make(refer_data, min_area=100)
    [info] = infos(dataset)  # images 1,2,3,6,7 have refs; image 5 only has a 20 px car
    assert info['img_id'] == 4
    assert info['img_path'] == osp.join(refer_data.img_dir, 'COCO_train2014_000000000004.jpg')
    assert [inst['ann_id'] for inst in info['instances']] == [401, 402, 403, 404]
    assert [inst['bbox_label'] for inst in info['instances']] == [0, 1, 0, 2]
    # one pseudo ref per eligible instance: not the 20 px car nor the crowd region
    assert info['refs'] == [
        dict(ref_id=-1, ann_id=401, inst_idx=0, category_id=1, area=300.0, weight=1.0,
             sentences=[]),
        dict(ref_id=-1, ann_id=404, inst_idx=3, category_id=18, area=400.0, weight=1.0,
             sentences=[])]
    assert dataset.metainfo['classes'] == ('person', 'car', 'dog')
    assert dataset.load_stats['images_referred'] == 5
    assert dataset.load_stats['images_without_eligible'] == 1


def test_area_filter_and_modes(refer_data):
    # default min_area = 32*32: no instance of the tiny images is large enough
    with pytest.raises(ValueError, match='no instance of at least 1024'):
        make(refer_data)
    small = make(refer_data, min_area=20)  # the 20 px instances now qualify
    assert [(i['img_id'], [r['ann_id'] for r in i['refs']]) for i in infos(small)] == [
        (4, [401, 402, 404]), (5, [501])]
    per_instance = make(refer_data, min_area=20, mode='instance')
    assert [(i['img_id'], [r['ann_id'] for r in i['refs']]) for i in infos(per_instance)] == [
        (4, [401]), (4, [402]), (4, [404]), (5, [501])]
    assert all(len(i['instances']) == {4: 4, 5: 1}[i['img_id']] for i in infos(per_instance))
    with pytest.raises(ValueError, match='mode'):
        make(refer_data, mode='train')


def test_only_given_refs_files_are_excluded(refer_data):
    # image 6 is only referred to by RefCOCOg (google)
    unc_only = make(refer_data, min_area=100, refs_files=refer_data.refs_files[:1])
    assert [i['img_id'] for i in infos(unc_only)] == [4, 6]


def test_raw_coco_without_refs_is_refused(refer_data):
    with pytest.raises(ValueError, match='refs_files'):
        make(refer_data, refs_files=())


def test_build_unannotated_instances(refer_data, tmp_path, capsys):
    out = tmp_path / 'unannotated.json'
    counts = load_tool('build_unannotated_instances').main(
        ['--coco-ann', refer_data.ann_file, '--refs', *refer_data.refs_files,
         '--min-area', '100', '--out', str(out)])
    assert counts == dict(images=7, images_referred=5, images_referred_total=6,
                          images_without_eligible=1, images_kept=1, instances_kept=4,
                          instances_eligible=2, instances_small=1, instances_crowd=1)
    printed = capsys.readouterr().out
    assert 'kept 1 images, 4 instances, 2 to describe' in printed
    coco = json.loads(out.read_text())
    assert [img['id'] for img in coco['images']] == [4]
    assert [ann['id'] for ann in coco['annotations']] == [401, 402, 403, 404]
    assert coco['categories'] == refer_data.coco['categories']
    assert coco['mmrefmutual_unannotated']['min_area'] == 100
    # the dataset reads it without refs files and agrees with the direct route
    from_file = make(refer_data, ann_file=str(out), refs_files=(), min_area=100)
    assert infos(from_file) == infos(make(refer_data, min_area=100))


def test_remove_refcoco_eval_images(refer_data, tmp_path, capsys):
    out = tmp_path / 'minus_eval.json'
    counts = load_tool('remove_refcoco_eval_images').main(
        ['--coco-ann', refer_data.ann_file, '--refs', *refer_data.refs_files, '--out', str(out)])
    # val/test images: unc val 1, 3; unc testA 7; unc+ val 1; umd val 2, test 3; google val 1
    assert counts == dict(eval_images=4, images_removed=4, annotations_removed=8,
                          images_kept=3, annotations_kept=7)
    coco = json.loads(out.read_text())
    assert sorted(img['id'] for img in coco['images']) == [4, 5, 6]
    assert {ann['image_id'] for ann in coco['annotations']} == {4, 5, 6, 800}
    assert 'removed 4 images and 8 annotations' in capsys.readouterr().out
    # with RefCOCO only, image 2 (RefCOCOg val) stays
    counts = load_tool('remove_refcoco_eval_images').main(
        ['--coco-ann', refer_data.ann_file, '--refs', refer_data.refs_files[0], '--out',
         str(out)])
    assert counts['images_removed'] == 3 and counts['images_kept'] == 4


def test_packed_unannotated_sample(refer_data, mmrefmutual_scope):
    dataset = make(refer_data, min_area=100, pipeline=[
        dict(type='LoadRefImage'),
        dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
        dict(type='Resize', scale=(64, 64), keep_ratio=True),
        dict(type='PackRefInputs')])
    data_sample = dataset[0]['data_samples']
    assert data_sample.img_id == 4 and len(data_sample.gt_instances) == 4
    gt_refs = data_sample.gt_refs
    assert gt_refs.inst_inds.tolist() == [0, 3] and gt_refs.ref_ids.tolist() == [-1, -1]
    assert gt_refs.ann_ids.tolist() == [401, 404] and gt_refs.sentences == [[], []]
    assert [rle['size'] for rle in gt_refs.rles] == [[36, 48], [36, 48]]
    # nothing to ground: an empty but well-typed gt_sents
    assert len(data_sample.gt_sents) == 0 and data_sample.gt_sents.texts == []
    assert data_sample.gt_sents.ref_inds.dtype == torch.long
