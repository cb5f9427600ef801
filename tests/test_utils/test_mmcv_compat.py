"""Deformable attention routing for GPUs without mmcv's CUDA kernel, simulated on the CPU."""
import pytest
import torch
from mmcv.ops import MultiScaleDeformableAttention

import mmcv.ops.multi_scale_deform_attn as msda
from mmrefmutual.utils import mmcv_compat

mmcv_compat.route_deform_attn()  # as RefRunner and RefMutual do


class LooksLikeCuda(torch.Tensor):
    """A CPU tensor that says it is on a GPU, as do the results of ops on it."""

    @property
    def is_cuda(self):
        return True


def make_inputs():
    torch.manual_seed(0)
    attn = MultiScaleDeformableAttention(embed_dims=16, num_heads=2, num_levels=2, num_points=2,
                                         batch_first=True).eval()
    shapes = torch.tensor([[4, 4], [2, 2]])
    start = torch.tensor([0, 16])
    query = torch.randn(2, 5, 16)
    value = torch.randn(2, 20, 16)
    ref = torch.rand(2, 5, 2, 2)
    return attn, dict(query=query, value=value, reference_points=ref, spatial_shapes=shapes,
                      level_start_index=start)


@pytest.fixture
def fake_gpu(monkeypatch):
    """mmcv believes a GPU is there, and its ops have no CUDA kernel (as with CUDA 13)."""
    monkeypatch.setattr(msda, 'IS_CUDA_AVAILABLE', True)
    monkeypatch.setattr(mmcv_compat, '_state', dict(mmcv_compat._state, warned=False, usable={}))
    logs = []
    monkeypatch.setattr(mmcv_compat, 'print_log', lambda msg, **kw: logs.append((msg, kw)))
    return logs


def as_fake_cuda(inputs):
    return {k: v.as_subclass(LooksLikeCuda) if k in ('query', 'value') else v
            for k, v in inputs.items()}


def test_gpu_tensors_take_the_pytorch_path_with_one_warning(fake_gpu):
    attn, inputs = make_inputs()
    expected = attn(**inputs)  # CPU: mmcv's own PyTorch path
    assert mmcv_compat.mmcv_compiled_with_cuda() is False  # this machine's CPU-only mmcv
    for _ in range(3):
        out = attn(**as_fake_cuda(inputs))
        torch.testing.assert_close(out.as_subclass(torch.Tensor), expected, rtol=0, atol=0)
    assert len(fake_gpu) == 1
    msg, kwargs = fake_gpu[0]
    assert 'multi_scale_deformable_attn_pytorch' in msg and 'without CUDA ops' in msg
    assert kwargs['level'] >= 30  # logging.WARNING


def test_spatial_shapes_are_read_once_per_tensor(fake_gpu, monkeypatch):
    """The routed path reads the level shapes from the device once for all layers of a
    forward (mmcv's implementation would read every number at every layer)."""
    reads = []
    original = torch.Tensor.tolist

    def spy(self):
        reads.append(self.shape)
        return original(self)
    monkeypatch.setattr(torch.Tensor, 'tolist', spy)
    attn, inputs = make_inputs()
    expected = attn(**inputs)
    for _ in range(3):  # three layers of one forward: the same shapes tensor
        out = attn(**as_fake_cuda(inputs))
        torch.testing.assert_close(out.as_subclass(torch.Tensor), expected, rtol=0, atol=0)
    assert reads == [(2, 2)]
    shapes = inputs['spatial_shapes']
    assert mmcv_compat.spatial_shapes_list(shapes) == [(4, 4), (2, 2)] and len(reads) == 1
    shapes[1] = torch.tensor([1, 4])  # modified in place: read again
    assert mmcv_compat.spatial_shapes_list(shapes) == [(4, 4), (1, 4)] and len(reads) == 2
    other = torch.tensor([[4, 4], [2, 2]])  # another tensor (another forward): read again
    assert mmcv_compat.spatial_shapes_list(other) == [(4, 4), (2, 2)] and len(reads) == 3


def test_without_the_routing_gpu_tensors_reach_the_missing_kernel(fake_gpu, monkeypatch):
    """What the routing prevents (and what this simulation would show without it)."""
    attn, inputs = make_inputs()
    monkeypatch.setattr(msda, 'MultiScaleDeformableAttnFunction', mmcv_compat._state['kernel'])
    with pytest.raises(RuntimeError, match='not found|not implemented'):
        attn(**as_fake_cuda(inputs))


def test_kernel_built_but_failing_is_found_by_a_probe(fake_gpu, monkeypatch):
    """mmcv built with CUDA, but its kernel does not run here (e.g. another GPU arch)."""
    monkeypatch.setattr(mmcv_compat, 'mmcv_compiled_with_cuda', lambda: True)
    attn, inputs = make_inputs()
    expected = attn(**inputs)
    out = attn(**as_fake_cuda(inputs))
    torch.testing.assert_close(out.as_subclass(torch.Tensor), expected, rtol=0, atol=0)
    usable, reason = mmcv_compat.deform_attn_kernel_status(torch.device('cpu'))
    assert not usable and 'fails on this GPU' in reason
    assert len(fake_gpu) == 1 and 'fails on this GPU' in fake_gpu[0][0]


def test_working_kernel_is_used(fake_gpu, monkeypatch):
    calls = []

    class Kernel:
        @staticmethod
        def apply(*args):
            calls.append(args)
            return msda.multi_scale_deformable_attn_pytorch(args[0], args[1], args[3], args[4])

    monkeypatch.setitem(mmcv_compat._state, 'kernel', Kernel)
    monkeypatch.setitem(mmcv_compat._state, 'usable', {'cpu': (True, '')})
    attn, inputs = make_inputs()
    attn(**as_fake_cuda(inputs))
    assert len(calls) == 1 and calls[0][5] == attn.im2col_step
    assert fake_gpu == []


def test_cpu_is_untouched_and_patch_is_idempotent(monkeypatch):
    logs = []
    monkeypatch.setattr(mmcv_compat, 'print_log', lambda msg, **kw: logs.append(msg))
    assert msda.MultiScaleDeformableAttnFunction is mmcv_compat.RoutedMultiScaleDeformableAttnFunction
    kernel = mmcv_compat._state['kernel']
    mmcv_compat.route_deform_attn()
    assert mmcv_compat._state['kernel'] is kernel  # still mmcv's own function
    attn, inputs = make_inputs()
    assert attn(**inputs).shape == (2, 5, 16)  # CPU: mmcv's own PyTorch path, as before
    assert logs == [] and mmcv_compat._state['usable'] == {}  # no kernel check on CPU
