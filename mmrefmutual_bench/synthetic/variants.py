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

``'rough'`` is a held-out benchmark (nothing of the recipe was tuned on it): on
top of its own shapes, colours and more synonyms it changes the image statistics.
Its images have a side drawn per image in ``img_sizes``, relatively smaller
objects, stronger colour jitter, high-contrast blurred backgrounds, per-pixel
Gaussian noise and a JPEG round trip (decoded and saved as PNG). Its masks and
polygons stay the exact geometric ones, so for this variant alone the painted
pixels no longer equal the masks bit for bit (noise and JPEG artefacts, also near
the borders). The fields of :class:`Variant` that carry these settings default
to the default's behaviour, which ``'default'`` and ``'alt'`` keep.

=========  ===========================  ===========================  ===========================
slot       default                      ``'alt'``                    ``'rough'``
=========  ===========================  ===========================  ===========================
shapes     circle square triangle |     hexagon diamond crescent |   oval rectangle pentagon |
           star cross                   arrow heart                  chevron tee
colours    red green blue yellow        pink lime navy gold brown    maroon teal magenta olive
           purple orange                cyan                         salmon black
synonyms   disc, plus sign, violet      rhombus, moon, turquoise     ellipse, egg, bar, oblong,
                                                                     arrowhead, letter t,
                                                                     burgundy, fuchsia, coral,
                                                                     jet black
nouns      one shape thing object       item figure piece            form element entity
sizes      small / medium / big         mini / mid-size / giant      teeny, petite / normal-
                                                                     sized, intermediate /
                                                                     enormous, oversized, hefty
extremes   on the left, leftmost, top   at the left side, left-hand, by the left border, toward
           ...                          upper ...                    the left border, extreme-
                                                                     left, upmost, lowermost ...
ordinals   second ... from the left     second ... counting from     second ... starting from the
                                        the left                     left
relations  left of, above, next to,     to the left of, higher       further left than, over,
           behind ...                   than, beside, obscured by    under, near, alongside,
                                        ...                          blocked by, blocking ...
image      128 px                       160 px                       144-224 px (per image)
objects    radius 0.065/0.1/0.145 of    as default                   0.055/0.085/0.125 of the
           the side                                                  side
jitter     +-12 per colour channel      as default                   +-30 per colour channel
photo      soft background, exact       as default                   high-contrast blurred
           pixels                                                    background, noise sigma 6,
                                                                     JPEG quality 60-90
=========  ===========================  ===========================  ===========================

