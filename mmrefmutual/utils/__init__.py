from .checkpoint import (UnsafeCheckpointError, from_plain, load_plain_checkpoint,
                         register_plain_checkpoint_loader, to_plain)
from .cider import CiderD
from .dist import setup_distributed
from .setup_env import register_all_modules

__all__ = [
    'CiderD', 'UnsafeCheckpointError', 'from_plain', 'load_plain_checkpoint',
    'register_plain_checkpoint_loader', 'to_plain', 'setup_distributed', 'register_all_modules'
]
