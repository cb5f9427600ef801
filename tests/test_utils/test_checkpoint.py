import os
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

import mmrefmutual  # noqa: F401  (registers the safe loader)
from mmrefmutual.utils import UnsafeCheckpointError, from_plain, load_plain_checkpoint, to_plain


class _WritesFile:
    """Unpickling this object would create a file: proof that code ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, 'w'))


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
    loaded = load_plain_checkpoint(str(path))  # weights_only=True, no extra globals
    assert loaded['meta']['seed'] == 7 and isinstance(loaded['meta']['seed'], int)
    assert type(loaded['meta']['lr']) is float
    restored = from_plain(loaded['message_hub'])['log_scalars']['train/loss']
    assert isinstance(restored, HistoryBuffer)
    assert restored.mean() == pytest.approx(buf.mean())
    assert restored.current() == 4.0
    with pytest.raises(TypeError):
        to_plain({'obj': object()})


@pytest.mark.parametrize('payload', ['reduce', 'getattr', 'mmengine_legacy'])
def test_unsafe_checkpoints_are_refused_without_running_code(tmp_path, payload):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'bad.pth'
    if payload == 'reduce':
        obj = {'state_dict': {}, 'evil': _WritesFile(str(marker))}
    elif payload == 'getattr':
        obj = {'state_dict': {}, 'evil': getattr}  # pickled as builtins.getattr
    else:  # what a plain mmengine checkpoint holds: a HistoryBuffer with numpy arrays
        buf = HistoryBuffer()
        buf.update(1.0)
        obj = {'message_hub': {'log_scalars': {'loss': buf}}}
    torch.save(obj, path)
    for load in (lambda: load_plain_checkpoint(str(path)),
                 lambda: CheckpointLoader.load_checkpoint(str(path), map_location='cpu')):
        with pytest.raises(UnsafeCheckpointError, match='Refusing to load'):
            load()
    assert not marker.exists()
    assert issubclass(UnsafeCheckpointError, pickle.UnpicklingError)
    # sanity: the same file really would have run code without the protection
    if payload == 'reduce':
        torch.load(path, weights_only=False)
        assert marker.exists()
        os.remove(marker)
