from .beam_search import beam_search_loop, finish_beams
from .cached_decoder import (CachedAttention, CachedDecoderLayer, CachedTransformerDecoder,
                             KVCache)
from .cuda_graph import CudaGraphCache, CudaGraphsMixin, cuda_autocast_dtype, pow2_bucket

__all__ = [
    'beam_search_loop', 'finish_beams', 'CachedAttention', 'CachedDecoderLayer',
    'CachedTransformerDecoder', 'KVCache', 'CudaGraphCache', 'CudaGraphsMixin',
    'cuda_autocast_dtype', 'pow2_bucket'
]
