"""Choosing what to say about an object: minimal-ish, human-like referring expressions.

For a target object the planner lists every *frame* (an
:class:`~.grammar.Expression`) that singles it out, both exactly (the grammar's
semantics, :func:`~.grammar.evaluate`, returns only the target) and visibly
(positions differ by a perceptual margin, so a person would agree). Each frame
has a cost close to its length in attributes: shape 1, colour 1, size 1.3 (size
is relative, so people mention it less readily), a generic noun (``one``,
``thing``) 1.6, plus the cost of a location, superlative or relation. Like
people, the planner prefers the cheapest frames (the fewest attributes that
disambiguate; location, superlatives and relations only for a description that
is ambiguous on its own), and paraphrases draw from the frames within
:data:`SLACK` of the cheapest (a redundant colour, a location instead of a size).
"""
import itertools
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from mmrefmutual.datasets.text import normalize_expression
from .grammar import (DEFAULT_WORDING, DIRECTIONS, LOCATION_RELATIONS, SIZE_RANK, Desc, Expression,
                      SceneObject, Wording, evaluate, matches, realise)

#: Paraphrases use frames costing at most this much more than the cheapest one.
SLACK = 1.0
#: Cost of ``one``/``thing``... instead of the shape name: people name the shape
#: unless the other words already say enough.
GENERIC_NOUN_COST = 1.6
#: Extra cost of each construction on top of its description(s).
RANK1_COST = 1.2
ORDINAL_COST = 2.0
SUPER_COST = 1.3
RELATION_COST = {'left_of': 1.0, 'right_of': 1.0, 'above': 1.0, 'below': 1.0, 'closest': 1.1,
                 'behind': 1.2, 'in_front': 1.2}
#: Highest ordinal used ('third circle from the left').
MAX_ORDINAL = 3
#: A nearest object must be this much closer than the next candidate (ratio).
CLOSEST_RATIO = 1.3


def desc_cost(desc: Desc) -> float:
    """Cost of a description (see the module docstring)."""
    return ((1.3 if desc.size is not None else 0.0) + (1.0 if desc.color is not None else 0.0)
            + (1.0 if desc.shape is not None else GENERIC_NOUN_COST))


def descs_of(obj: SceneObject) -> List[Desc]:
    """The 8 descriptions an object satisfies (each attribute mentioned or not)."""
    return [Desc(size, color, shape) for size, color, shape in itertools.product(
        (None, obj.size), (None, obj.color), (None, obj.shape))]


