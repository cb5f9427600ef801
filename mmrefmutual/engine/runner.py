"""The runner of mmrefmutual's configs: mmengine's, with safe checkpoint loading."""
from mmengine.runner import Runner

from mmrefmutual.registry import RUNNERS
from mmrefmutual.utils.checkpoint import safe_checkpoint_loading
from mmrefmutual.utils.mmcv_compat import route_deform_attn


@RUNNERS.register_module()
class RefRunner(Runner):
    """mmengine's :class:`~mmengine.runner.Runner` whose checkpoint loads (``load_from``,
    ``resume``, ``init_cfg`` of type ``Pretrained``) go through
    :func:`~mmrefmutual.utils.checkpoint.safe_load_checkpoint`: checkpoints written by
    mmengine's ``CheckpointHook`` and by mmdet's model zoo load, and a file that pickles
    any other class is refused with the class named.

    It also routes mmcv's deformable attention to mmcv's PyTorch implementation on GPUs
    without its CUDA kernel (:func:`~mmrefmutual.utils.mmcv_compat.route_deform_attn`:
    mmcv 2.1.0 under CUDA 13), so that step 0's Mask2Former and our models run there.

    Configs select it with ``runner_type = 'mmrefmutual.RefRunner'`` (``configs/_base_/default_runtime.py``);
    both apply to the processes that run our configs, not to whoever imports the package.
    """

    def __init__(self, *args, **kwargs) -> None:
        route_deform_attn()
        super().__init__(*args, **kwargs)

    def train(self):
        with safe_checkpoint_loading():
            return super().train()

    def val(self) -> dict:
        with safe_checkpoint_loading():
            return super().val()

    def test(self) -> dict:
        with safe_checkpoint_loading():
            return super().test()
