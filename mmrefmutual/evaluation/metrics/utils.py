"""Small helpers shared by the RES/REG metrics."""
import shutil
from typing import Any, Optional

import numpy as np
import torch

JAVA_INSTALL_HINT = (
    'pycocoevalcap runs METEOR and the PTB tokenizer in Java, but no `java` executable was '
    'found on PATH. Install a Java runtime (>= 8), e.g. on Debian/Ubuntu '
    '`apt-get install default-jre-headless`, on conda `conda install -c conda-forge openjdk`, '
    'then make sure `java -version` works in the shell that runs the evaluation.')


def check_java() -> str:
    """Make sure a ``java`` executable is available.

    pycocoevalcap starts ``java`` through ``subprocess``; without it the failure surfaces
    as a ``FileNotFoundError``/``BrokenPipeError`` deep inside the scorer, possibly after a
    whole training run. Checking up front turns that into one actionable message.

    Returns:
        str: Path of the ``java`` executable.

    Raises:
        RuntimeError: If ``java`` is not on ``PATH``.
    """
    java = shutil.which('java')
    if java is None:
        raise RuntimeError(JAVA_INSTALL_HINT)
    return java


def get_field(obj: Any, name: str, default: Any = None) -> Any:
    """Read ``name`` from a dict (what mmengine's evaluator hands over) or a data element.

    Args:
        obj (Any): A ``dict`` produced by ``BaseDataElement.to_dict()`` or the data
            element itself (handy when a metric is fed ``DetDataSample`` directly).
        name (str): Field name.
        default (Any): Returned when the field is missing.

    Returns:
        Any: The field value or ``default``.
    """
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def to_numpy(value: Any, dtype: Optional[np.dtype] = None) -> np.ndarray:
    """Convert a tensor / array / sequence to a numpy array on the CPU.

    Args:
        value (Any): Tensor, ndarray or (nested) sequence of numbers.
        dtype (np.dtype, optional): Target dtype.

    Returns:
        np.ndarray: The converted array.
    """
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    return array.astype(dtype, copy=False) if dtype is not None else array
