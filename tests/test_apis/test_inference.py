import os.path as osp
import subprocess
import sys

import mmcv
import numpy as np
import pytest
import torch

from mmrefmutual.apis import describe, init_model, segment
from mmrefmutual.utils import to_plain

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'mutual', 'synthetic_step1_joint_tiny.py')


def test_api_and_cli_from_a_checkpoint(synthetic_root, tmp_path):
    vocab = osp.join(synthetic_root, 'refcoco', 'vocab.txt')
    model = init_model(CONFIG, cfg_options={'model.generation_head.vocab': vocab})
    ckpt = str(tmp_path / 'model.pth')
    torch.save(to_plain({'state_dict': model.state_dict()}), ckpt)
    # the vocabulary comes from the checkpoint: the config's file is not needed
    loaded = init_model(CONFIG, ckpt, cfg_options={'model.generation_head.vocab': 'missing.txt'})
    assert loaded.generation_head.vocab.words == model.generation_head.vocab.words

    image = np.random.RandomState(0).randint(0, 255, (90, 120, 3), dtype=np.uint8)
    results = segment(loaded, image, ['the red circle', 'Second STAR from the left!'])
    assert len(results) == 2
    assert results[0]['mask'].shape == (90, 120) and results[0]['mask'].dtype == bool
    assert results[0]['bbox'].shape == (4, ) and 0.0 <= results[0]['score'] <= 1.0

    masks = np.zeros((2, 90, 120), dtype=bool)
    masks[0, 10:40, 10:50] = True
    masks[1, 50:80, 60:110] = True
    texts = describe(loaded, image, masks=masks, beam_size=2)
    assert len(texts) == 2 and all(isinstance(t, str) for t in texts)
    words = set(loaded.generation_head.vocab.words)
    assert all(w in words for t in texts for w in t.split())
    boxes_texts = describe(loaded, image, boxes=np.array([[10, 10, 50, 40]]))
    assert len(boxes_texts) == 1
    assert loaded.test_cfg['reg_input'] == 'mask'  # the API never edits the model's settings
    with pytest.raises(ValueError, match=r"'\?!'"):
        segment(loaded, image, ['the red circle', '?!'])

    # a checkpoint that does not fit the model is refused, naming the keys
    state = dict(model.state_dict())
    state.pop('selection_head.score_mlp.layers.0.weight')
    state['selection_head.extra'] = torch.zeros(1)
    bad = str(tmp_path / 'bad.pth')
    torch.save(to_plain({'state_dict': state}), bad)
    with pytest.raises(KeyError, match=r'score_mlp\.layers\.0\.weight.*selection_head\.extra'):
        init_model(CONFIG, bad)

    img_path = str(tmp_path / 'img.png')
    mmcv.imwrite(image, img_path)
    out = str(tmp_path / 'res.png')
    run = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'inference.py'), CONFIG, ckpt, img_path,
         '--expressions', 'blue square', '--out', out],
        capture_output=True, text=True, timeout=300, env={'PYTHONPATH': REPO, 'HF_HUB_OFFLINE': '1',
                                                         'PATH': '/usr/bin:/bin'})
    assert run.returncode == 0, run.stderr[-2000:]
    assert mmcv.imread(out).shape == (90, 120, 3)
    out = str(tmp_path / 'reg.png')
    run = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'inference.py'), CONFIG, ckpt, img_path,
         '--boxes', '10', '10', '50', '40', '--out', out],
        capture_output=True, text=True, timeout=300, env={'PYTHONPATH': REPO, 'HF_HUB_OFFLINE': '1',
                                                         'PATH': '/usr/bin:/bin'})
    assert run.returncode == 0, run.stderr[-2000:]
    assert 'object 0:' in run.stdout and osp.exists(out)
