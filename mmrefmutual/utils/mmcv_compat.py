"""Deformable attention on GPUs whose mmcv build has no CUDA kernel for it.

mmcv's ``MultiScaleDeformableAttention`` (Mask2Former's pixel decoder) sends CUDA tensors
to its compiled kernel ``ms_deform_attn_forward`` whenever torch sees a GPU, and CPU
tensors to its PyTorch implementation ``multi_scale_deformable_attn_pytorch``. mmcv
2.1.0 cannot compile its CUDA kernels with CUDA 13 (open-mmlab/mmcv#3308), so there its
ops are built for the CPU only and every GPU forward would fail with "not implemented
on CUDA".

:func:`route_deform_attn` patches the one call of the kernel in mmcv's module: where the
kernel is missing (mmcv built without CUDA) or does not run on this GPU (built for
another architecture, tried once per device on a tiny input), CUDA tensors take mmcv's
own PyTorch implementation, and one warning says so and why. Nothing else changes:
CPU tensors never reach the kernel call, and a working kernel is used as before.
"""
import logging
import weakref
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.logging import print_log
from torch import Tensor

_PATCHED_NAME = 'MultiScaleDeformableAttnFunction'
_state: Dict = dict(kernel=None, warned=False, usable={}, shapes=None)


def _msda_module():
    import mmcv.ops.multi_scale_deform_attn as msda
    return msda


def mmcv_compiled_with_cuda() -> bool:
    """Whether mmcv's compiled ops include CUDA kernels (mmcv's build info)."""
    from mmcv.ops import get_compiling_cuda_version
    return get_compiling_cuda_version() not in ('not available', 'rocm not available')


def _probe_kernel(device: torch.device) -> Optional[str]:
    """Run the CUDA kernel once on a tiny input of ``device``.

    Returns:
        str | None: Why it cannot be used, or None when it runs and agrees with the
        PyTorch implementation.
    """
    msda = _msda_module()
    g = torch.Generator().manual_seed(0)
    # 1 image, 2 levels (2x2, 1x1), 1 head of 4 channels, 3 queries, 2 points
    shapes = torch.tensor([[2, 2], [1, 1]], dtype=torch.long)
    start = torch.tensor([0, 4], dtype=torch.long)
    value = torch.rand(1, 5, 1, 4, generator=g)
    loc = torch.rand(1, 3, 1, 2, 2, 2, generator=g)
    weights = torch.rand(1, 3, 1, 2, 2, generator=g).softmax(-1)
    expected = msda.multi_scale_deformable_attn_pytorch(value, shapes, loc, weights)
    try:
        out = _state['kernel'].apply(*(x.to(device) for x in (value, shapes, start, loc, weights)),
                                     64)
        out = out.cpu()  # waits for the kernel: its errors surface here
    except Exception as e:  # noqa: BLE001 (any failure of the kernel means: do not use it)
        return f'its CUDA kernel fails on this GPU ({type(e).__name__}: {str(e)[:200]})'
    if not torch.allclose(out, expected, atol=1e-4):
        return 'its CUDA kernel gives wrong results on this GPU'
    return None


def deform_attn_kernel_status(device: torch.device) -> Tuple[bool, str]:
    """Whether mmcv's deformable-attention CUDA kernel serves tensors on ``device``.

    Args:
        device (torch.device): A CUDA device.

    Returns:
        tuple[bool, str]: Usable or not, and why not (empty when usable).
    """
    device = torch.device(device)
    key = str(device)
    if key not in _state['usable']:
        if _state['kernel'] is None:
            _state['kernel'] = _msda_module().MultiScaleDeformableAttnFunction
        if not mmcv_compiled_with_cuda():
            reason = ('mmcv was built without CUDA ops (e.g. mmcv 2.1.0 cannot compile them '
                      'with CUDA 13, open-mmlab/mmcv#3308)')
        else:
            reason = _probe_kernel(device)
        _state['usable'][key] = (reason is None, reason or '')
    return _state['usable'][key]


class RoutedMultiScaleDeformableAttnFunction:
    """Stands in for mmcv's ``MultiScaleDeformableAttnFunction`` in its module.

    ``apply`` has the kernel's signature: the kernel serves it where it works, mmcv's
    ``multi_scale_deformable_attn_pytorch`` elsewhere (with one warning).
    """

    @staticmethod
    def apply(value: Tensor, spatial_shapes: Tensor, level_start_index: Tensor,
              sampling_locations: Tensor, attention_weights: Tensor,
              im2col_step: int) -> Tensor:
        """Multi-scale deformable attention, (bs, num_queries, embed_dims)."""
        if value.is_cuda:
            usable, reason = deform_attn_kernel_status(value.device)
            if not usable:
                if not _state['warned']:
                    _state['warned'] = True
                    print_log(
                        'MultiScaleDeformableAttention: GPU tensors take mmcv\'s PyTorch '
                        f'implementation (multi_scale_deformable_attn_pytorch) because {reason}; '
                        'results are the same, the pixel decoder is slower.',
                        logger='current', level=logging.WARNING)
                # as the kernel does: its inputs follow the dtype of `value` (fp16 models)
                return _msda_module().multi_scale_deformable_attn_pytorch(
                    value, spatial_shapes_list(spatial_shapes), sampling_locations.type_as(value),
                    attention_weights.type_as(value))
        return _state['kernel'].apply(value, spatial_shapes, level_start_index,
                                      sampling_locations, attention_weights, im2col_step)


def spatial_shapes_list(spatial_shapes: Tensor) -> List[Tuple[int, int]]:
    """The ``(h, w)`` of each level as ints, read from the device once per tensor.

    mmcv's PyTorch implementation iterates over the tensor, one read from the device per
    number (about ten waits per layer on a GPU); a list serves it as well. The pixel
    decoder passes the same tensor to all its layers, so one read serves a forward
    (remembered while that tensor lives and is not modified in place).
    """
    memo = _state['shapes']
    if memo is not None and memo[0]() is spatial_shapes and memo[1] == spatial_shapes._version:
        return memo[2]
    shapes = [(int(h), int(w)) for h, w in spatial_shapes.tolist()]
    _state['shapes'] = (weakref.ref(spatial_shapes), spatial_shapes._version, shapes)
    return shapes


def route_deform_attn() -> None:
    """Patch mmcv's deformable attention so that GPUs without its kernel use PyTorch's.

    Idempotent; applied by :class:`~mmrefmutual.engine.RefRunner` (our configs' runner) and
    when a :class:`~mmrefmutual.models.RefMutual` is built, never by importing the package.
    The kernel is checked at the first GPU forward, never on CPU.
    """
    msda = _msda_module()
    current = getattr(msda, _PATCHED_NAME)
    if current is RoutedMultiScaleDeformableAttnFunction:
        return
    _state['kernel'] = current
    setattr(msda, _PATCHED_NAME, RoutedMultiScaleDeformableAttnFunction)
