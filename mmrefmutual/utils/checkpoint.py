"""Checkpoints that load under ``torch.load(weights_only=True)``.

mmengine pickles Python objects into its checkpoints (``HistoryBuffer`` with numpy
arrays in the message hub, numpy scalars in the meta), which torch >= 2.6 refuses to
load with ``weights_only=True``; turning that safety off would let a checkpoint run
arbitrary code on load. Instead:

* :class:`~mmrefmutual.engine.hooks.PlainCheckpointHook` rewrites every checkpoint before it is saved into plain
  containers (dict/list/tuple/str/int/float/bool/None) and tensors, which need no extra
  globals at all, and turns the message-hub buffers back into ``HistoryBuffer`` after
  loading;
* :func:`load_plain_checkpoint` replaces mmengine's loader for local files: it always
  loads with ``weights_only=True`` (whatever the torch version) and turns torch's
  refusal into a :class:`UnsafeCheckpointError` that names the offending global.
  Nothing in a refused file is executed.
"""
import pickle
from collections import OrderedDict
from typing import Any

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

_HISTORY_BUFFER_KEY = '__history_buffer__'


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint holds pickled objects other than containers and tensors."""


def to_plain(obj: Any) -> Any:
    """Convert ``obj`` recursively into containers, Python scalars and tensors.

    numpy arrays become tensors, numpy scalars Python numbers and
    ``HistoryBuffer`` a tagged dict that :func:`from_plain` restores.

    Raises:
        TypeError: for any other object type, so that nothing silently pickles
            a class that would later be refused on load.
    """
    if isinstance(obj, np.generic):  # before float: np.float64 subclasses float
        return obj.item()
    if obj is None or isinstance(obj, (str, bytes, bool, int, float, torch.Tensor)):
        return obj
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(obj))
    if isinstance(obj, HistoryBuffer):
        logs, counts = obj.data
        return {_HISTORY_BUFFER_KEY: True, 'max_length': obj.max_length,
                'log_history': torch.from_numpy(np.asarray(logs, dtype=np.float64)),
                'count_history': torch.from_numpy(np.asarray(counts, dtype=np.float64))}
    if isinstance(obj, OrderedDict):
        out = OrderedDict((k, to_plain(v)) for k, v in obj.items())
        if hasattr(obj, '_metadata'):  # module versions of a state dict
            out._metadata = to_plain(obj._metadata)
        return out
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_plain(v) for v in obj)
    if isinstance(obj, torch.Size):
        return tuple(obj)
    raise TypeError(f'Cannot store an object of type {type(obj).__name__} in a plain '
                    'checkpoint; convert it to containers/tensors first.')


def from_plain(obj: Any) -> Any:
    """Inverse of :func:`to_plain` for the tagged ``HistoryBuffer`` dicts."""
    if isinstance(obj, dict):
        if obj.get(_HISTORY_BUFFER_KEY):
            buf = HistoryBuffer(max_length=obj['max_length'])
            buf._log_history = obj['log_history'].numpy()
            buf._count_history = obj['count_history'].numpy()
            return buf
        return type(obj)((k, from_plain(v)) for k, v in obj.items())
    if isinstance(obj, list):
        return [from_plain(v) for v in obj]
    return obj


def load_plain_checkpoint(filename: str, map_location=None) -> dict:
    """Load a local checkpoint with ``weights_only=True``.

    Args:
        filename (str): Path of the checkpoint.
        map_location: Passed to :func:`torch.load`.

    Returns:
        dict: The checkpoint.

    Raises:
        UnsafeCheckpointError: if the file holds any pickled global beyond what
            ``weights_only`` admits (tensors, containers, numbers, strings).
    """
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise UnsafeCheckpointError(
            f'Refusing to load {filename!r}: it contains pickled objects that are not '
            'plain containers or tensors, and loading them could run code. '
            f'torch said: {str(err).splitlines()[0]} '
            'Checkpoints written by mmrefmutual (PlainCheckpointHook) never do; '
            're-save a checkpoint you trust as a plain state dict.') from None


def register_plain_checkpoint_loader() -> None:
    """Make mmengine load local checkpoints through :func:`load_plain_checkpoint`."""
    CheckpointLoader.register_scheme(prefixes='', loader=load_plain_checkpoint, force=True)