class ExpressionPlanner:
    """Finds and writes referring expressions for the objects of one image.

    Args:
        objects (Sequence[SceneObject]): Every annotation of the image.
        margin (float): Perceptual margin in pixels: positions compared by a
            location word must differ by at least this much.
        wording (Wording): The words of the benchmark variant. Defaults to
            the default variant's.
    """

    def __init__(self, objects: Sequence[SceneObject], margin: float,
                 wording: Wording = DEFAULT_WORDING) -> None:
        self.objects = list(objects)
        self.margin = margin
        self.wording = wording
        self._match: Dict[Desc, Tuple[int, ...]] = {}

    def match(self, desc: Desc) -> Tuple[int, ...]:
        """Indices of the objects a description fits (cached)."""
        found = self._match.get(desc)
        if found is None:
            found = tuple(i for i, o in enumerate(self.objects) if matches(o, desc))
            self._match[desc] = found
        return found

    def unique_descs(self, idx: int) -> List[Desc]:
        """Descriptions that fit object ``idx`` only, cheapest first."""
        found = [d for d in descs_of(self.objects[idx]) if self.match(d) == (idx, )]
        return sorted(found, key=desc_cost)

    def frames(self, idx: int, allow_location: bool) -> List[Tuple[float, Expression, int]]:
        """Every frame that singles out object ``idx``, exactly and visibly.

        Args:
            idx (int): Target index in ``objects``.
            allow_location (bool): Whether location (rank, directional
                relations) may be used (RefCOCO) or not (RefCOCO+).

        Returns:
            list[tuple[float, Expression, int]]: ``(cost, frame, number of
            objects matching the frame's description)`` within :data:`SLACK` of
            the cheapest, in a deterministic order.
        """
        target = self.objects[idx]
        found: List[Tuple[float, Expression, int]] = []
        ambiguous = []
        for desc in descs_of(target):
            cands = self.match(desc)
            if cands == (idx, ):
                found.append((desc_cost(desc), Expression('attr', desc), 1))
            elif len(cands) >= 2:
                ambiguous.append((desc, cands))

        for desc, cands in ambiguous:
            if allow_location:
                for direction in DIRECTIONS:
                    k = self._visible_rank(idx, cands, direction)
                    if k:
                        cost = desc_cost(desc) + (RANK1_COST if k == 1 else ORDINAL_COST + 0.5 *
                                                  (k - 2))
                        found.append((cost, Expression('rank', desc, direction=direction, k=k),
                                      len(cands)))
            if desc.size is None:
                extreme = self._size_extreme(idx, cands)
                if extreme:
                    found.append((desc_cost(desc) + SUPER_COST,
                                  Expression('super', desc, extreme=extreme), len(cands)))

        best = min((c for c, _, _ in found), default=float('inf'))
        # A relation costs at least two shape names and the cheapest relation: only
        # look for relations when they can enter the paraphrase pool.
        if ambiguous and 2.0 + min(RELATION_COST.values()) <= best + SLACK + 1e-9:
            found.extend(self._relation_frames(idx, ambiguous, allow_location, best + SLACK))

        found = [f for f in found if evaluate(f[1], self.objects) == [target.ann_id]]
        if not found:
            return []
        best = min(c for c, _, _ in found)
        return [f for f in found if f[0] <= best + SLACK + 1e-9]

    def _visible_rank(self, idx: int, cands: Sequence[int], direction: str) -> int:
        """Rank of the target among ``cands`` from ``direction`` if it is
        clear-cut (no candidate within the margin) and counted from the nearer
        end; 0 otherwise."""
        key = _key(direction)
        value = key(self.objects[idx])
        others = [key(self.objects[i]) for i in cands if i != idx]
        if any(abs(v - value) < self.margin for v in others):
            return 0
        k = 1 + sum(1 for v in others if v < value)
        from_other_end = len(cands) + 1 - k
        if k > MAX_ORDINAL or k > from_other_end:
            return 0
        return k

    def _size_extreme(self, idx: int, cands: Sequence[int]) -> Optional[str]:
        """``'large'``/``'small'`` if the target is strictly the biggest/smallest."""
        rank = SIZE_RANK[self.objects[idx].size]
        others = [SIZE_RANK[self.objects[i].size] for i in cands if i != idx]
        if all(rank > r for r in others):
            return 'large'
        if all(rank < r for r in others):
            return 'small'
        return None

    def _relation_frames(self, idx: int, ambiguous: Sequence[Tuple[Desc, Tuple[int, ...]]],
                         allow_location: bool,
                         max_cost: float) -> List[Tuple[float, Expression, int]]:
        """Relation frames ``A REL B`` with ``A`` an ambiguous description of the
        target and ``B`` a cheapest unique description of another object."""
        target = self.objects[idx]
        relations = [r for r in RELATION_COST if allow_location or r not in LOCATION_RELATIONS]
        found = []
        for b_idx, b in enumerate(self.objects):
            if b_idx == idx:
                continue
            landmark_descs = self.unique_descs(b_idx)
            if not landmark_descs:
                continue
            cheapest = desc_cost(landmark_descs[0])
            landmark_descs = [d for d in landmark_descs if desc_cost(d) == cheapest]
            for desc, cands in ambiguous:
                others = [self.objects[i] for i in cands if i not in (idx, b_idx)]
                for rel in relations:
                    cost = desc_cost(desc) + RELATION_COST[rel] + cheapest
                    if cost > max_cost + 1e-9 or not self._relation_holds(
                            rel, target, b, others):
                        continue
                    for landmark in landmark_descs:
                        found.append((cost, Expression('relation', desc, relation=rel,
                                                       landmark=landmark), len(cands)))
        return found

    def _relation_holds(self, rel: str, target: SceneObject, b: SceneObject,
                        others: Sequence[SceneObject]) -> bool:
        """Whether ``target REL b`` holds clearly and no other candidate's does."""
        m = self.margin
        if rel in ('left_of', 'right_of', 'above', 'below'):
            sign = -1 if rel in ('left_of', 'above') else 1
            coord = (lambda o: o.cx) if rel in ('left_of', 'right_of') else (lambda o: o.cy)
            # target clearly on that side of b, every other clearly not.
            return (sign * (coord(target) - coord(b)) >= m
                    and all(sign * (coord(o) - coord(b)) <= -m for o in others))
        if rel == 'closest':
            d = np.hypot(target.cx - b.cx, target.cy - b.cy)
            return all(np.hypot(o.cx - b.cx, o.cy - b.cy) >= CLOSEST_RATIO * d + m
                       for o in others)
        if rel == 'behind':
            return b.ann_id in target.occluded_by and all(b.ann_id not in o.occluded_by
                                                          for o in others)
        if rel == 'in_front':
            return target.ann_id in b.occluded_by and all(o.ann_id not in b.occluded_by
                                                          for o in others)
        raise ValueError(f'unknown relation {rel!r}')

    def sentences(self, idx: int, rng: np.random.Generator, allow_location: bool,
                  num_sentences: int) -> List[str]:
        """Raw paraphrases referring to object ``idx``.

        The first one realises a cheapest frame; the others cycle through the
        frames within :data:`SLACK` in random order, with fresh wording. Two
        sentences never have the same normalised text.

        Args:
            idx (int): Target index.
            rng (np.random.Generator): Source of choices.
            allow_location (bool): RefCOCO (True) or RefCOCO+ (False) style.
            num_sentences (int): How many to try for.

        Returns:
            list[str]: Between 0 (the object cannot be singled out) and
            ``num_sentences`` raw sentences.
        """
        frames = self.frames(idx, allow_location)
        if not frames:
            return []
        best = min(c for c, _, _ in frames)
        cheapest = [i for i, (c, _, _) in enumerate(frames) if c <= best + 1e-9]
        first = cheapest[int(rng.integers(len(cheapest)))]
        rest = [i for i in rng.permutation(len(frames)).tolist() if i != first]
        order = [first] + rest
        out, seen = [], set()
        for attempt in range(4 * num_sentences):
            if len(out) == num_sentences:
                break
            _, frame, n_cands = frames[order[attempt % len(order)]]
            raw = realise(frame, rng, n_cands, self.wording)
            sent = normalize_expression(raw)
            if sent not in seen:
                seen.add(sent)
                out.append(raw)
        return out


def _key(direction: str):
    """Sort key of a direction: smaller = nearer that side."""
    return {
        'left': lambda o: o.cx,
        'right': lambda o: -o.cx,
        'top': lambda o: o.cy,
        'bottom': lambda o: -o.cy,
    }[direction]
