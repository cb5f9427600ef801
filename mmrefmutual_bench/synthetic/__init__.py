"""The built-in synthetic referring benchmark (RefCOCO on-disk format): grammar and oracle.

At run time only the oracle is needed (:class:`~mmrefmutual_bench.SyntheticOracleMetric`
scores whether a generated expression fits exactly its object), so this package exports
the grammar and :class:`SyntheticOracle` alone. The generator that writes the benchmark (images, scenes,
expression planning; numpy, Pillow and pycocotools only) is imported explicitly by the
tools and tests that need it::

    from mmrefmutual_bench.synthetic.generator import generate_synthetic_refcoco

``CATEGORIES``, ``COLORS``, ``SHAPES`` and ``LOCATION_WORDS`` are the default
variant's; every variant (``variants.py``, data only) has its own, and the oracle
reads a variant's words (a :class:`Lexicon`) from its json files.
"""
from .grammar import (CATEGORIES, COLORS, DEFAULT_LEXICON, LOCATION_WORDS, SHAPES, SIZES, Desc,
                      Expression, Lexicon, Wording, evaluate, parse, realise)
from .oracle import SyntheticOracle

__all__ = [
    'SyntheticOracle', 'CATEGORIES', 'COLORS', 'SHAPES', 'SIZES', 'LOCATION_WORDS', 'Desc',
    'Expression', 'Lexicon', 'Wording', 'DEFAULT_LEXICON', 'parse', 'evaluate', 'realise'
]
