"""Load the RefCOCO ``refs(*).p`` pickles without letting them run code.

A pickle can call any importable callable while it is being loaded (``REDUCE``
on a global such as ``os.system``), so ``pickle.load`` on a downloaded file is
arbitrary code execution. The refs files are nothing but lists, dicts, strings
and numbers, which pickle encodes with dedicated opcodes that never look up a
global. :class:`_NoGlobalsUnpickler` therefore refuses *every* global: a file
that names one is rejected before anything it references is imported or called.

The files were written by Python 2 (protocol 0 or 2): py2 ``unicode`` is read
as ``str`` directly, py2 ``str`` is read as ``bytes`` and then decoded here
(UTF-8, falling back to latin-1), which is why no ``copy_reg`` helper or other
global is ever needed.
"""
import io
import pickle
from typing import Any, Optional

from mmengine.fileio import get


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle references a global (class or function) and was refused."""


class _NoGlobalsUnpickler(pickle.Unpickler):
    """Unpickler that refuses to resolve any global.

    ``find_class`` is the only way a pickle reaches a class or callable
    (``GLOBAL``, ``STACK_GLOBAL``, ``INST``, ``OBJ`` and the extension-registry
    opcodes all go through it), so refusing it here leaves nothing to call.
    ``persistent_load`` is left undefined, which makes pickle refuse persistent
    ids as well.
    """

    def find_class(self, module: str, name: str) -> Any:
        raise UnsafePickleError(
            f'Refusing to unpickle the global {module}.{name}: only plain containers, '
            'strings and numbers are allowed in this file, and resolving a global could '
            'run arbitrary code.')


def _decode_py2_bytes(obj: Any) -> Any:
    """Recursively turn the ``bytes`` of Python 2 ``str`` objects into ``str``.

    Args:
        obj: A structure of dicts, lists, tuples, strings and numbers.

    Returns:
        The same structure with every ``bytes`` decoded (UTF-8, else latin-1).
    """
    if isinstance(obj, bytes):
        try:
            return obj.decode('utf-8')
        except UnicodeDecodeError:
            return obj.decode('latin-1')
    if isinstance(obj, dict):
        return {_decode_py2_bytes(k): _decode_py2_bytes(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode_py2_bytes(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_decode_py2_bytes(v) for v in obj)
    return obj


def safe_loads_pickle(data: bytes, source: str = '<bytes>') -> Any:
    """Unpickle ``data`` refusing every global.

    Args:
        data (bytes): The pickled bytes.
        source (str): Name used in error messages. Defaults to ``'<bytes>'``.

    Returns:
        The unpickled plain structure; ``bytes`` (Python 2 ``str``) are returned
        as ``str``, so this is meant for text data such as the refs files.

    Raises:
        UnsafePickleError: if the pickle names any global.
        pickle.UnpicklingError: for any other malformed content.
    """
    # encoding='bytes' keeps py2 str as raw bytes, decoded per value afterwards:
    # 'latin1' would silently mangle UTF-8 text and 'ascii' would fail on it.
    unpickler = _NoGlobalsUnpickler(io.BytesIO(data), encoding='bytes')
    try:
        obj = unpickler.load()
    except UnsafePickleError as err:
        raise UnsafePickleError(f'{source}: {err}') from None
    except (EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError,
            pickle.UnpicklingError) as err:
        raise pickle.UnpicklingError(
            f'{source}: not a readable pickle of plain data ({type(err).__name__}: {err})'
        ) from err
    return _decode_py2_bytes(obj)


def safe_load_pickle(path: str, backend_args: Optional[dict] = None) -> Any:
    """Load a pickle file of plain data, refusing every global.

    Args:
        path (str): Path (or any URI an mmengine file backend understands).
        backend_args (dict, optional): Arguments of the mmengine file backend.
            Defaults to None.

    Returns:
        The unpickled structure (see :func:`safe_loads_pickle`).

    Raises:
        UnsafePickleError: if the pickle names any global; nothing in the file
            has been executed.
    """
    return safe_loads_pickle(get(path, backend_args=backend_args), source=str(path))
