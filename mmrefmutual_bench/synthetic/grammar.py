"""The referring-expression grammar of the synthetic benchmark: words, parsing, semantics.

(Words, parser and semantics stay in one file on purpose: the generator and the oracle
must share one meaning of every word.)

The generator writes its sentences with :func:`realise` and checks them with
:class:`~mmrefmutual_bench.synthetic.oracle.SyntheticOracle`, which parses
them with :func:`parse` and evaluates them with :func:`evaluate`: one grammar,
one meaning, on both sides.

Variants of the benchmark (:mod:`~mmrefmutual_bench.synthetic.variants`) keep
this grammar and its semantics and change only the words: a :class:`Wording`
(what the generator writes) and a :class:`Lexicon` (what the parser accepts;
:data:`DEFAULT_LEXICON` wraps :data:`LEXICON`). The words below are the default
variant's.

Parsing
-------
The text is normalised by :func:`mmrefmutual.datasets.text.normalize_expression`
(case, punctuation and extra spaces do not matter), determiners and a few
fillers (``the a an that which is very far``) are dropped, then the words are
matched, longest phrase first, against the lexicon (:data:`LEXICON` by default).
Any other word makes the expression unparseable. The accepted structure is::

    expression := [selector] modifiers noun [postfix]
    selector   := ORDINAL | SUPERLATIVE | DIRECTION      # at most one
    modifiers  := any order, each at most once: SIZE, COLOUR
    noun       := SHAPE | one/shape/thing/object         # the latter: any shape
    postfix    := 'from the' DIRECTION                   # only after an ORDINAL
                | EXTREME ('on the left', 'at the top', bare 'left' ...)
                | RELATION landmark                      # no selector then
    landmark   := modifiers noun

Semantics (exact; ``cx, cy`` = centre of the annotation's ``bbox``
``[x, y, w, h]``, i.e. ``x + w / 2`` and ``y + h / 2``; image y grows downwards)
------------------------------------------------------------------------------
- *description* ``size colour noun``: the objects whose attributes equal every
  word given (``one``/``thing``... match any shape). The referents of a bare
  description are all of them.
- *rank* (``the second circle from the left``; ``first``/``leftmost``/``on the
  left``/``left circle`` are rank 1): candidates are the objects matching the
  description, ordered by ``cx`` ascending (``left``), ``cx`` descending
  (``right``), ``cy`` ascending (``top``) or ``cy`` descending (``bottom``). An
  object fits rank ``k`` iff (number of candidates strictly before it) < k <=
  (number of candidates before it or tied with it): with ties every tied object
  fits, so the expression is ambiguous.
- *superlative* (``biggest``/``largest``/``bigger``... and ``smallest``...):
  the candidates whose size class (small < medium < large) is the maximum
  (minimum) among the candidates; ties fit all.
- *relation* ``A REL B``: ``B`` (a description) must match exactly one object
  ``b`` in the image, otherwise nothing fits. The candidates are the objects
  matching ``A`` other than ``b``; they fit when:
  ``left of``: ``cx < b.cx``; ``right of``: ``cx > b.cx``; ``above``:
  ``cy < b.cy``; ``below``: ``cy > b.cy``; ``next to``/``closest to``/``nearest
  (to)``: the Euclidean distance between centres is the minimum over the
  candidates (ties fit all); ``behind``/``partly hidden by``: ``b`` is in the
  object's ``attributes['occluded_by']``; ``in front of``/``covering``: the
  object is in ``b``'s ``occluded_by``.

``occluded_by`` lists the annotations drawn later whose *visible* pixels cover
at least a fixed share of the object's full shape (decided by the generator).

Location words (:data:`LOCATION_WORDS`) are those of absolute or directional
position; RefCOCO+-like expressions never contain them.
"""
from functools import lru_cache
from typing import Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from mmrefmutual.datasets.text import normalize_expression

