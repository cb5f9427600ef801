"""Step 3's training data: the human refs and the pseudo refs, swapped into the loop."""
import copy
import os.path as osp

# mmengine's IterBasedTrainLoop wraps its dataloader in this private iterator in __init__,
# before any hook runs, and has no public way to replace either; mmdet's
# PipelineSwitchHook also reaches into the loop's loader. tests/test_engine/
# test_generation_supervision.py fails if mmengine changes what this relies on.
from mmengine.runner.loops import _InfiniteDataloaderIterator

from mmrefmutual.registry import DATASETS


def human_and_pseudo_dataloader(train_dataloader: dict, unannotated: dict, pseudo_refs: str,
                                human_repeat: int = 1) -> dict:
    """The training dataloader config with the human dataset (repeated ``human_repeat``
    times) and the pseudo refs file concatenated (same pipeline, same sampler settings).

    Args:
        train_dataloader (dict): The config's ``train_dataloader`` (human refs).
        unannotated (dict): The pool's ``UnannotatedInstanceDataset`` config: its
            annotation file and image folder are the pseudo refs'.
        pseudo_refs (str): The pseudo refs file.
        human_repeat (int): Times the human dataset is repeated.
    """
    human = copy.deepcopy(train_dataloader['dataset'])
    pool = DATASETS.build(dict(unannotated, lazy_init=True))
    pseudo = dict(type='RefCocoDataset', data_root='', ann_file=pool.ann_file,
                  split_file=osp.abspath(pseudo_refs), split='train',
                  mode=human.get('mode', 'train'), data_prefix=pool.data_prefix,
                  pipeline=human['pipeline'], backend_args=human.get('backend_args'))
    loader = copy.deepcopy(train_dataloader)
    if human_repeat > 1:
        human = dict(type='RepeatDataset', dataset=human, times=human_repeat)
    loader['dataset'] = dict(type='ConcatDataset', datasets=[human, pseudo])
    return loader


def switch_train_dataloader(loop, dataloader) -> None:
    """Make ``loop`` (mmengine's ``IterBasedTrainLoop`` or ``EpochBasedTrainLoop``) train
    on ``dataloader`` from its next iteration; call it before the first one."""
    loop.dataloader = dataloader
    if hasattr(loop, 'dataloader_iterator'):
        loop.dataloader_iterator = _InfiniteDataloaderIterator(dataloader)
