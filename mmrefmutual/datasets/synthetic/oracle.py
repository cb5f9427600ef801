"""The oracle of the synthetic benchmark: which objects does an expression fit?"""
import json
import os
from typing import Dict, List, Optional, Union

from .grammar import Expression, SceneObject, evaluate, parse, scene_object_from_ann


class SyntheticOracle:
    """Ground truth referents of expressions in the synthetic benchmark.

    Expressions are parsed with the generator's grammar and evaluated with its
    exact semantics (:mod:`mmrefmutual.datasets.synthetic.grammar` documents
    both) on the ``attributes`` and ``bbox`` of the image's annotations. A
    referring expression is unambiguous iff :meth:`referents` returns exactly
    one ann id.

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
        self._objects: Dict[int, List[SceneObject]] = {
            int(img['id']): []
            for img in coco.get('images', [])
        }
        for ann in coco['annotations']:
            self._objects.setdefault(int(ann['image_id']), []).append(scene_object_from_ann(ann))

    @property
    def image_ids(self) -> List[int]:
        """Ids of the images the oracle knows."""
        return list(self._objects)

    def objects(self, image_id: int) -> List[SceneObject]:
        """The objects of an image, in annotation order.

        Raises:
            KeyError: if the image is unknown.
        """
        try:
            return self._objects[int(image_id)]
        except KeyError:
            raise KeyError(f'image {image_id} is not in the oracle\'s annotation file') from None

    @staticmethod
    def parse(expression: str) -> Optional[Expression]:
        """Parse an expression (None when it is not in the grammar)."""
        return parse(expression)

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
        expr = parse(expression)
        if expr is None:
            return []
        return evaluate(expr, objects)

    def is_unambiguous(self, image_id: int, expression: str, ann_id: int) -> bool:
        """Whether the expression fits exactly the object ``ann_id``."""
        return self.referents(image_id, expression) == [int(ann_id)]
