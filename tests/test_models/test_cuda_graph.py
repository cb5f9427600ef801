"""CudaGraphCache's bookkeeping, with capture replaced by a recording stand-in (no GPU in CI;
tools/gpu_check.sh checks real capture against eager decoding on a GPU)."""
import torch

from mmrefmutual.models.layers import CudaGraphCache


class FakeGraph:
    """Replays by running the function again on the static inputs, writing the static
    outputs in place, as a replayed graph does."""

    def __init__(self, fn, static_inputs, log):
        self.fn, self.static_inputs, self.log = fn, static_inputs, log
        self.outputs = fn(*static_inputs)

    def replay(self):
        self.log.append('replay')
        for out, new in zip(self.outputs, self.fn(*self.static_inputs)):
            out.copy_(new)


def test_capture_once_per_key_replay_on_copied_inputs(monkeypatch):
    log = []

    def capture(fn, inputs):
        log.append('capture')
        static = tuple(x.clone() for x in inputs)
        graph = FakeGraph(fn, static, log)
        return graph, static, graph.outputs

    monkeypatch.setattr(CudaGraphCache, '_capture', staticmethod(capture))
    cache = CudaGraphCache(max_graphs=2)
    double = (lambda x: (x * 2, x.sum()))
    a = torch.arange(4.0)
    out = cache('k4', double, a)
    torch.testing.assert_close(out[0], a * 2)
    b = torch.full((4,), 5.0)
    out_b = cache('k4', double, b)  # same key: replayed on b's values
    torch.testing.assert_close(out_b[0], b * 2)
    torch.testing.assert_close(out[0], a * 2)  # earlier outputs are copies, not overwritten
    assert log == ['capture', 'replay', 'replay'] and cache.captures == 1
    cache('k3', double, torch.ones(3))
    cache('k4', double, a)  # k4 used last: k3 is the oldest
    cache('k2', double, torch.ones(2))  # evicts k3
    assert len(cache) == 2 and cache.captures == 3
    cache('k3', double, torch.ones(3))
    assert cache.captures == 4
    cache.clear()
    assert len(cache) == 0


def test_failed_capture_warns_once_and_runs_eagerly(monkeypatch):
    from mmrefmutual.models.layers import cuda_graph
    logs = []
    monkeypatch.setattr(cuda_graph, 'print_log', lambda msg, **kw: logs.append(msg))

    def capture(fn, inputs):
        raise RuntimeError('operation not permitted when stream is capturing')

    monkeypatch.setattr(CudaGraphCache, '_capture', staticmethod(capture))
    cache = CudaGraphCache()
    for value in (1.0, 3.0):
        out = cache('k', lambda x: (x + 1, ), torch.full((2,), value))
        torch.testing.assert_close(out[0], torch.full((2,), value + 1))
    assert len(logs) == 1 and 'not permitted' in logs[0] and 'for k,' in logs[0]
    assert cache.captures == 0 and len(cache) == 0
