"""Autoregressive transformer decoder with cached keys/values.

Why our own layer: mmcv/mmdet's transformer layers (``MultiheadAttention``,
``DetrTransformerDecoderLayer``) recompute attention over the whole prefix at each
step and cannot keep per-step key/value caches, which makes beam search quadratic in
length. These layers reuse mmcv's ``FFN`` and follow the post-norm "add & norm"
layout of the original transformer decoder.
"""
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn.bricks.transformer import FFN
from torch import Tensor, nn


class CachedAttention(nn.Module):
    """Multi-head attention whose keys/values can be projected once and reused.

    Args:
        embed_dims (int): Feature size.
        num_heads (int): Number of heads.
        dropout (float): Attention dropout.
    """

    def __init__(self, embed_dims: int, num_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        assert embed_dims % num_heads == 0
        self.num_heads = num_heads
        self.dropout = dropout
        self.q_proj = nn.Linear(embed_dims, embed_dims)
        self.k_proj = nn.Linear(embed_dims, embed_dims)
        self.v_proj = nn.Linear(embed_dims, embed_dims)
        self.out_proj = nn.Linear(embed_dims, embed_dims)

    def _split(self, x: Tensor) -> Tensor:
        b, n, c = x.shape
        return x.view(b, n, self.num_heads, c // self.num_heads).transpose(1, 2)

    def project_kv(self, x: Tensor, contiguous: bool = True) -> Tuple[Tensor, Tensor]:
        """(B, L, C) -> keys and values, each (B, heads, L, C / heads).

        Made contiguous once here: attention would otherwise copy the transposed
        views on every call, i.e. the whole memory at every decoding step. Not for
        keys/values that are copied into a cache anyway (``contiguous=False``).
        """
        k, v = self._split(self.k_proj(x)), self._split(self.v_proj(x))
        return (k.contiguous(), v.contiguous()) if contiguous else (k, v)

    def forward(self, x: Tensor, k: Tensor, v: Tensor,
                key_padding_mask: Optional[Tensor] = None, is_causal: bool = False) -> Tensor:
        """Attend from ``x`` (B, Lq, C) to projected ``k``/``v``.

        Args:
            key_padding_mask (Tensor, optional): (B, Lk), True on keys to ignore.
            is_causal (bool): Causal mask (query i sees keys <= i).
        """
        q = self._split(self.q_proj(x))
        mask = None if key_padding_mask is None else ~key_padding_mask[:, None, None, :]
        if (q.shape[2] <= 4 and not is_causal and not self.training
                and q.device.type == 'cpu'):
            # decoding steps: a few queries per row; CPU's fused kernel has a fixed cost
            # far above this small product (profiled: ~0.27 ms per call). On a GPU the
            # fused kernel is one launch where this path takes several.
            attn = (q @ k.transpose(-2, -1)) * q.shape[-1]**-0.5
            if mask is not None:
                attn = attn.masked_fill(~mask, float('-inf'))
            out = attn.softmax(-1) @ v
        else:
            out = F.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, is_causal=is_causal,
                dropout_p=self.dropout if self.training else 0.0)
        b, h, n, d = out.shape
        return self.out_proj(out.transpose(1, 2).reshape(b, n, h * d))


class KVCache:
    """Static key/value cache of all layers of a decoder, for one decoding run.

    One buffer, ``(2 * layers, rows, heads, max_len, head_dim)``, allocated at the first
    write (with the dtype autocast gives the keys) and written in place: position t of
    layer i goes to ``[2i (keys) / 2i + 1 (values), :, :, t]``. Attention at position t
    reads positions ``<= t`` as a view (no per-step concatenation), and
    :meth:`reorder` permutes the rows of every layer with one ``index_select`` into a
    second buffer of the same size (no allocation per step). Positions beyond the
    newest one hold stale values and are never read.

    Args:
        num_layers (int): Decoder layers.
        max_len (int): Positions to hold (BOS included).
    """

    def __init__(self, num_layers: int, max_len: int) -> None:
        self.num_layers = num_layers
        self.max_len = max_len
        self.data: Optional[Tensor] = None
        self._spare: Optional[Tensor] = None

    def update(self, layer: int, pos: int, k: Tensor, v: Tensor) -> Tuple[Tensor, Tensor]:
        """Store keys/values (rows, heads, 1, head_dim) of position ``pos`` of ``layer``.

        Returns:
            tuple[Tensor, Tensor]: Keys and values of positions ``<= pos``, views
            (rows, heads, pos + 1, head_dim) into the cache.
        """
        if pos >= self.max_len:
            raise IndexError(f'position {pos} beyond the cache length {self.max_len}')
        if self.data is None:
            rows, heads, _, dims = k.shape
            self.data = k.new_empty(2 * self.num_layers, rows, heads, self.max_len, dims)
            self._spare = torch.empty_like(self.data)
        self.data[2 * layer, :, :, pos] = k[:, :, 0]
        self.data[2 * layer + 1, :, :, pos] = v[:, :, 0]
        return self.data[2 * layer, :, :, :pos + 1], self.data[2 * layer + 1, :, :, :pos + 1]

    def reorder(self, rows: Tensor) -> None:
        """Make row r of every layer's cache the former row ``rows[r]``."""
        if self.data is not None:
            torch.index_select(self.data, 1, rows, out=self._spare)
            self.data, self._spare = self._spare, self.data


class CachedDecoderLayer(nn.Module):
    """Self-attention (causal) -> cross-attention -> FFN, each with add & norm."""

    def __init__(self, embed_dims: int, num_heads: int, ffn_channels: int,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.self_attn = CachedAttention(embed_dims, num_heads, dropout)
        self.cross_attn = CachedAttention(embed_dims, num_heads, dropout)
        self.ffn = FFN(embed_dims, ffn_channels, ffn_drop=dropout)
        self.norms = nn.ModuleList(nn.LayerNorm(embed_dims) for _ in range(3))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, memory_kv: Tuple[Tensor, Tensor],
                memory_mask: Optional[Tensor] = None,
                cache: Optional[Tuple[KVCache, int, int]] = None) -> Tensor:
        """Decode.

        Args:
            x (Tensor): (B, T, C) all positions (teacher forcing, ``cache`` None)
                or (B, 1, C) the newest position (``cache`` given).
            memory_kv (tuple[Tensor]): Cross-attention keys/values of the memory,
                (B / G, heads, N, C / heads): G consecutive rows of ``x`` (e.g. the
                beams of one object) share one memory, which is then attended to
                once for all their queries instead of being copied G times.
            memory_mask (Tensor, optional): (B / G, N) True on memory items to ignore.
            cache (tuple, optional): ``(kv_cache, layer_index, position)``: the
                newest position's keys/values are written there and attention
                reads all positions up to it.

        Returns:
            Tensor: (B, T, C) decoded features.
        """
        if cache is not None:  # written into the cache: no contiguous copy first
            kv_cache, layer, pos = cache
            k, v = kv_cache.update(layer, pos, *self.self_attn.project_kv(x, contiguous=False))
        else:
            k, v = self.self_attn.project_kv(x)
        causal = cache is None and x.shape[1] > 1
        x = self.norms[0](x + self.drop(self.self_attn(x, k, v, is_causal=causal)))
        b, t, c = x.shape
        grouped = x.reshape(memory_kv[0].shape[0], -1, c)  # (B / G, G * T, C)
        cross = self.cross_attn(grouped, *memory_kv, key_padding_mask=memory_mask)
        x = self.norms[1](x + self.drop(cross.reshape(b, t, c)))
        return self.norms[2](self.ffn(x))


class CachedTransformerDecoder(nn.Module):
    """A stack of :class:`CachedDecoderLayer`.

    Args:
        num_layers (int): Number of layers (4 in the paper).
        embed_dims, num_heads, ffn_channels, dropout: Layer sizes.
    """

    def __init__(self, num_layers: int = 4, embed_dims: int = 256, num_heads: int = 8,
                 ffn_channels: int = 2048, dropout: float = 0.1) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            CachedDecoderLayer(embed_dims, num_heads, ffn_channels, dropout)
            for _ in range(num_layers))

    def project_memory(self, memory: Tensor) -> List[Tuple[Tensor, Tensor]]:
        """Cross-attention keys/values of ``memory`` (B, N, C) for every layer."""
        return [layer.cross_attn.project_kv(memory) for layer in self.layers]

    def new_cache(self, max_len: int) -> KVCache:
        """An empty :class:`KVCache` of ``max_len`` positions for this decoder."""
        return KVCache(len(self.layers), max_len)

    def forward(self, x: Tensor, memory_kvs: List[Tuple[Tensor, Tensor]],
                memory_mask: Optional[Tensor] = None, cache: Optional[KVCache] = None,
                pos: int = 0) -> Tensor:
        """Decode all positions at once (teacher forcing) or one step with a cache.

        Args:
            x (Tensor): (B, T, C) embedded tokens; with ``cache``, (B, 1, C) the
                token at position ``pos``.
            memory_kvs (list[tuple[Tensor]]): :meth:`project_memory` of the memory.
            memory_mask (Tensor, optional): True on memory items to ignore.
            cache (KVCache, optional): Keys/values of positions ``< pos``; those of
                ``pos`` are added.
            pos (int): Position of ``x`` when ``cache`` is given.

        Returns:
            Tensor: (B, T, C) decoded features.
        """
        for i, layer in enumerate(self.layers):
            x = layer(x, memory_kvs[i], memory_mask, None if cache is None else (cache, i, pos))
        return x
