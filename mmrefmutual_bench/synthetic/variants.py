"""Variants of the synthetic benchmark: one grammar, other shapes, colours, words and sizes.

The recipe (model, configs) was tuned on the default benchmark. A variant writes
RefCOCO-layout data it was not designed on, with the same exact oracle: other
shape renderings and names, other colour names and RGB values, other words for
sizes, locations and relations, another default image side. Only the surface
changes; the grammar's structure and semantics (:mod:`.grammar`), the scene
statistics and the splits are those of the default.

A variant maps every *canonical* (default) shape and colour to its own, slot by
slot: the shape keeps the category id, supercategory slot and scene theme of the
canonical one it replaces, so results can be compared per slot. Its words are a
:class:`~.grammar.Wording` (what the generator writes) and the
:class:`~.grammar.Lexicon` that accepts exactly those phrases; the generator
stores that lexicon in ``info['lexicon']`` (and the name in ``info['variant']``)
of a variant's json files, and :class:`~.oracle.SyntheticOracle` reads it from
there, so an oracle never needs to be told the variant. The default variant
writes neither key (its files are byte-identical to those of earlier versions).

=========  =======================================  =======================================
slot       default                                  ``'alt'``
=========  =======================================  =======================================
shapes     circle square triangle | star cross      hexagon diamond crescent | arrow heart
colours    red green blue yellow purple orange      pink lime navy gold brown cyan
sizes      small / medium / big                     mini / mid-size / giant
extremes   on the left, leftmost, top ...           at the left side, left-hand, upper ...
ordinals   second ... from the left                 second ... counting from the left
relations  left of, above, next to, behind ...      to the left of, higher than, beside,
                                                    obscured by ...
image      128 px                                   160 px
=========  =======================================  =======================================

This module is data only (it imports the grammar alone); the polygons of the
shapes are drawn in :mod:`.scene`.
"""
from typing import Dict, NamedTuple, Optional, Tuple

from .grammar import (CATEGORIES, COLORS, DEFAULT_LEXICON, DEFAULT_WORDING, LOCATION_RELATIONS,
                      LOCATION_WORDS, SHAPES, Lexicon, Wording, lexicon_of_wording)


class Variant(NamedTuple):
    """One look and vocabulary of the benchmark.

    Attributes:
        name (str): Its name (``--variant`` of the generator's CLI).
        img_size (int): Default side of its square images.
        categories (tuple[dict]): COCO categories (``id``, ``name`` = shape name,
            ``supercategory``), in canonical order.
        colors (dict): Colour name -> nominal RGB, in canonical order.
        themes (dict): Scene theme (``'A'``/``'B'``) -> its shape names.
        wording (Wording): What the generator writes.
        lexicon (Lexicon): What the oracle accepts.
        location_words (frozenset): Words that state a position; RefCOCO+-like
            expressions never contain them.
    """
    name: str
    img_size: int
    categories: Tuple[dict, ...]
    colors: Dict[str, Tuple[int, int, int]]
    themes: Dict[str, Tuple[str, ...]]
    wording: Wording
    lexicon: Lexicon
    location_words: frozenset

    @property
    def shapes(self) -> Tuple[str, ...]:
        """Shape names, in category order."""
        return tuple(c['name'] for c in self.categories)

    @property
    def category_ids(self) -> Dict[str, int]:
        """Shape name -> category id."""
        return {c['name']: c['id'] for c in self.categories}


DEFAULT = Variant(name='default', img_size=128, categories=CATEGORIES, colors=COLORS,
                  themes={'A': ('circle', 'square', 'triangle'), 'B': ('star', 'cross')},
                  wording=DEFAULT_WORDING, lexicon=DEFAULT_LEXICON,
                  location_words=LOCATION_WORDS)


def _derived_variant(name: str, img_size: int, shapes: Dict[str, str],
                     supercategories: Dict[str, str], colors: Dict[str, Tuple[str, Tuple[int, int,
                                                                                        int]]],
                     wording: Wording) -> Variant:
    """A variant that replaces the default's shapes and colours slot by slot.

    Args:
        name (str): Variant name.
        img_size (int): Default image side.
        shapes (dict): Canonical shape -> the variant's shape (same id and theme).
        supercategories (dict): Canonical supercategory -> the variant's.
        colors (dict): Canonical colour -> ``(name, RGB)``.
        wording (Wording): Realisation tables keyed by the variant's names.

    Returns:
        Variant: With the lexicon of its wording and the location words of that
        lexicon (see :func:`location_words_of`).
    """
    assert set(shapes) == set(SHAPES) and set(colors) == set(COLORS)
    categories = tuple(dict(id=c['id'], name=shapes[c['name']],
                            supercategory=supercategories[c['supercategory']])
                       for c in CATEGORIES)
    themes = {theme: tuple(shapes[s] for s in members)
              for theme, members in DEFAULT.themes.items()}
    lexicon = lexicon_of_wording(wording)
    return Variant(name=name, img_size=img_size, categories=categories,
                   colors={colors[c][0]: colors[c][1] for c in COLORS}, themes=themes,
                   wording=wording, lexicon=lexicon,
                   location_words=location_words_of(lexicon))


