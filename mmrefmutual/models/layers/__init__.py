from .beam_search import beam_search
from .cached_decoder import (CachedAttention, CachedDecoderLayer, CachedTransformerDecoder,
                             KVCache)

__all__ = [
    'beam_search', 'CachedAttention', 'CachedDecoderLayer', 'CachedTransformerDecoder', 'KVCache'
]
