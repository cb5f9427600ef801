"""The built-in synthetic referring benchmark (RefCOCO on-disk format): grammar and oracle.

At run time only the oracle is needed (``REGMetric(oracle_ann_file=...)`` scores whether
a generated expression fits exactly its object), so this package exports the grammar and
:class:`SyntheticOracle` alone. The generator that writes the benchmark (images, scenes,
expression planning; numpy, Pillow and pycocotools only) is imported explicitly by the
tools and tests that need it::

    from mmrefmutual.datasets.synthetic.generator import generate_synthetic_refcoco
"""
from .grammar import (CATEGORIES, COLORS, LOCATION_WORDS, SHAPES, SIZES, Desc, Expression,
                      evaluate, parse, realise)
from .oracle import SyntheticOracle

__all__ = [
    'SyntheticOracle', 'CATEGORIES', 'COLORS', 'SHAPES', 'SIZES', 'LOCATION_WORDS', 'Desc',
    'Expression', 'parse', 'evaluate', 'realise'
]
