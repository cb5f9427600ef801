from .checkpoint import (UnsafeCheckpointError, from_plain, safe_checkpoint_loading,
                         safe_load_checkpoint, to_plain)
from .cider import CiderD
from .dist import setup_distributed
from .setup_env import register_all_modules

__all__ = [
    'CiderD', 'UnsafeCheckpointError', 'from_plain', 'safe_checkpoint_loading',
    'safe_load_checkpoint', 'to_plain', 'setup_distributed', 'register_all_modules'
]