#: Shapes (the COCO categories) with their category ids: deliberately not
#: contiguous so that consumers must map ids to labels.
CATEGORIES: Tuple[dict, ...] = (
    dict(id=1, name='circle', supercategory='basic'),
    dict(id=2, name='square', supercategory='basic'),
    dict(id=3, name='triangle', supercategory='basic'),
    dict(id=5, name='star', supercategory='symbol'),
    dict(id=7, name='cross', supercategory='symbol'),
)
SHAPES: Tuple[str, ...] = tuple(c['name'] for c in CATEGORIES)
CATEGORY_IDS: Dict[str, int] = {c['name']: c['id'] for c in CATEGORIES}
#: Colour name -> nominal RGB (the generator jitters it slightly).
COLORS: Dict[str, Tuple[int, int, int]] = {
    'red': (205, 40, 40),
    'green': (45, 160, 65),
    'blue': (40, 80, 215),
    'yellow': (235, 210, 40),
    'purple': (145, 60, 185),
    'orange': (245, 135, 25),
}
#: Size classes, smallest first (the order the superlatives use).
SIZES: Tuple[str, ...] = ('small', 'medium', 'large')
SIZE_RANK: Dict[str, int] = {s: i for i, s in enumerate(SIZES)}
DIRECTIONS: Tuple[str, ...] = ('left', 'right', 'top', 'bottom')
RELATIONS: Tuple[str, ...] = ('left_of', 'right_of', 'above', 'below', 'closest', 'behind',
                              'in_front')
#: Relations that state a direction: RefCOCO+-like expressions do not use them.
LOCATION_RELATIONS = frozenset({'left_of', 'right_of', 'above', 'below'})

#: Words stating an absolute or directional position (incl. ordinal positions).
LOCATION_WORDS = frozenset({
    'left', 'right', 'top', 'bottom', 'leftmost', 'rightmost', 'topmost', 'bottommost',
    'uppermost', 'highest', 'lowest', 'upper', 'lower', 'above', 'below', 'middle', 'center',
    'centre', 'first', 'second', 'third', 'fourth', 'fifth', '1st', '2nd', '3rd', '4th', '5th',
    'most'
})

#: Words dropped before parsing: they never change the meaning here.
FILLERS = frozenset({'the', 'a', 'an', 'that', 'which', 'is', 'very', 'far'})

_ORDINAL_WORDS = {1: 'first', 2: 'second', 3: 'third', 4: 'fourth', 5: 'fifth'}
_ORDINAL_NUMBERS = {1: '1st', 2: '2nd', 3: '3rd', 4: '4th', 5: '5th'}


def _build_lexicon() -> Dict[Tuple[str, ...], Tuple[str, Optional[object]]]:
    """Phrase (tuple of normalised words, fillers removed) -> (symbol, value)."""
    lexicon: Dict[Tuple[str, ...], Tuple[str, Optional[object]]] = {}

    def add(phrases: Sequence[str], symbol: str, value: Optional[object]) -> None:
        for phrase in phrases:
            key = tuple(phrase.split())
            assert key not in lexicon, f'duplicate phrase {phrase!r}'
            lexicon[key] = (symbol, value)

    add(['small', 'little', 'tiny'], 'SIZE', 'small')
    add(['medium', 'medium sized', 'mid sized'], 'SIZE', 'medium')
    add(['big', 'large', 'huge'], 'SIZE', 'large')
    for color in COLORS:
        add([color], 'COLOR', color)
    add(['violet'], 'COLOR', 'purple')
    add(['circle', 'disc', 'disk'], 'NOUN', 'circle')
    add(['square'], 'NOUN', 'square')
    add(['triangle'], 'NOUN', 'triangle')
    add(['star'], 'NOUN', 'star')
    add(['cross', 'plus', 'plus sign'], 'NOUN', 'cross')
    add(['one', 'shape', 'thing', 'object'], 'NOUN', None)
    add(['biggest', 'largest', 'bigger', 'larger'], 'SUPER', 'large')
    add(['smallest', 'smaller', 'tiniest'], 'SUPER', 'small')
    for k in _ORDINAL_WORDS:
        add([_ORDINAL_WORDS[k], _ORDINAL_NUMBERS[k]], 'ORD', k)
    add(['leftmost', 'left most'], 'DIR', 'left')
    add(['rightmost', 'right most'], 'DIR', 'right')
    add(['topmost', 'top most', 'uppermost', 'highest'], 'DIR', 'top')
    add(['bottommost', 'bottom most', 'lowest'], 'DIR', 'bottom')
    for direction in DIRECTIONS:
        add([direction], 'DIR', direction)
        add([f'from {direction}'], 'FROM', direction)
    add(['on left', 'to left'], 'EXT', 'left')
    add(['on right', 'to right'], 'EXT', 'right')
    add(['at top'], 'EXT', 'top')
    add(['at bottom', 'on bottom'], 'EXT', 'bottom')
    add(['left of', 'to left of', 'on left of'], 'REL', 'left_of')
    add(['right of', 'to right of', 'on right of'], 'REL', 'right_of')
    add(['above'], 'REL', 'above')
    add(['below'], 'REL', 'below')
    add(['next to', 'closest to', 'nearest to', 'nearest'], 'REL', 'closest')
    add(['behind', 'hidden by', 'partly hidden by', 'partially hidden by', 'covered by',
         'partly covered by'], 'REL', 'behind')
    add(['in front of', 'covering', 'partly covering'], 'REL', 'in_front')
    return lexicon


