"""mmrefmutual: mutual supervision of referring expression segmentation and generation."""
from .utils.checkpoint import register_plain_checkpoint_loader

__version__ = '0.1.0'

# Whatever imports us (a config's default_scope, a test, a tool), local checkpoints are
# then loaded with weights_only=True and refused with a clear error when unsafe.
register_plain_checkpoint_loader()
