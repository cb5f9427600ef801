import json
import os.path as osp

import pytest

from mmrefmutual.datasets import RefCocoDataset

UNC, UNC_PLUS, UMD, GOOGLE = 'refcoco/refs(unc).p', 'refcoco+/refs(unc).p', \
    'refcocog/refs(umd).p', 'refcocog/refs(google).p'


def make(refer_data, split_file=UNC, split='train', mode='train', **kwargs):
    return RefCocoDataset(data_root=refer_data.data_root, ann_file='instances.json',
                          split_file=split_file, split=split, mode=mode,
                          data_prefix=dict(img_path='images'), **kwargs)


def infos(dataset):
    return [dataset.get_data_info(i) for i in range(len(dataset))]


@pytest.mark.parametrize('split_file, split, mode, num_samples, num_refs', [
    (UNC, 'train', 'train', 2, 2),       # 5 refs: missing ann, missing image, no sentence
    (UNC, 'train', 'test', 2, 2),        # refs 0 and 1 are in different images
    (UNC, 'val', 'train', 3, 3),
    (UNC, 'val', 'test', 2, 3),          # image 1 holds refs 10 and 11
    (UNC, 'val', 'image', 2, 3),         # per-image training: the samples of 'test'
    (UNC, 'testA', 'test', 1, 1),
    (UNC_PLUS, 'val', 'test', 1, 1),     # the Python 2 pickle
    (UNC_PLUS, 'train', 'train', 1, 1),
    (UMD, 'train', 'train', 1, 1),
    (UMD, 'val', 'test', 1, 1),
    (UMD, 'test', 'test', 1, 1),
    (GOOGLE, 'train', 'train', 1, 1),
    (GOOGLE, 'val', 'test', 1, 1),
])
def test_counts_per_split_and_mode(refer_data, split_file, split, mode, num_samples, num_refs):
    dataset = make(refer_data, split_file, split, mode)
    assert len(dataset) == num_samples
    assert sum(len(info['refs']) for info in infos(dataset)) == num_refs
    assert dataset.load_stats['samples'] == num_samples
    if mode == 'train':
        assert all(len(info['refs']) == 1 for info in infos(dataset))


def test_train_data_info(refer_data):
    dataset = make(refer_data)
    assert dataset.metainfo['classes'] == ('person', 'car', 'dog')  # sorted ids 1, 3, 18
    info = dataset.get_data_info(0)
    assert info['img_id'] == 1 and (info['height'], info['width']) == (30, 40)
    assert info['img_path'] == osp.join(refer_data.img_dir, 'COCO_train2014_000000000001.jpg')
    # every annotation of the image, in file order, with contiguous labels
    assert [inst['ann_id'] for inst in info['instances']] == [101, 102, 103, 104]
    assert [inst['bbox_label'] for inst in info['instances']] == [0, 1, 2, 0]
    assert info['instances'][0]['bbox'] == [2, 2, 12, 16]                 # xywh -> xyxy
    assert info['instances'][0]['mask'] == [[2, 2, 12, 2, 12, 16, 2, 16]]  # polygon
    assert isinstance(info['instances'][1]['mask']['counts'], str)        # RLE
    assert all(inst['ignore_flag'] == 0 for inst in info['instances'])
    [ref] = info['refs']
    assert ref == dict(ref_id=0, ann_id=101, inst_idx=0, category_id=1, weight=1.0, generated=False,
                       sentences=[dict(sent_id=0, raw='Man on the LEFT!', sent='man on the left'),
                                  dict(sent_id=1, raw='the café guy', sent='the cafe guy')])
    assert dataset.get_cat_ids(0) == [0, 1, 2, 0]


def test_test_mode_groups_refs_by_image(refer_data):
    dataset = make(refer_data, split='val', mode='test')
    by_img = {info['img_id']: info for info in infos(dataset)}
    assert sorted(by_img) == [1, 3]
    refs = by_img[1]['refs']
    assert [r['ref_id'] for r in refs] == [10, 11]
    assert [r['ann_id'] for r in refs] == [102, 103]
    assert [r['inst_idx'] for r in refs] == [1, 2]
    assert [[s['sent'] for s in r['sentences']] for r in refs] == [
        ['car right', 'red car'], ['dogs at the bottom']]
    assert [[s['sent_id'] for s in r['sentences']] for r in refs] == [[100, 101], [110]]
    assert by_img[3]['refs'][0]['inst_idx'] == 0
    assert [inst['ann_id'] for inst in by_img[3]['instances']] == [301]
    # umd/test: image 3 through a protocol-0 pickle
    [info] = infos(make(refer_data, UMD, 'test', 'test'))
    assert info['img_id'] == 3 and info['refs'][0]['sentences'][0]['sent'] == 'a car'


def test_python2_pickle_sentences(refer_data):
    [info] = infos(make(refer_data, UNC_PLUS, 'val', 'test'))
    assert [s['sent'] for s in info['refs'][0]['sentences']] == ['red car on the right',
                                                                'cafe car']
    [info] = infos(make(refer_data, UNC_PLUS, 'train'))
    assert info['refs'][0]['sentences'] == [dict(sent_id=1010, raw='naïve man', sent='naive man')]