#: Phrase -> (symbol, value); symbols: SIZE, COLOR, NOUN (value None: any shape),
#: SUPER, ORD, DIR, FROM, EXT, REL.
LEXICON = _build_lexicon()
SYMBOLS = frozenset({'SIZE', 'COLOR', 'NOUN', 'SUPER', 'ORD', 'DIR', 'FROM', 'EXT', 'REL'})


class Desc(NamedTuple):
    """An attribute description; ``None`` fields are not mentioned."""
    size: Optional[str] = None
    color: Optional[str] = None
    shape: Optional[str] = None


class Expression(NamedTuple):
    """A parsed expression.

    ``kind`` is ``'attr'`` (description only), ``'rank'`` (``direction``,
    ``k``), ``'super'`` (``extreme`` is ``'large'`` or ``'small'``) or
    ``'relation'`` (``relation`` in :data:`RELATIONS`, ``landmark``).
    """
    kind: str
    desc: Desc
    direction: Optional[str] = None
    k: int = 0
    extreme: Optional[str] = None
    relation: Optional[str] = None
    landmark: Optional[Desc] = None

    @property
    def uses_location(self) -> bool:
        """Whether the expression states a position (banned in RefCOCO+)."""
        return self.kind == 'rank' or (self.kind == 'relation'
                                       and self.relation in LOCATION_RELATIONS)


class SceneObject(NamedTuple):
    """What the semantics needs to know about one annotation."""
    ann_id: int
    shape: Optional[str]
    color: Optional[str]
    size: Optional[str]
    cx: float
    cy: float
    occluded_by: frozenset


def scene_object_from_ann(ann: dict) -> SceneObject:
    """The :class:`SceneObject` of a COCO annotation with ``attributes``.

    Args:
        ann (dict): Annotation with ``id``, ``bbox`` ``[x, y, w, h]`` and
            ``attributes`` (``shape``, ``color``, ``size``, ``occluded_by``).

    Returns:
        SceneObject: Its centre is the centre of ``bbox``.
    """
    attrs = ann.get('attributes') or {}
    x, y, w, h = (float(v) for v in ann['bbox'])
    return SceneObject(ann_id=int(ann['id']), shape=attrs.get('shape'),
                       color=attrs.get('color'), size=attrs.get('size'),
                       cx=x + w / 2, cy=y + h / 2,
                       occluded_by=frozenset(int(a) for a in attrs.get('occluded_by', ())))


def _parse_np(symbols: list, i: int, allow_selector: bool):
    """Parse ``[selector] modifiers noun`` from ``symbols[i]``.

    Returns:
        tuple | None: ``(desc, selector, next_index)`` where ``selector`` is
        ``None`` or ``(symbol, value)``; None when malformed.
    """
    size = color = selector = None
    while i < len(symbols):
        symbol, value = symbols[i]
        if symbol == 'NOUN':
            return Desc(size, color, value), selector, i + 1
        if symbol == 'SIZE' and size is None:
            size = value
        elif symbol == 'COLOR' and color is None:
            color = value
        elif allow_selector and symbol in ('ORD', 'SUPER', 'DIR') and selector is None:
            selector = (symbol, value)
        else:
            return None
        i += 1
    return None  # no noun


def parse(expression: str, lexicon: Optional['Lexicon'] = None) -> Optional[Expression]:
    """Parse an expression of the synthetic grammar.

    Args:
        expression (str): Raw or normalised text; case, punctuation and extra
            spaces are ignored.
        lexicon (Lexicon, optional): The words of the benchmark variant the
            expression is in. Defaults to :data:`DEFAULT_LEXICON`.

    Returns:
        Expression | None: The parse, or None when the text is not in the
        grammar (unknown word, missing noun, misplaced phrase...).
    """
    return (DEFAULT_LEXICON if lexicon is None else lexicon).parse(expression)


