"""Every path that reads a refs file refuses a malicious pickle without running it."""
import os
import os.path as osp
import pickle
import shutil
import sys

import pytest

from mmrefmutual.datasets import (EvaluationImageGuard, ExtractorPretrainDataset,
                                  RefCocoDataset, UnsafePickleError)
from mmrefmutual.datasets.refer_files import evaluation_image_ids
from mmrefmutual.datasets.unannotated import referred_image_ids

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tools', 'dataset_converters'))


class _Touch:
    """Unpickling this runs ``touch PATH``: proof that a reader executed the file."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f'touch {self.path}', ))


@pytest.fixture
def evil_root(synthetic_root, tmp_path):
    """A copy of the synthetic benchmark whose refcoco refs file is a live payload."""
    root = tmp_path / 'data'
    shutil.copytree(synthetic_root, root)
    marker = tmp_path / 'code_ran'
    refs_file = root / 'refcoco' / 'refs(unc).p'
    refs = pickle.loads(refs_file.read_bytes())
    refs_file.write_bytes(pickle.dumps(refs[:3] + [_Touch(str(marker))], protocol=2))
    # sanity: the payload is live under a plain pickle.load
    pickle.loads(refs_file.read_bytes())
    assert marker.exists()
    marker.unlink()
    return str(root), str(refs_file), marker


def _readers(root, refs_file, tmp_path):
    from build_unannotated_instances import main as build_unannotated
    from build_vocab import write_vocab
    from remove_refcoco_eval_images import main as remove_eval
    coco_ann = osp.join(root, 'coco', 'annotations', 'instances_train2014.json')
    from mmrefmutual_bench.report import pick_examples
    return {
        'RefCocoDataset': lambda: RefCocoDataset(
            ann_file='refcoco/instances.json', split_file='refcoco/refs(unc).p',
            data_root=root, data_prefix=dict(img_path='coco/train2014/'), split='train'),
        'ExtractorPretrainDataset': lambda: ExtractorPretrainDataset(
            ann_file='coco/annotations/instances_train2014.json', data_root=root,
            protected_refs_files=['refcoco/refs(unc).p']),
        'EvaluationImageGuard': lambda: EvaluationImageGuard([refs_file]),
        'evaluation_image_ids': lambda: evaluation_image_ids([refs_file]),
        'referred_image_ids': lambda: referred_image_ids([refs_file]),
        'build_vocab': lambda: write_vocab([refs_file], str(tmp_path / 'vocab.txt')),
        'remove_refcoco_eval_images': lambda: remove_eval(
            ['--coco-ann', coco_ann, '--refs', refs_file, '--out', str(tmp_path / 'a.json')]),
        'build_unannotated_instances': lambda: build_unannotated(
            ['--coco-ann', coco_ann, '--refs', refs_file, '--out', str(tmp_path / 'b.json')]),
        'report': lambda: pick_examples(root, {}),
    }


@pytest.mark.parametrize('reader', [
    'RefCocoDataset', 'ExtractorPretrainDataset', 'EvaluationImageGuard',
    'evaluation_image_ids', 'referred_image_ids', 'build_vocab', 'remove_refcoco_eval_images',
    'build_unannotated_instances', 'report'])
def test_malicious_refs_pickle_is_refused_by(reader, evil_root, tmp_path):
    root, refs_file, marker = evil_root
    with pytest.raises(UnsafePickleError, match='system'):
        _readers(root, refs_file, tmp_path)[reader]()
    assert not marker.exists()


def test_no_bare_pickle_load_in_the_package_and_tools():
    offenders = []
    for top in ('mmrefmutual', 'tools'):
        for folder, _, files in os.walk(osp.join(REPO, top)):
            for name in files:
                if name.endswith('.py'):
                    path = osp.join(folder, name)
                    text = open(path, encoding='utf-8').read()
                    if 'pickle.load(' in text or 'pickle.loads(' in text:
                        offenders.append(osp.relpath(path, REPO))
    assert offenders == [], offenders
