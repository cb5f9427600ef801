"""The built-in synthetic referring benchmark (RefCOCO on-disk format) and its oracle.

Only numpy, Pillow and pycocotools are needed here (no torch / mmdet import):

- :func:`generate_synthetic_refcoco` writes the benchmark (see :mod:`.generator`
  for the layout, the splits and determinism);
- :class:`SyntheticOracle` tells which objects an expression fits (the grammar
  and its exact semantics are documented in :mod:`.grammar`).
"""
from .generator import SPLITS, generate_synthetic_refcoco
from .grammar import (CATEGORIES, COLORS, LOCATION_WORDS, SHAPES, SIZES, Desc, Expression,
                      evaluate, parse, realise)
from .oracle import SyntheticOracle

__all__ = [
    'generate_synthetic_refcoco', 'SyntheticOracle', 'SPLITS', 'CATEGORIES', 'COLORS',
    'SHAPES', 'SIZES', 'LOCATION_WORDS', 'Desc', 'Expression', 'parse', 'evaluate', 'realise'
]
