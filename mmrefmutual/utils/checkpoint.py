"""Checkpoints loaded under ``torch.load(weights_only=True)``, never by running their code.

A checkpoint is a pickle: loaded with ``weights_only=False`` it can call any importable
function. torch's ``weights_only`` unpickler admits tensors and containers only, plus the
globals named in :func:`torch.serialization.safe_globals`. mmengine's ``CheckpointHook``
(and so every mmdet-trained model) pickles a few more: ``HistoryBuffer`` with numpy arrays
in the message hub, numpy scalars in the meta. So:

* :func:`safe_load_checkpoint` loads a local file with ``weights_only=True`` and exactly
  those known mmengine/numpy types allowed (:data:`MMENGINE_SAFE_GLOBALS`); anything else
  is refused with an :class:`UnsafeCheckpointError` that names the class, and nothing in
  the file is executed. Our own loads use it (``init_model``, the referee, step 3).
* :func:`safe_checkpoint_loading` is a context in which mmengine's loads (``load_from``,
  ``resume``, ``init_cfg``) behave the same; :class:`~mmrefmutual.engine.RefRunner`
  (``runner_type`` of our configs) runs ``train()`` / ``val()`` / ``test()`` inside it.
  Nothing is changed at import: a process that imports mmrefmutual but runs its own
  mmengine runner loads its checkpoints exactly as before.
* :class:`~mmrefmutual.engine.hooks.PlainCheckpointHook` writes our checkpoints as plain
  containers and tensors (:func:`to_plain`), which any ``weights_only`` load accepts
  without an allow-list.
"""
import os.path as osp
import pickle
import re
from collections import OrderedDict
from contextlib import contextmanager
from typing import Any, Iterator, List

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader, load_from_local

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


def _numpy_globals() -> List[Any]:
    """numpy's pickling helpers and dtypes, also under their numpy 1.x names
    (``numpy.core``), which files written with numpy < 2 carry."""
    try:
        from numpy._core import multiarray  # numpy >= 2
    except ImportError:
        from numpy.core import multiarray
    allowed: List[Any] = [np.ndarray, np.dtype, multiarray._reconstruct, multiarray.scalar,
                          (multiarray._reconstruct, 'numpy.core.multiarray._reconstruct'),
                          (multiarray.scalar, 'numpy.core.multiarray.scalar')]
    # the dtype classes pickled with an array or scalar (numpy.dtypes.Float64DType...)
    for name in ('bool_', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32',
                 'uint64', 'float16', 'float32', 'float64', 'complex64', 'complex128',
                 'str_', 'bytes_'):
        allowed.append(type(np.dtype(getattr(np, name))))
    return allowed


def _history_buffer_method(obj: Any, name: str) -> Any:
    """Stands in for ``builtins.getattr`` while loading: a ``HistoryBuffer`` pickles its
    statistics methods as ``getattr(HistoryBuffer, 'mean')``. A free ``getattr`` would let
    a file reach any attribute of an allowed object (``numpy.ndarray.tofile``...), so this
    one serves those methods only."""
    if obj is HistoryBuffer and isinstance(name, str) and (
            name in ('min', 'max', 'current', 'mean')
            or name in HistoryBuffer._statistics_methods):
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(f'Unsupported global: GLOBAL builtins.getattr (of {name!r} '
                                 f'on {getattr(obj, "__name__", type(obj).__name__)})')


def _mmengine_safe_globals() -> List[Any]:
    return [HistoryBuffer, (_history_buffer_method, 'builtins.getattr'), *_numpy_globals()]


#: The globals mmengine's CheckpointHook pickles besides tensors and containers. Numeric
#: and string numpy arrays only: an object array's items are pickled as further globals,
#: which stay refused.
MMENGINE_SAFE_GLOBALS: List[Any] = _mmengine_safe_globals()


def _refusal(filename: str, err: Exception) -> UnsafeCheckpointError:
    message = str(err)
    # torch words its refusal in several ways; each names the global or the class
    found = (re.search(r'GLOBAL (\S+(?: \(of [^)]*\))?)', message)
             or re.search(r"but got <class '([^']+)'>", message))
    named = found.group(1) if found else message.splitlines()[0]
    return UnsafeCheckpointError(
        f'Refusing to load {filename!r}: it pickles {named}, which is neither a tensor, a '
        'container nor one of the mmengine/numpy types checkpoints are known to hold, and '
        'loading it could run code. If you trust the file, re-save its state_dict with '
        'torch.save.')


def safe_load_checkpoint(filename: str, map_location=None, mmap: bool = False) -> dict:
    """Load a local checkpoint with ``weights_only=True`` and the mmengine/numpy allow-list.

    Args:
        filename (str): Path of the checkpoint.
        map_location: Passed to :func:`torch.load`.
        mmap (bool): Map the tensors from the file instead of reading them (for a look
            at the meta only). Defaults to False.

    Returns:
        dict: The checkpoint.

    Raises:
        UnsafeCheckpointError: if the file pickles any other global (the error names
            it); nothing in the file is executed.
    """
    try:
        with torch.serialization.safe_globals(MMENGINE_SAFE_GLOBALS):
            return torch.load(filename, map_location=map_location, weights_only=True,
                              mmap=mmap)
    except pickle.UnpicklingError as err:
        raise _refusal(filename, err) from None


def _load_from_local(filename: str, map_location=None) -> dict:
    """mmengine's local loader, through :func:`safe_load_checkpoint`."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return safe_load_checkpoint(filename, map_location=map_location)


@contextmanager
def safe_checkpoint_loading() -> Iterator[None]:
    """mmengine's loads of local files inside this context go through
    :func:`safe_load_checkpoint` (whatever torch's ``weights_only`` default); mmengine's
    own loader is put back on exit.

    mmengine has no public way to read back a registered loader, and the local-file
    scheme is always its :func:`mmengine.runner.checkpoint.load_from_local`, which is what
    is restored (``tests/test_utils/test_checkpoint.py`` fails if that changes).
    """
    CheckpointLoader.register_scheme(prefixes='', loader=_load_from_local, force=True)
    try:
        yield
    finally:
        CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)