def test_truncation(refer_data):
    long_ref = next(info for info in infos(make(refer_data, max_words=5))
                    if info['refs'][0]['ref_id'] == 1)['refs'][0]
    assert [s['sent'] for s in long_ref['sentences']] == ['brown dog', 'the very tall man standing']
    long_ref = next(info for info in infos(make(refer_data))
                    if info['refs'][0]['ref_id'] == 1)['refs'][0]
    assert len(long_ref['sentences'][1]['sent'].split()) == 17


def test_skipped_refs_are_reported(refer_data, captured_warnings):
    dataset = make(refer_data)
    assert dataset.load_stats == dict(refs_in_split=5, missing_ann=1, missing_img=1,
                                      empty_sentences=2, refs_without_sentences=1,
                                      samples=2, refs=2)
    [record] = captured_warnings
    message = record.getMessage()
    for part in ('skipped 1 ref whose annotation is missing',
                 'skipped 1 ref whose image is missing',
                 'dropped 2 expressions empty once normalised',
                 'skipped 1 ref left without any expression', 'refs(unc).p'):
        assert part in message
    captured_warnings.clear()
    make(refer_data, split='val')
    assert captured_warnings == []  # nothing skipped, nothing logged


def test_empty_split_is_an_error(refer_data):
    with pytest.raises(ValueError) as info:
        make(refer_data, split='testB')
    message = str(info.value)
    assert 'testB' in message and 'refs(unc).p' in message
    assert 'train, val, testA' in message  # the splits present in the file


@pytest.mark.parametrize('split_file, split, available', [
    (UNC, 'test', 'train, val, testA, testB'),
    (UMD, 'testA', 'train, val, test'),
    (GOOGLE, 'test', 'train, val'),
    (UNC, 'training', 'train, val, testA, testB'),
])
def test_unknown_split_is_an_error(refer_data, split_file, split, available):
    with pytest.raises(ValueError) as info:
        make(refer_data, split_file, split)
    message = str(info.value)
    assert f'Unknown split {split!r}' in message
    assert osp.basename(split_file) in message and f'available splits: {available}' in message


def test_bad_mode(refer_data):
    with pytest.raises(ValueError, match='mode'):
        make(refer_data, mode='val')


def test_merge_refs_file_adds_references_only(refer_data):
    dataset = make(refer_data, split='val', mode='test', merge_refs_file=UNC_PLUS)
    by_ann = {ref['ann_id']: ref for info in infos(dataset) for ref in info['refs']}
    assert [s['sent'] for s in by_ann[102]['extra_sentences']] == ['red car on the right',
                                                                  'cafe car']
    assert [s['sent'] for s in by_ann[102]['sentences']] == ['car right', 'red car']
    assert by_ann[103]['extra_sentences'] == [] and by_ann[301]['extra_sentences'] == []
    # extra sentences come from every split of the merged file (ann 101 is train there)
    train = make(refer_data, merge_refs_file=UNC_PLUS)
    ref0 = next(info['refs'][0] for info in infos(train) if info['refs'][0]['ref_id'] == 0)
    assert [s['sent'] for s in ref0['extra_sentences']] == ['naive man']
    # without the option the key is absent (data_info exactly as the contract)
    assert 'extra_sentences' not in infos(make(refer_data, split='val'))[0]['refs'][0]


def test_weights_and_json_refs(refer_data, tmp_path):
    pseudo = [dict(ref_id=500, ann_id=401, image_id=4, category_id=1, split='train',
                   weight=0.1, sentences=[dict(raw='Person, top left', sent_id=5000)]),
              dict(ref_id=501, ann_id=404, image_id=4, category_id=18, split='train',
                   sent_ids=[5010], sentences=[dict(sent='dog')])]
    refs_file = tmp_path / 'pseudo_refs.json'
    refs_file.write_text(json.dumps(pseudo))
    dataset = make(refer_data, split_file=str(refs_file), split='train', mode='test')
    [info] = infos(dataset)
    assert [(r['weight'], r['inst_idx']) for r in info['refs']] == [(0.1, 0), (1.0, 3)]
    assert info['refs'][1]['sentences'] == [dict(sent_id=5010, raw='dog', sent='dog')]
    with pytest.raises(ValueError, match='available splits: train'):
        make(refer_data, split_file=str(refs_file), split='val')


def test_build_from_config(refer_data, mmrefmutual_scope):
    from mmrefmutual.registry import DATASETS
    dataset = DATASETS.build(
        dict(type='RefCocoDataset', data_root=refer_data.data_root, ann_file='instances.json',
             split_file=GOOGLE, split='val', mode='test', data_prefix=dict(img_path='images/'),
             lazy_init=True))
    assert type(dataset) is RefCocoDataset
    assert dataset.split_file == osp.join(refer_data.data_root, GOOGLE)
    assert len(dataset) == 1  # full_init on first use