def _parse_symbols(symbols: list) -> Optional[Expression]:
    """The grammar proper: lexed symbols -> :class:`Expression` (or None)."""
    if not symbols:
        return None
    head = _parse_np(symbols, 0, allow_selector=True)
    if head is None:
        return None
    desc, selector, i = head
    rest = symbols[i:]
    sel_symbol, sel_value = selector if selector is not None else (None, None)

    if not rest:
        if sel_symbol is None:
            return Expression('attr', desc)
        if sel_symbol == 'SUPER':
            return Expression('super', desc, extreme=sel_value)
        if sel_symbol == 'DIR':
            return Expression('rank', desc, direction=sel_value, k=1)
        return None  # an ordinal needs 'from the <direction>'
    symbol, value = rest[0]
    if symbol == 'FROM':
        if sel_symbol != 'ORD' or len(rest) != 1:
            return None
        return Expression('rank', desc, direction=value, k=sel_value)
    if symbol in ('EXT', 'DIR'):
        if selector is not None or len(rest) != 1:
            return None
        return Expression('rank', desc, direction=value, k=1)
    if symbol == 'REL':
        if selector is not None:
            return None
        landmark = _parse_np(symbols, i + 1, allow_selector=False)
        if landmark is None or landmark[2] != len(symbols):
            return None
        return Expression('relation', desc, relation=value, landmark=landmark[0])
    return None


class Lexicon:
    """The words of one variant of the benchmark: phrase -> (symbol, value).

    Variants share the grammar (:func:`_parse_symbols`) and its semantics
    (:func:`evaluate`) and differ only in their words, so the oracle of any
    variant is exact. Shape and colour values are the variant's own names (those
    of the annotations' ``attributes``); every other value is canonical
    (``'small'``, ``'left'``, ``'left_of'``, ``2``...). A phrase is a key of
    normalised words without :data:`FILLERS` (``'on the left'`` is ``'on
    left'``); the lexer matches the longest phrase first.

    Args:
        phrases (Mapping[str | tuple[str, ...], tuple[str, Any]]): Phrase (words
            joined by spaces, or their tuple) -> ``(symbol, value)``, symbol in
            :data:`SYMBOLS`.
    """

    def __init__(self, phrases: Mapping[Union[str, Tuple[str, ...]],
                                        Tuple[str, Optional[object]]]) -> None:
        table: Dict[Tuple[str, ...], Tuple[str, Optional[object]]] = {}
        for phrase, (symbol, value) in phrases.items():
            key = tuple(phrase.split()) if isinstance(phrase, str) else tuple(phrase)
            if not key or normalize_expression(' '.join(key)).split() != list(key) or \
                    FILLERS.intersection(key):
                raise ValueError(f'phrase {phrase!r} is not normalised or has a filler')
            if symbol not in SYMBOLS:
                raise ValueError(f'unknown symbol {symbol!r} of phrase {phrase!r}')
            table[key] = (symbol, value)
        if not table:
            raise ValueError('a lexicon needs phrases')
        self.table = table
        self._max_phrase = max(len(k) for k in table)
        self._parse_text = lru_cache(maxsize=65536)(self._parse_normalised)

    @property
    def words(self) -> frozenset:
        """Every word of every phrase."""
        return frozenset(w for key in self.table for w in key)

    def lex(self, words: Sequence[str]) -> Optional[List[Tuple[str, Optional[object]]]]:
        """Greedy longest-phrase lexing; None when a word is in no phrase."""
        symbols, i = [], 0
        while i < len(words):
            for n in range(min(self._max_phrase, len(words) - i), 0, -1):
                entry = self.table.get(tuple(words[i:i + n]))
                if entry is not None:
                    symbols.append(entry)
                    i += n
                    break
            else:
                return None
        return symbols

    def parse(self, expression: str) -> Optional[Expression]:
        """Parse an expression in these words (see :func:`parse`)."""
        return self._parse_text(normalize_expression(expression))

    def _parse_normalised(self, text: str) -> Optional[Expression]:
        symbols = self.lex([w for w in text.split() if w not in FILLERS])
        return None if symbols is None else _parse_symbols(symbols)

    def to_json(self) -> Dict[str, list]:
        """``{phrase: [symbol, value]}`` (phrases sorted), as stored in a variant's
        ``info['lexicon']``."""
        return {' '.join(key): [symbol, value]
                for key, (symbol, value) in sorted(self.table.items())}

    @classmethod
    def from_json(cls, table: Mapping[str, Sequence]) -> 'Lexicon':
        """The lexicon of :meth:`to_json`'s output."""
        return cls({phrase: (entry[0], entry[1]) for phrase, entry in table.items()})


