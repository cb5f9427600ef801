"""Hook that keeps checkpoints loadable with ``weights_only=True``."""
from mmengine.hooks import Hook

from mmrefmutual.registry import HOOKS
from mmrefmutual.utils.checkpoint import from_plain, to_plain


@HOOKS.register_module()
class PlainCheckpointHook(Hook):
    """Save checkpoints as plain containers and tensors; restore on load.

    Keep it in ``custom_hooks`` (``configs/_base_/default_runtime.py`` does) so that
    ``--resume`` works with ``weights_only=True``.
    """

    priority = 'VERY_LOW'  # run after hooks that add to the checkpoint

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        plain = to_plain(checkpoint)
        checkpoint.clear()
        checkpoint.update(plain)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if 'message_hub' in checkpoint:
            checkpoint['message_hub'] = from_plain(checkpoint['message_hub'])
