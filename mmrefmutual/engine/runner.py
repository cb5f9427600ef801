"""The runner of mmrefmutual's configs: mmengine's, with safe checkpoint loading."""
from mmengine.runner import Runner

from mmrefmutual.registry import RUNNERS
from mmrefmutual.utils.checkpoint import safe_checkpoint_loading


@RUNNERS.register_module()
class RefRunner(Runner):
    """mmengine's :class:`~mmengine.runner.Runner` whose checkpoint loads (``load_from``,
    ``resume``, ``init_cfg`` of type ``Pretrained``) go through
    :func:`~mmrefmutual.utils.checkpoint.safe_load_checkpoint`: checkpoints written by
    mmengine's ``CheckpointHook`` and by mmdet's model zoo load, and a file that pickles
    any other class is refused with the class named.

    Configs select it with ``runner_type = 'mmrefmutual.RefRunner'`` (``configs/_base_/default_runtime.py``);
    the safe loading applies to this runner only, not to other runners in the process.
    """

    def train(self):
        with safe_checkpoint_loading():
            return super().train()

    def val(self) -> dict:
        with safe_checkpoint_loading():
            return super().val()

    def test(self) -> dict:
        with safe_checkpoint_loading():
            return super().test()
