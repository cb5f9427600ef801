"""Fixtures of the app tests: REG dumps of two made-up "models" on the synthetic
benchmark of ``tests/conftest.py`` (``synthetic_root``), and a study made from them.

Model ``precise`` says a human reference sentence of each object (the generator writes
them unambiguous), model ``vague`` the shape word alone ("the star"), which is
ambiguous wherever the image has two objects of that shape: their oracle unambiguity
differs, so that H-Acc differs between them.
"""
import json
import os
import os.path as osp

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SPLITS = ('val', 'testA', 'testB')


def write_dumps(root: str, out_dir: str) -> dict:
    """``{model: folder}`` of ``expressions_{split}.reg_expressions.json`` files."""
    from mmrefmutual.datasets.refer_files import load_refs
    with open(osp.join(root, 'refcoco', 'instances.json')) as f:
        coco = json.load(f)
    names = {c['id']: c['name'] for c in coco['categories']}
    refs = load_refs(osp.join(root, 'refcoco', 'refs(unc).p'))
    folders = {}
    for model in ('precise', 'vague'):
        folder = osp.join(out_dir, model)
        for split in SPLITS:
            records = []
            for ref in refs:
                if ref['split'] != split:
                    continue
                text = (ref['sentences'][0]['raw'] if model == 'precise' else
                        f"the {names[ref['category_id']]}")
                records.append(dict(ref_id=ref['ref_id'], ann_id=ref['ann_id'],
                                    image_id=ref['image_id'], expression=text))
            path = osp.join(folder, split, f'expressions_{split}.reg_expressions.json')
            os.makedirs(osp.dirname(path), exist_ok=True)
            with open(path, 'w') as f:
                json.dump(records, f)
        folders[model] = folder
    return folders


@pytest.fixture(scope='session')
def reg_dumps(synthetic_root, tmp_path_factory):
    return write_dumps(synthetic_root, str(tmp_path_factory.mktemp('dumps')))


@pytest.fixture
def make_study(synthetic_root, reg_dumps, tmp_path):
    """``make_study(name, **kwargs)`` -> path of a new study file in ``tmp_path``."""
    from mmrefmutual.apps.human_eval import create_study, find_dumps

    def make(name='study', n_per_split=100, human=False, annotators=('ann1', 'ann2'), **kw):
        path = str(tmp_path / f'{name}.sqlite')
        models = {m: find_dumps(d, SPLITS) for m, d in reg_dumps.items()}
        create_study(path, models, osp.join(synthetic_root, 'refcoco', 'instances.json'),
                     osp.join(synthetic_root, 'coco', 'train2014'), splits=SPLITS,
                     n_per_split=n_per_split,
                     human_refs=(osp.join(synthetic_root, 'refcoco', 'refs(unc).p')
                                 if human else None),
                     annotators=annotators, **kw)
        return path

    return make


@pytest.fixture(scope='session')
def tiny_checkpoint(synthetic_root, tmp_path_factory):
    """The embedded default's tiny model with random weights, saved as a checkpoint."""
    import torch

    from mmrefmutual.apis import init_model
    from mmrefmutual.utils import to_plain
    config = osp.join(REPO, 'configs', 'mutual', 'synthetic_step1_joint_tiny.py')
    with torch.random.fork_rng():  # the other tests' random state is left alone
        torch.manual_seed(0)
        model = init_model(config, cfg_options={
            'model.generation_head.vocab': osp.join(synthetic_root, 'refcoco', 'vocab.txt')})
    path = str(tmp_path_factory.mktemp('ckpt') / 'tiny.pth')
    torch.save(to_plain({'state_dict': model.state_dict()}), path)
    return config, path


@pytest.fixture(scope='session')
def demo_session(tiny_checkpoint, synthetic_root):
    from mmrefmutual.apis import init_model
    from mmrefmutual.apps.demo import DemoSession
    config, ckpt = tiny_checkpoint
    examples = DemoSession.examples_in(osp.join(synthetic_root, 'coco', 'train2014'), limit=4)
    return DemoSession(init_model(config, ckpt), examples)
