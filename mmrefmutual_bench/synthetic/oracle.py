"""The oracle of the synthetic benchmark: which objects does an expression fit?"""
import json
import os
from typing import Dict, List, Optional, Union

from .grammar import (DEFAULT_LEXICON, Expression, Lexicon, SceneObject, evaluate,
                      scene_object_from_ann)
from .variants import VARIANTS


class SyntheticOracle:
    """Ground truth referents of expressions in the synthetic benchmark.

    Expressions are parsed with the generator's grammar and evaluated with its
    exact semantics (:mod:`mmrefmutual_bench.synthetic.grammar` documents
    both) on the ``attributes`` and ``bbox`` of the image's annotations. A
    referring expression is unambiguous iff :meth:`referents` returns exactly
    one ann id.

    The words are those of the file's variant: ``info['lexicon']`` when the file
    has one (a variant's files, see :mod:`.variants`), the default lexicon
    otherwise. The oracle of a variant understands that variant's phrases only:
    a word outside its lexicon (in an ``'alt'`` file, any default shape, colour
    or generic noun) makes a sentence fit nothing.

    Args:
        ann_file_or_dict (str | os.PathLike | dict): A synthetic COCO instances
            json (``refcoco/instances.json`` or
            ``coco/annotations/instances_train2014.json``) or its loaded dict.
    """

    def __init__(self, ann_file_or_dict: Union[str, os.PathLike, dict]) -> None:
        if isinstance(ann_file_or_dict, dict):
            coco = ann_file_or_dict
        else:
            with open(ann_file_or_dict, 'r', encoding='utf-8') as f:
                coco = json.load(f)
        info = coco.get('info') or {}
        #: Name of the file's variant.
        self.variant: str = info.get('variant', 'default')
        #: The words the oracle understands.
        self.lexicon: Lexicon = _lexicon_of(info)
        self._objects: Dict[int, List[SceneObject]] = {
            int(img['id']): []
            for img in coco.get('images', [])
        }
        for ann in coco['annotations']:
            self._objects.setdefault(int(ann['image_id']), []).append(scene_object_from_ann(ann))

    def objects(self, image_id: int) -> List[SceneObject]:
        """The objects of an image, in annotation order.

        Raises:
            KeyError: if the image is unknown.
        """
        try:
            return self._objects[int(image_id)]
        except KeyError:
            raise KeyError(f'image {image_id} is not in the oracle\'s annotation file') from None

    def parse(self, expression: str) -> Optional[Expression]:
        """Parse an expression (None when it is not in the grammar or uses a word
        that is not in the file's lexicon)."""
        return self.lexicon.parse(expression)

    def referents(self, image_id: int, expression: str) -> List[int]:
        """Every annotation of the image that the expression fits.

        Args:
            image_id (int): Image id.
            expression (str): Raw or normalised text (case, punctuation and
                extra spaces are ignored).

        Returns:
            list[int]: The fitting ann ids in annotation order; ``[]`` when the
            expression is not in the grammar (unknown word, malformed) or fits
            nothing.

        Raises:
            KeyError: if the image is unknown.
        """
        objects = self.objects(image_id)
        expr = self.parse(expression)
        if expr is None:
            return []
        return evaluate(expr, objects)

    def is_unambiguous(self, image_id: int, expression: str, ann_id: int) -> bool:
        """Whether the expression fits exactly the object ``ann_id``."""
        return self.referents(image_id, expression) == [int(ann_id)]


def _lexicon_of(info: dict) -> Lexicon:
    """The lexicon recorded in a file's ``info`` (the default one when none is).

    A recorded lexicon equal to a known variant's is that variant's object, so
    that its parse cache is shared (the generator builds one oracle per image).
    """
    table = info.get('lexicon')
    if table is None:
        return DEFAULT_LEXICON
    known = VARIANTS.get(info.get('variant'))
    if known is not None and known.lexicon.to_json() == table:
        return known.lexicon
    return Lexicon.from_json(table)
