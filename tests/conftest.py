"""Shared fixtures: a small synthetic referring benchmark in the real RefCOCO layout."""
import os
import os.path as osp

import pytest

os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY_CONFIG = osp.join(REPO, 'configs', 'mutual', 'synthetic_step1_joint_tiny.py')


@pytest.fixture(scope='session')
def synthetic_root(tmp_path_factory):
    """40 images (24 with refs) of the synthetic benchmark + the training vocabulary."""
    from mmrefmutual_bench.synthetic.generator import generate_synthetic_refcoco
    import sys
    sys.path.insert(0, osp.join(REPO, 'tools', 'dataset_converters'))
    from build_vocab import write_vocab
    root = str(tmp_path_factory.mktemp('synthetic'))
    generate_synthetic_refcoco(root, num_images=40, ref_image_ratio=0.6, img_size=128, seed=0)
    write_vocab([osp.join(root, 'refcoco', 'refs(unc).p')],
                osp.join(root, 'refcoco', 'vocab.txt'))
    return root


def tiny_cfg_options(root: str, work_dir: str, iters: int = 4, batch_size: int = 2) -> dict:
    """Overrides that turn the embedded-default config into a seconds-long test run."""
    return {
        'work_dir': work_dir,
        'load_from': None,  # the tiny step 1 starts from a pre-trained extractor
        'train_dataloader.dataset.data_root': root + '/',
        'train_dataloader.batch_size': batch_size,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'test_dataloader.dataset.data_root': root + '/',
        'test_dataloader.num_workers': 0,
        'test_dataloader.persistent_workers': False,
        'test_evaluator.2.ann_file': osp.join(root, 'refcoco', 'instances.json'),
        'model.generation_head.vocab': osp.join(root, 'refcoco', 'vocab.txt'),
        'train_cfg.max_iters': iters,
        'train_cfg.val_interval': 10**6,
        'param_scheduler.end': iters,
        'default_hooks.checkpoint.interval': 2,
        'default_hooks.checkpoint.max_keep_ckpts': 10,
        'default_hooks.logger.interval': 1,
        # training-only runs: no validation loop
        'val_cfg': None,
        'val_dataloader': None,
        'val_evaluator': None,
    }