This module is data only (it imports the grammar alone); the polygons of the
shapes are drawn in :mod:`.scene`.
"""
from typing import Dict, NamedTuple, Optional, Tuple

from .grammar import (CATEGORIES, COLORS, DEFAULT_LEXICON, DEFAULT_WORDING, LOCATION_RELATIONS,
                      LOCATION_WORDS, SHAPES, Lexicon, Wording, lexicon_of_wording)

#: Equal-area radius of each size class, as a fraction of the image side (each
#: class has about 2.4x the area of the previous one, so sizes are obvious); the
#: default of :attr:`Variant.size_radius`.
SIZE_RADIUS: Dict[str, float] = {'small': 0.065, 'medium': 0.1, 'large': 0.145}
#: Values of :attr:`Variant.background`.
BACKGROUNDS = ('soft', 'contrast')


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
        size_radius (dict): Size class -> equal-area radius of its objects, as a
            fraction of the image side. Defaults to :data:`SIZE_RADIUS`.
        img_sizes (tuple[int, int], optional): ``(min, max)`` side: each image
            draws its own side uniformly in it (inclusive), unless the generator
            is given an explicit ``img_size``. None (the default): every image
            has the side ``img_size``.
        color_jitter (int): Each object's RGB is its colour's nominal one plus
            a uniform integer offset in ``[-color_jitter, color_jitter]`` per
            channel. Defaults to 12.
        background (str): ``'soft'`` (the default: plain or lightly textured,
            smooth grey) or ``'contrast'`` (always a blurred gradient with
            blotches, about three times the default's contrast).
        noise_std (float): Standard deviation of the per-pixel Gaussian noise
            added to the whole painted image (0: none, the default).
        jpeg_quality (tuple[int, int], optional): ``(min, max)``: each image
            goes through a JPEG round trip at a quality drawn in it (inclusive)
            before it is saved (as PNG). None (the default): no JPEG.
    """
    name: str
    img_size: int
    categories: Tuple[dict, ...]
    colors: Dict[str, Tuple[int, int, int]]
    themes: Dict[str, Tuple[str, ...]]
    wording: Wording
    lexicon: Lexicon
    location_words: frozenset
    size_radius: Dict[str, float] = SIZE_RADIUS
    img_sizes: Optional[Tuple[int, int]] = None
    color_jitter: int = 12
    background: str = 'soft'
    noise_std: float = 0.0
    jpeg_quality: Optional[Tuple[int, int]] = None

    @property
    def shapes(self) -> Tuple[str, ...]:
        """Shape names, in category order."""
        return tuple(c['name'] for c in self.categories)

    @property
    def category_ids(self) -> Dict[str, int]:
        """Shape name -> category id."""
        return {c['name']: c['id'] for c in self.categories}

    @property
    def photometric(self) -> bool:
        """Whether its images draw randomness of their own beyond the scene's (a
        side per image, a contrast background, noise, JPEG): the generator then
        gives each image a second generator for it, so the scenes of the variants
        without it stay as they always were."""
        return (self.img_sizes is not None or self.background != 'soft' or self.noise_std > 0
                or self.jpeg_quality is not None)


DEFAULT = Variant(name='default', img_size=128, categories=CATEGORIES, colors=COLORS,
                  themes={'A': ('circle', 'square', 'triangle'), 'B': ('star', 'cross')},
                  wording=DEFAULT_WORDING, lexicon=DEFAULT_LEXICON,
                  location_words=LOCATION_WORDS)


def _derived_variant(name: str, img_size: int, shapes: Dict[str, str],
                     supercategories: Dict[str, str], colors: Dict[str, Tuple[str, Tuple[int, int,
                                                                                        int]]],
                     wording: Wording, **image_settings) -> Variant:
    """A variant that replaces the default's shapes and colours slot by slot.

    Args:
        name (str): Variant name.
        img_size (int): Default image side.
        shapes (dict): Canonical shape -> the variant's shape (same id and theme).
        supercategories (dict): Canonical supercategory -> the variant's.
        colors (dict): Canonical colour -> ``(name, RGB)``.
        wording (Wording): Realisation tables keyed by the variant's names.
        **image_settings: Other fields of :class:`Variant` (``size_radius``,
            ``img_sizes``, ``color_jitter``, ``background``, ``noise_std``,
            ``jpeg_quality``); the default's when not given.

    Returns:
        Variant: With the lexicon of its wording and the location words of that
        lexicon (see :func:`location_words_of`).
    """
    assert set(shapes) == set(SHAPES) and set(colors) == set(COLORS)
    assert image_settings.get('background', 'soft') in BACKGROUNDS
    assert set(image_settings.get('size_radius', SIZE_RADIUS)) == set(SIZE_RADIUS)
    if image_settings.get('img_sizes') is not None:
        low, high = image_settings['img_sizes']
        assert 32 <= low <= high == img_size, 'img_size is the largest side of img_sizes'
    categories = tuple(dict(id=c['id'], name=shapes[c['name']],
                            supercategory=supercategories[c['supercategory']])
                       for c in CATEGORIES)
    themes = {theme: tuple(shapes[s] for s in members)
              for theme, members in DEFAULT.themes.items()}
    lexicon = lexicon_of_wording(wording)
    return Variant(name=name, img_size=img_size, categories=categories,
                   colors={colors[c][0]: colors[c][1] for c in COLORS}, themes=themes,
                   wording=wording, lexicon=lexicon,
                   location_words=location_words_of(lexicon), **image_settings)


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