#: The words of the default benchmark.
DEFAULT_LEXICON = Lexicon(LEXICON)


def matches(obj: SceneObject, desc: Desc) -> bool:
    """Whether an object has every attribute the description mentions."""
    return ((desc.shape is None or obj.shape == desc.shape)
            and (desc.color is None or obj.color == desc.color)
            and (desc.size is None or obj.size == desc.size))


_RANK_KEYS = {
    'left': lambda o: o.cx,
    'right': lambda o: -o.cx,
    'top': lambda o: o.cy,
    'bottom': lambda o: -o.cy,
}


def _fits_rank(obj: SceneObject, candidates: Sequence[SceneObject], direction: str,
               k: int) -> bool:
    """Rank semantics with ties (see the module docstring)."""
    key = _RANK_KEYS[direction]
    value = key(obj)
    before = sum(1 for c in candidates if key(c) < value)
    before_or_tied = sum(1 for c in candidates if key(c) <= value)
    return before < k <= before_or_tied


def _squared_distance(a: SceneObject, b: SceneObject) -> float:
    # Centres are multiples of 0.5 (integer boxes), so squares are exact floats
    # and ties are real ties.
    return (a.cx - b.cx)**2 + (a.cy - b.cy)**2


def evaluate(expr: Expression, objects: Sequence[SceneObject]) -> List[int]:
    """Every object an expression fits.

    Args:
        expr (Expression): A parsed expression.
        objects (Sequence[SceneObject]): All annotations of the image.

    Returns:
        list[int]: ann ids of the objects it fits, in the order of ``objects``.
    """
    candidates = [o for o in objects if matches(o, expr.desc)]
    if expr.kind == 'attr':
        return [o.ann_id for o in candidates]
    if expr.kind == 'rank':
        return [o.ann_id for o in candidates
                if _fits_rank(o, candidates, expr.direction, expr.k)]
    if expr.kind == 'super':
        if not candidates:
            return []
        ranks = [SIZE_RANK.get(o.size, -1) for o in candidates]
        best = max(ranks) if expr.extreme == 'large' else min(ranks)
        return [o.ann_id for o, r in zip(candidates, ranks) if r == best]
    if expr.kind != 'relation':
        raise ValueError(f'unknown expression kind {expr.kind!r}')
    landmarks = [o for o in objects if matches(o, expr.landmark)]
    if len(landmarks) != 1:
        return []  # the landmark must be unique
    b = landmarks[0]
    candidates = [o for o in candidates if o.ann_id != b.ann_id]
    rel = expr.relation
    if rel == 'left_of':
        fit = [o for o in candidates if o.cx < b.cx]
    elif rel == 'right_of':
        fit = [o for o in candidates if o.cx > b.cx]
    elif rel == 'above':
        fit = [o for o in candidates if o.cy < b.cy]
    elif rel == 'below':
        fit = [o for o in candidates if o.cy > b.cy]
    elif rel == 'closest':
        if not candidates:
            return []
        dists = [_squared_distance(o, b) for o in candidates]
        nearest = min(dists)
        fit = [o for o, d in zip(candidates, dists) if d == nearest]
    elif rel == 'behind':
        fit = [o for o in candidates if b.ann_id in o.occluded_by]
    elif rel == 'in_front':
        fit = [o for o in candidates if o.ann_id in b.occluded_by]
    else:
        raise ValueError(f'unknown relation {rel!r}')
    return [o.ann_id for o in fit]


