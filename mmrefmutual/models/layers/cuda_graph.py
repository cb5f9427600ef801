"""Capture a no-grad function of fixed-shape tensors once as a CUDA graph, replay it after.

Why our own: ``torch.cuda.make_graphed_callables`` graphs modules that are trained
through the graph (it captures a backward pass and wants the grad state of the sample
inputs); decoding is a no-grad function whose shapes we bucket, which is the plain
capture-and-replay pattern of PyTorch's CUDA-graphs notes, plus a key per shape.
"""
import logging
from collections import OrderedDict
from typing import Callable, Hashable, Optional, Tuple

import torch
from mmengine.logging import print_log
from torch import Tensor


def pow2_bucket(n: int, smallest: int = 8) -> int:
    """The smallest power of two >= ``n`` and >= ``smallest``: how many rows a captured
    graph has, so that a few graphs serve every batch."""
    size = smallest
    while size < n:
        size *= 2
    return size


class CudaGraphCache:
    """Captured CUDA graphs of functions, one per key, least recently used dropped.

    ``cache(key, fn, *inputs)`` runs ``fn(*inputs)`` (tensors in, a tuple of tensors out)
    by copying ``inputs`` into the static inputs of the graph captured for ``key``
    (capturing it at the first call, after two warm-up runs on a side stream) and
    replaying it. ``key`` must name everything the capture depends on besides the
    values of ``inputs``: their shapes and dtypes, the function's other arguments
    and the autocast state. Outputs are copies, valid after the next replay.

    Where capture fails (an operation that cannot be captured, e.g. in another torch
    version), one warning names the error and that key runs eagerly from then on: the
    results are the same, only slower (``captures`` does not count it).

    The graph reads the module's parameters where they are: updating them in place
    (an optimizer step, ``load_state_dict``) is seen by the next replay; moving them
    (``.to()``) needs :meth:`clear`. ``fn`` must not read anything back from the
    device (``.item()``, ``bool(tensor)``, data-dependent shapes): capture fails then.

    Args:
        max_graphs (int): Graphs kept (each holds its own memory pool).
    """

    def __init__(self, max_graphs: int = 8) -> None:
        self.max_graphs = max_graphs
        self._graphs: 'OrderedDict[Hashable, tuple]' = OrderedDict()
        self._failed: set = set()  # keys whose capture failed: run eagerly
        self.captures = 0  # graphs captured so far (tests and benchmarks read it)

    def __deepcopy__(self, memo) -> 'CudaGraphCache':
        return CudaGraphCache(self.max_graphs)  # a copied model captures its own

    def __getstate__(self) -> dict:
        return dict(max_graphs=self.max_graphs)

    def __setstate__(self, state: dict) -> None:
        self.__init__(state['max_graphs'])

    def __len__(self) -> int:
        return len(self._graphs)

    def clear(self) -> None:
        self._graphs.clear()
        self._failed.clear()

    def __call__(self, key: Hashable, fn: Callable[..., Tuple[Tensor, ...]],
                 *inputs: Tensor) -> Tuple[Tensor, ...]:
        if key in self._failed:
            return tuple(fn(*inputs))
        entry = self._graphs.get(key)
        if entry is None:
            try:
                entry = self._capture(fn, inputs)
            except RuntimeError as err:
                self._failed.add(key)
                print_log(f'CUDA graph capture failed for {key}, which runs eagerly from now '
                          f'on (same results, slower): {err}', logger='current',
                          level=logging.WARNING)
                return tuple(fn(*inputs))
            self._graphs[key] = entry
            self.captures += 1
            while len(self._graphs) > self.max_graphs:
                self._graphs.popitem(last=False)
        else:
            self._graphs.move_to_end(key)
        graph, static_inputs, static_outputs = entry
        for static, value in zip(static_inputs, inputs):
            static.copy_(value)
        graph.replay()
        return tuple(out.clone() for out in static_outputs)

    @staticmethod
    def _capture(fn: Callable[..., Tuple[Tensor, ...]], inputs: Tuple[Tensor, ...]) -> tuple:
        static_inputs = tuple(x.clone() for x in inputs)
        # lazy initialisation (cuBLAS handles, kernel selection) must happen before
        # capture, on a side stream as PyTorch's notes ask
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(2):
                fn(*static_inputs)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        # thread_local: a data loader's pin-memory thread may call CUDA meanwhile
        with _autocast_without_cache(), torch.cuda.graph(graph,
                                                         capture_error_mode='thread_local'):
            static_outputs = fn(*static_inputs)
        return graph, static_inputs, tuple(static_outputs)


class CudaGraphsMixin:
    """For modules that replay their own CUDA graphs: ``self._graphs`` (a
    :class:`CudaGraphCache`) is emptied whenever the module's tensors move or change type
    (``.to()``, ``.cuda()``, ``.half()``...), since captured graphs point at their memory."""

    def _apply(self, *args, **kwargs):
        self._graphs.clear()
        return super()._apply(*args, **kwargs)


def cuda_autocast_dtype() -> Optional[torch.dtype]:
    """The dtype of CUDA autocast where it is on, else None: part of a graph's key."""
    return torch.get_autocast_dtype('cuda') if torch.is_autocast_enabled('cuda') else None


def _autocast_without_cache():
    """The current CUDA autocast state with its weight-cast cache off, which capture
    needs (cast weights cached outside the graph would be freed under it)."""
    dtype = cuda_autocast_dtype()
    if dtype is None:
        return torch.autocast('cuda', enabled=False)
    return torch.autocast('cuda', dtype=dtype, cache_enabled=False)