def location_words_of(lexicon: Lexicon) -> frozenset:
    """Words of a lexicon that only occur in phrases stating a position.

    Positions are stated by ordinals, directions, extremes, ``from``-phrases and
    the directional relations; a word that also occurs in another phrase (``to``
    of ``adjacent to``) is not a location word.
    """
    location, other = set(), set()
    for key, (symbol, value) in lexicon.table.items():
        is_location = symbol in ('ORD', 'DIR', 'EXT', 'FROM') or (
            symbol == 'REL' and value in LOCATION_RELATIONS)
        (location if is_location else other).update(key)
    return frozenset(location - other)


_ALT_WORDING = Wording(
    sizes={
        'small': (('mini', 0.55), ('miniature', 0.45)),
        'medium': (('mid-size', 0.6), ('midsize', 0.2), ('average-sized', 0.2)),
        'large': (('giant', 0.6), ('jumbo', 0.25), ('massive', 0.15)),
    },
    colors={
        'pink': (('pink', 1.0),),
        'lime': (('lime', 1.0),),
        'navy': (('navy', 1.0),),
        'gold': (('gold', 1.0),),
        'brown': (('brown', 1.0),),
        'cyan': (('cyan', 0.85), ('turquoise', 0.15)),
    },
    shapes={
        'hexagon': (('hexagon', 1.0),),
        'diamond': (('diamond', 0.8), ('rhombus', 0.2)),
        'crescent': (('crescent', 0.8), ('moon', 0.2)),
        'arrow': (('arrow', 1.0),),
        'heart': (('heart', 1.0),),
        None: (('item', 0.45), ('figure', 0.3), ('piece', 0.25)),
    },
    extremes={
        'left': ('{np} at the left side', '{np} on the left-hand side', 'left-hand {np}',
                 'furthest-left {np}', '{np} nearest the left edge'),
        'right': ('{np} at the right side', '{np} on the right-hand side', 'right-hand {np}',
                  'furthest-right {np}', '{np} nearest the right edge'),
        'top': ('{np} at the upper edge', '{np} along the top edge', 'upper {np}',
                '{np} nearest the top edge'),
        'bottom': ('{np} at the lower edge', '{np} along the bottom edge', 'lower {np}',
                   '{np} nearest the bottom edge'),
    },
    superlatives={
        ('large', True): ('larger',),
        ('large', False): ('largest',),
        ('small', True): ('smaller',),
        ('small', False): ('littlest',),
    },
    relations={
        'left_of': ('to the left of', 'on the left side of'),
        'right_of': ('to the right of', 'on the right side of'),
        'above': ('higher than', 'higher up than'),
        'below': ('beneath', 'underneath'),
        'closest': ('beside', 'adjacent to'),
        'behind': ('obscured by', 'partially obscured by', 'overlapped by'),
        'in_front': ('overlapping', 'partly overlapping', 'obscuring'),
    },
    ordinal='{ordinal} {np} counting from the {direction}',
)

ALT = _derived_variant(
    'alt', img_size=160,
    shapes={'circle': 'hexagon', 'square': 'diamond', 'triangle': 'crescent', 'star': 'arrow',
            'cross': 'heart'},
    supercategories={'basic': 'geometric', 'symbol': 'icon'},
    colors={'red': ('pink', (240, 110, 185)), 'green': ('lime', (150, 225, 40)),
            'blue': ('navy', (25, 35, 125)), 'yellow': ('gold', (230, 170, 15)),
            'purple': ('brown', (135, 75, 30)), 'orange': ('cyan', (30, 205, 220))},
    wording=_ALT_WORDING)

#: Every variant by name.
VARIANTS: Dict[str, Variant] = {v.name: v for v in (DEFAULT, ALT)}


def get_variant(name: Optional[str]) -> Variant:
    """The variant of a name (None: the default).

    Raises:
        ValueError: for an unknown name.
    """
    if name is None:
        return DEFAULT
    try:
        return VARIANTS[name]
    except KeyError:
        raise ValueError(f'unknown synthetic variant {name!r}; known: {sorted(VARIANTS)}') \
            from None