# --------------------------------------------------------------------------------------
# Realisation: Expression -> human-like raw text (random synonyms, style).
# Every phrase used here is in LEXICON, which the tests check through the oracle.
# --------------------------------------------------------------------------------------
class Wording(NamedTuple):
    """How one variant of the benchmark writes each meaning (its realisation tables).

    Attributes:
        sizes (dict): Size class -> ``((phrase, weight), ...)``.
        colors (dict): Colour name -> ``((phrase, weight), ...)``.
        shapes (dict): Shape name -> ``((phrase, weight), ...)``; ``None``: the
            generic nouns.
        extremes (dict): Direction -> templates of a rank-1 expression around
            ``{np}`` (``'{np} on the left'``, ``'leftmost {np}'``).
        superlatives (dict): ``(extreme, comparative)`` -> words
            (``('large', True)``: ``bigger``; ``('large', False)``: ``biggest``).
        relations (dict): Relation -> phrases.
        ordinal (str): Template of a rank-k expression, ``k >= 2``, with
            ``{ordinal}``, ``{np}`` and ``{direction}``.
    """
    sizes: Dict[str, Tuple[Tuple[str, float], ...]]
    colors: Dict[str, Tuple[Tuple[str, float], ...]]
    shapes: Dict[Optional[str], Tuple[Tuple[str, float], ...]]
    extremes: Dict[str, Tuple[str, ...]]
    superlatives: Dict[Tuple[str, bool], Tuple[str, ...]]
    relations: Dict[str, Tuple[str, ...]]
    ordinal: str


_SIZE_WORDS = {
    'small': (('small', 0.6), ('little', 0.25), ('tiny', 0.15)),
    'medium': (('medium', 0.5), ('medium sized', 0.25), ('medium-sized', 0.25)),
    'large': (('big', 0.55), ('large', 0.4), ('huge', 0.05)),
}
_SHAPE_WORDS = {
    'circle': (('circle', 0.85), ('disc', 0.15)),
    'square': (('square', 1.0),),
    'triangle': (('triangle', 1.0),),
    'star': (('star', 1.0),),
    'cross': (('cross', 0.8), ('plus sign', 0.2)),
    None: (('one', 0.45), ('shape', 0.3), ('thing', 0.15), ('object', 0.1)),
}
_COLOR_WORDS = {c: ((c, 1.0),) for c in COLORS}
_COLOR_WORDS['purple'] = (('purple', 0.85), ('violet', 0.15))
_EXTREME_TEMPLATES = {
    'left': ('{np} on the left', '{np} on the far left', 'leftmost {np}', 'left {np}',
             '{np}, left', '{np} to the left'),
    'right': ('{np} on the right', '{np} on the far right', 'rightmost {np}', 'right {np}',
              '{np}, right', '{np} to the right'),
    'top': ('{np} at the top', '{np} at the very top', 'topmost {np}', 'top {np}',
            'highest {np}', 'uppermost {np}'),
    'bottom': ('{np} at the bottom', '{np} at the very bottom', 'bottom {np}',
               'lowest {np}', 'bottommost {np}', '{np} on the bottom'),
}
_SUPER_WORDS = {
    ('large', True): ('bigger', 'larger'),
    ('large', False): ('biggest', 'largest'),
    ('small', True): ('smaller',),
    ('small', False): ('smallest', 'tiniest'),
}
_RELATION_WORDS = {
    'left_of': ('left of', 'to the left of', 'on the left of'),
    'right_of': ('right of', 'to the right of', 'on the right of'),
    'above': ('above',),
    'below': ('below',),
    'closest': ('next to', 'closest to', 'nearest to', 'nearest'),
    'behind': ('behind', 'partly hidden by', 'partially hidden by'),
    'in_front': ('in front of', 'covering', 'partly covering'),
}
#: The words of the default benchmark (:data:`LEXICON` accepts all of them and more).
DEFAULT_WORDING = Wording(sizes=_SIZE_WORDS, colors=_COLOR_WORDS, shapes=_SHAPE_WORDS,
                          extremes=_EXTREME_TEMPLATES, superlatives=_SUPER_WORDS,
                          relations=_RELATION_WORDS,
                          ordinal='{ordinal} {np} from the {direction}')


def _key(phrase: str) -> Tuple[str, ...]:
    """Lexicon key of a written phrase: normalised words without fillers."""
    return tuple(w for w in normalize_expression(phrase).split() if w not in FILLERS)


