import os
import os.path as osp
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner.checkpoint import CheckpointLoader, load_from_local

from mmrefmutual.utils import (UnsafeCheckpointError, from_plain, safe_checkpoint_loading,
                               safe_load_checkpoint, to_plain)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


class _WritesFile:
    """Unpickling this object would create a file: proof that code ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, 'w'))


class _GetAttr:
    """Unpickles into getattr(numpy.ndarray, 'tofile'): a file writer, from allowed types."""

    def __reduce__(self):
        return (getattr, (np.ndarray, 'tofile'))


def _mmengine_checkpoint() -> dict:
    """What mmengine's CheckpointHook writes: numpy scalars in the meta, the message hub's
    HistoryBuffers (numpy arrays), optimizer and scheduler states."""
    hub = MessageHub.get_instance('test_checkpoint')
    for v in (1.0, 2.5, 4.0):
        hub.update_scalar('train/loss', v)
    hub.update_info('iter', 3)
    param = torch.nn.Parameter(torch.ones(3))
    optimizer = torch.optim.AdamW([param], lr=0.1)
    param.sum().backward()
    optimizer.step()
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, [2])
    return {'meta': {'iter': 3, 'seed': np.int64(7), 'scale': np.float32(0.5),
                     'lr': np.float64(0.1), 'dataset_meta': {'classes': ('a', 'b')}},
            'state_dict': {'w': param.detach()},
            'message_hub': hub.state_dict(), 'optimizer': optimizer.state_dict(),
            'param_schedulers': [scheduler.state_dict()]}


def test_plain_roundtrip_of_message_hub_objects(tmp_path):
    buf = HistoryBuffer()
    for v in (1.0, 2.5, 4.0):
        buf.update(v)
    ckpt = {'meta': {'iter': 3, 'seed': np.int64(7), 'scale': np.float32(0.5),
                     'lr': np.float64(0.1)},  # np.float64 is also a Python float
            'message_hub': {'log_scalars': {'train/loss': buf}, 'runtime_info': {'iter': 3}},
            'array': np.arange(4)}
    plain = to_plain(ckpt)
    path = tmp_path / 'plain.pth'
    torch.save(plain, path)
    loaded = torch.load(path, weights_only=True)  # no allow-list needed at all
    assert loaded['meta']['seed'] == 7 and isinstance(loaded['meta']['seed'], int)
    assert type(loaded['meta']['lr']) is float
    restored = from_plain(loaded['message_hub'])['log_scalars']['train/loss']
    assert isinstance(restored, HistoryBuffer)
    assert restored.mean() == pytest.approx(buf.mean())
    assert restored.current() == 4.0
    with pytest.raises(TypeError):
        to_plain({'obj': object()})


def test_checkpoint_hook_files_load_with_their_objects(tmp_path):
    path = tmp_path / 'iter_3.pth'
    torch.save(_mmengine_checkpoint(), path)
    with pytest.raises(pickle.UnpicklingError):  # torch alone refuses it (weights_only)
        torch.load(path, weights_only=True)
    for load in (lambda: safe_load_checkpoint(str(path)),
                 lambda: _load_in_context(str(path))):
        ckpt = load()
        buf = ckpt['message_hub']['log_scalars']['train/loss']
        assert isinstance(buf, HistoryBuffer) and buf.current() == 4.0
        assert ckpt['meta']['seed'] == 7 and ckpt['meta']['scale'] == np.float32(0.5)
        assert 'exp_avg' in ckpt['optimizer']['state'][0]


def _load_in_context(path):
    with safe_checkpoint_loading():
        return CheckpointLoader.load_checkpoint(path, map_location='cpu')


@pytest.mark.parametrize('payload', ['reduce', 'getattr', 'object_array'])
def test_other_objects_are_refused_with_their_class_named(tmp_path, payload):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'bad.pth'
    if payload == 'reduce':
        obj, named = {'state_dict': {}, 'evil': _WritesFile(str(marker))}, 'io.open'
    elif payload == 'getattr':
        obj, named = {'state_dict': {}, 'evil': _GetAttr()}, "getattr (of 'tofile'"
    else:  # numpy arrays are allowed, but not the objects an object array holds
        obj = {'a': np.array([_WritesFile(str(marker))], dtype=object)}
        named = 'numpy.dtypes.ObjectDType'
    torch.save(obj, path)
    for load in (lambda: safe_load_checkpoint(str(path)),
                 lambda: _load_in_context(str(path))):
        with pytest.raises(UnsafeCheckpointError, match='Refusing to load') as info:
            load()
        assert named in str(info.value)
    assert not marker.exists()
    assert issubclass(UnsafeCheckpointError, pickle.UnpicklingError)
    if payload == 'reduce':  # sanity: the file really would have run code
        torch.load(path, weights_only=False)
        assert marker.exists()
        os.remove(marker)


def test_mmengine_loader_is_ours_only_inside_the_context():
    # mmengine's local scheme is load_from_local, which the context puts back: this fails
    # if mmengine changes how it loads local files (see safe_checkpoint_loading)
    assert CheckpointLoader._get_checkpoint_loader('a.pth') is load_from_local
    with safe_checkpoint_loading():
        assert CheckpointLoader._get_checkpoint_loader('a.pth') is not load_from_local
        assert CheckpointLoader._get_checkpoint_loader('http://x/a.pth') is not \
            CheckpointLoader._get_checkpoint_loader('a.pth')
    assert CheckpointLoader._get_checkpoint_loader('a.pth') is load_from_local
    with pytest.raises(RuntimeError):
        with safe_checkpoint_loading():
            raise RuntimeError
    assert CheckpointLoader._get_checkpoint_loader('a.pth') is load_from_local


def test_importing_the_plugin_changes_no_loader_of_mmengine_and_no_op_of_mmcv():
    code = ('import mmcv.ops.multi_scale_deform_attn as msda\n'
            'mmcv_own = msda.MultiScaleDeformableAttnFunction\n'
            'import mmrefmutual, mmrefmutual.models, mmrefmutual.engine, mmrefmutual.apis\n'
            'from mmrefmutual.utils import register_all_modules\n'
            'register_all_modules()\n'
            'assert msda.MultiScaleDeformableAttnFunction is mmcv_own\n'
            # the runner of our configs routes it (Runner's own set-up left out here)
            'import mmengine.runner\n'
            'mmengine.runner.Runner.__init__ = lambda self, *a, **k: None\n'
            'from mmrefmutual.engine import RefRunner\n'
            'RefRunner()\n'
            'from mmrefmutual.utils.mmcv_compat import RoutedMultiScaleDeformableAttnFunction\n'
            'assert msda.MultiScaleDeformableAttnFunction is RoutedMultiScaleDeformableAttnFunction\n'
            'from mmengine.runner.checkpoint import CheckpointLoader, load_from_local\n'
            'assert CheckpointLoader._get_checkpoint_loader("a.pth") is load_from_local\n'
            'import torch.serialization as s\n'
            'from mmrefmutual.utils.checkpoint import MMENGINE_SAFE_GLOBALS as ours\n'
            'assert not [g for g in s.get_safe_globals() if g in ours], s.get_safe_globals()\n')
    run = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True,
                         text=True, env=dict(os.environ, PYTHONPATH=REPO))
    assert run.returncode == 0, run.stderr[-2000:]
