"""Mixed precision: Mask2Former's losses stay finite and close to float32 under fp16."""
import copy
import os.path as osp
import sys

import torch
from mmdet.models.dense_heads import Mask2FormerHead
from mmengine.config import Config

from mmrefmutual.models.language.vocab import build_vocab
from mmrefmutual.registry import MODELS
from mmrefmutual.utils import register_all_modules

sys.path.insert(0, osp.dirname(__file__))
from ref_batches import TEXTS, make_batch  # noqa: E402

TINY_CONFIG = osp.join(osp.dirname(__file__), '..', '..', 'configs', 'mutual',
                       'synthetic_step1_joint_tiny.py')


def test_fp16_autocast_losses_are_finite_and_close_to_fp32(tmp_path):
    register_all_modules()
    vocab = tmp_path / 'vocab.txt'
    vocab.write_text('\n'.join(build_vocab(TEXTS)))
    cfg = Config.fromfile(TINY_CONFIG).model
    cfg.generation_head.vocab = str(vocab)
    cfg.panoptic_head.num_queries = 8
    # the paper's 12,544 points: 6 masks x 12,544 = 75,264 > fp16's largest 65,504
    cfg.train_cfg.num_points = 12544
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(cfg))
    model.init_weights()
    model.eval()  # no dropout: the two passes differ by precision only
    inputs, samples = make_batch()

    def losses(dtype):
        torch.manual_seed(0)  # same sampled points
        with torch.no_grad(), torch.autocast('cpu', dtype=dtype, enabled=dtype != torch.float32):
            return model.loss(inputs, copy.deepcopy(samples))

    ref, half = losses(torch.float32), losses(torch.float16)
    assert set(ref) == set(half)
    for key in ref:
        assert torch.isfinite(half[key]).all(), key
        torch.testing.assert_close(half[key].float(), ref[key], rtol=0.05, atol=0.05,
                                   msg=key)

    # mmdet's own loss under the same autocast: avg_factor = 75,264 overflows to inf in
    # fp16, and the mask loss becomes 0 (here) or inf / inf = NaN (larger batches)
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.float16):
        proposals, cls_list, mask_list = model.extract_proposals(inputs, samples)
        head = model.panoptic_head
        gts = head.preprocess_gt([s.gt_instances for s in samples], [None, None])
        mmdet = Mask2FormerHead.loss_by_feat(head, cls_list, mask_list, gts,
                                             [s.metainfo for s in samples])
    wrong = mmdet['loss_mask'].float()
    assert not torch.isfinite(wrong) or (wrong - ref['loss_mask']).abs() > 0.5 * ref['loss_mask']


def test_amp_picks_bfloat16_where_the_gpu_has_it(monkeypatch):
    from mmengine.config import Config as Cfg

    from mmrefmutual.utils.tool_args import amp_dtype, enable_amp
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    for supported, expected in ((True, 'bfloat16'), (False, 'float16')):
        monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda s=supported: s)
        assert amp_dtype() == expected
        cfg = Cfg(dict(optim_wrapper=dict(type='OptimWrapper', optimizer=dict(type='AdamW'))))
        enable_amp(cfg)
        assert (cfg.optim_wrapper.type, cfg.optim_wrapper.loss_scale,
                cfg.optim_wrapper.dtype) == ('AmpOptimWrapper', 'dynamic', expected)
    enable_amp(cfg, 'float16')
    assert cfg.optim_wrapper.dtype == 'float16'