def lexicon_of_wording(wording: Wording) -> Lexicon:
    """The lexicon that accepts exactly the phrases a wording writes.

    Args:
        wording (Wording): Realisation tables; a template of ``extremes`` has
            its phrase after ``{np}`` (an ``EXT``) or before it (a ``DIR``).

    Returns:
        Lexicon: Its phrases (and the shared ordinals) with their meanings.

    Raises:
        ValueError: if one phrase would mean two things.
    """
    entries: Dict[Tuple[str, ...], Tuple[str, Optional[object]]] = {}

    def add(text: str, symbol: str, value: Optional[object]) -> None:
        key = _key(text)
        if entries.setdefault(key, (symbol, value)) != (symbol, value):
            raise ValueError(f'phrase {text!r} means both {entries[key]} and '
                             f'{(symbol, value)}')

    for symbol, table in (('SIZE', wording.sizes), ('COLOR', wording.colors),
                          ('NOUN', wording.shapes)):
        for value, options in table.items():
            for phrase, _ in options:
                add(phrase, symbol, value)
    for direction, templates in wording.extremes.items():
        split = [template.split('{np}') for template in templates]
        if any(before.strip() and after.strip() for before, after in split):
            raise ValueError(f'a template of {templates} has words on both sides of {{np}}')
        for before, _ in split:  # prefixes first: a DIR also serves as a postfix
            if before.strip():
                add(before, 'DIR', direction)
        for before, after in split:
            if not before.strip() and entries.get(_key(after)) != ('DIR', direction):
                add(after, 'EXT', direction)
    for (extreme, _), words in wording.superlatives.items():
        for word in words:
            add(word, 'SUPER', extreme)
    for relation, phrases in wording.relations.items():
        for phrase in phrases:
            add(phrase, 'REL', relation)
    for k in _ORDINAL_WORDS:
        add(_ORDINAL_WORDS[k], 'ORD', k)
        add(_ORDINAL_NUMBERS[k], 'ORD', k)
    head, tail = wording.ordinal.split('{np}')
    if head.strip() != '{ordinal}':
        raise ValueError(f'ordinal template {wording.ordinal!r} must start with '
                         "'{ordinal} {np}'")
    for direction in DIRECTIONS:
        add(tail.format(direction=direction), 'FROM', direction)
    return Lexicon(entries)


def _pick_weighted(rng: np.random.Generator, options: Sequence[Tuple[str, float]]) -> str:
    if len(options) == 1:
        return options[0][0]
    weights = np.array([w for _, w in options], dtype=float)
    return options[int(rng.choice(len(options), p=weights / weights.sum()))][0]


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def realise_desc(desc: Desc, rng: np.random.Generator,
                 wording: Wording = DEFAULT_WORDING) -> str:
    """Words of a description (size, colour, noun), without determiner."""
    words = []
    if desc.size is not None:
        words.append(_pick_weighted(rng, wording.sizes[desc.size]))
    if desc.color is not None:
        words.append(_pick_weighted(rng, wording.colors[desc.color]))
    words.append(_pick_weighted(rng, wording.shapes[desc.shape]))
    return ' '.join(words)


def realise(expr: Expression,
            rng: np.random.Generator,
            num_candidates: int = 3,
            wording: Wording = DEFAULT_WORDING) -> str:
    """Write an expression as a human might (synonyms, optional article, case, period).

    Args:
        expr (Expression): What to say.
        rng (np.random.Generator): Source of the stylistic choices.
        num_candidates (int): Objects matching ``expr.desc``; with two, the
            comparative (``bigger``) is used instead of the superlative.
            Defaults to 3.
        wording (Wording): The variant's words. Defaults to
            :data:`DEFAULT_WORDING`.

    Returns:
        str: The raw sentence; :func:`parse` with the variant's lexicon maps it
        back to ``expr``.
    """
    np_text = realise_desc(expr.desc, rng, wording)
    if expr.kind == 'attr':
        text = np_text
    elif expr.kind == 'rank' and expr.k == 1:
        text = _pick(rng, wording.extremes[expr.direction]).format(np=np_text)
    elif expr.kind == 'rank':
        ordinal = (_ORDINAL_NUMBERS if rng.random() < 0.2 else _ORDINAL_WORDS)[expr.k]
        text = wording.ordinal.format(ordinal=ordinal, np=np_text, direction=expr.direction)
    elif expr.kind == 'super':
        word = _pick(rng, wording.superlatives[(expr.extreme, num_candidates == 2)])
        text = f'{word} {np_text}'
    elif expr.kind == 'relation':
        filler = 'that is ' if rng.random() < 0.15 else ''
        rel = _pick(rng, wording.relations[expr.relation])
        text = f'{np_text} {filler}{rel} the {realise_desc(expr.landmark, rng, wording)}'
    else:
        raise ValueError(f'unknown expression kind {expr.kind!r}')
    # Style: people often drop the article, capitalise, or end with a period.
    if rng.random() < 0.75:
        text = 'the ' + text
    if rng.random() < 0.4:
        text = text[0].upper() + text[1:]
    if rng.random() < 0.2:
        text += '.'
    return text