_ROUGH_WORDING = Wording(
    sizes={
        'small': (('teeny', 0.45), ('petite', 0.3), ('undersized', 0.25)),
        'medium': (('normal-sized', 0.5), ('normal sized', 0.2), ('intermediate', 0.3)),
        'large': (('enormous', 0.45), ('oversized', 0.35), ('hefty', 0.2)),
    },
    colors={
        'maroon': (('maroon', 0.75), ('burgundy', 0.25)),
        'teal': (('teal', 1.0),),
        'magenta': (('magenta', 0.75), ('fuchsia', 0.25)),
        'olive': (('olive', 1.0),),
        'salmon': (('salmon', 0.7), ('coral', 0.3)),
        'black': (('black', 0.8), ('jet black', 0.2)),
    },
    shapes={
        'oval': (('oval', 0.6), ('ellipse', 0.25), ('egg', 0.15)),
        'rectangle': (('rectangle', 0.6), ('bar', 0.25), ('oblong', 0.15)),
        'pentagon': (('pentagon', 1.0),),
        'chevron': (('chevron', 0.75), ('arrowhead', 0.25)),
        'tee': (('tee', 0.7), ('letter T', 0.3)),
        None: (('form', 0.5), ('element', 0.3), ('entity', 0.2)),
    },
    extremes={
        'left': ('{np} by the left border', '{np} toward the left border', 'extreme-left {np}',
                 '{np} in the leftmost spot'),
        'right': ('{np} by the right border', '{np} toward the right border',
                  'extreme-right {np}', '{np} in the rightmost spot'),
        'top': ('{np} by the top border', '{np} toward the top border', 'upmost {np}',
                '{np} in the highest spot'),
        'bottom': ('{np} by the bottom border', '{np} toward the bottom border',
                   'lowermost {np}', '{np} in the lowest spot'),
    },
    superlatives={
        ('large', True): ('bigger',),
        ('large', False): ('biggest', 'most enormous'),
        ('small', True): ('tinier',),
        ('small', False): ('tiniest', 'teeniest'),
    },
    relations={
        'left_of': ('further left than', 'more to the left than'),
        'right_of': ('further right than', 'more to the right than'),
        'above': ('over', 'further up than'),
        'below': ('under', 'further down than'),
        'closest': ('near', 'close to', 'alongside'),
        'behind': ('blocked by', 'partly blocked by', 'concealed by'),
        'in_front': ('blocking', 'partly blocking', 'concealing'),
    },
    ordinal='{ordinal} {np} starting from the {direction}',
)

#: A held-out benchmark: own shapes, colours and synonyms, and rougher images (a side
#: per image in 144-224 px, smaller objects, +-30 colour jitter, high-contrast blurred
#: backgrounds, Gaussian noise of sigma 6, JPEG quality 60-90). ``img_size`` is the
#: largest side (recorded in ``info['img_size']``, the range in ``info['img_sizes']``).
#: Its colours are far from each other and from the backgrounds (grey, kept in
#: 85-195 after their contrast) even after the jitter.
ROUGH = _derived_variant(
    'rough', img_size=224,
    shapes={'circle': 'oval', 'square': 'rectangle', 'triangle': 'pentagon',
            'star': 'chevron', 'cross': 'tee'},
    supercategories={'basic': 'simple', 'symbol': 'glyph'},
    colors={'red': ('maroon', (130, 20, 40)), 'green': ('teal', (10, 130, 125)),
            'blue': ('magenta', (215, 30, 200)), 'yellow': ('olive', (125, 125, 15)),
            'purple': ('salmon', (250, 140, 110)), 'orange': ('black', (15, 15, 15))},
    wording=_ROUGH_WORDING,
    size_radius={'small': 0.055, 'medium': 0.085, 'large': 0.125},
    img_sizes=(144, 224), color_jitter=30, background='contrast', noise_std=6.0,
    jpeg_quality=(60, 90))

#: Every variant by name.
VARIANTS: Dict[str, Variant] = {v.name: v for v in (DEFAULT, ALT, ROUGH)}


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
