"""The synthetic benchmark's oracle as an annotator (the pipeline's end-to-end check).

The oracle "understands" an expression when it fits exactly one object of the image
(:class:`~mmrefmutual_bench.synthetic.SyntheticOracle`); it then clicks a pixel of
that object's mask that no other object's mask covers, else it answers "can't tell".
Its click is right iff the object it understood is the target, so the H-Acc of oracle
annotators equals the oracle unambiguity (``REGMetric``) of the same items exactly.
"""
import json
import random
from typing import Dict, Optional, Tuple

import numpy as np

from .db import StudyDB
from .study import ann_to_rle, decode_rle

Click = Optional[Tuple[float, float]]


class OracleAnnotator:
    """Clicks of the oracle on a study's items.

    Args:
        ann_file (str): The synthetic ``instances.json`` the study was made from.
        seed (int | str): Which of the object's pixels is clicked (seeded per item).
    """

    def __init__(self, ann_file: str, seed=0) -> None:
        from mmrefmutual_bench.synthetic import SyntheticOracle
        with open(ann_file, 'r', encoding='utf-8') as f:
            coco = json.load(f)
        self.oracle = SyntheticOracle(coco)
        self.seed = seed
        self._images = {int(im['id']): im for im in coco['images']}
        self._anns: Dict[int, list] = {}
        for ann in coco['annotations']:
            self._anns.setdefault(int(ann['image_id']), []).append(ann)
        self._masks: Dict[int, Dict[int, np.ndarray]] = {}

    def masks(self, image_id: int) -> Dict[int, np.ndarray]:
        """Every object mask of an image, by ann id."""
        if image_id not in self._masks:
            im = self._images[image_id]
            self._masks[image_id] = {
                int(a['id']): decode_rle(json.dumps(ann_to_rle(a, im['height'], im['width'])))
                for a in self._anns.get(image_id, [])}
        return self._masks[image_id]

    def click(self, image_id: int, expression: str, key: str = '') -> Click:
        """(x, y) at the centre of a pixel of the understood object, or None."""
        referents = self.oracle.referents(int(image_id), expression)
        if len(referents) != 1:
            return None
        masks = self.masks(int(image_id))
        mine = masks[int(referents[0])]
        others = np.zeros_like(mine)
        for ann_id, m in masks.items():
            if ann_id != int(referents[0]):
                others |= m
        rows, cols = np.nonzero(mine & ~others)
        if len(rows) == 0:  # wholly covered by others' masks: any pixel of its own
            rows, cols = np.nonzero(mine)
        if len(rows) == 0:
            return None
        k = random.Random(f'{self.seed}/{key}/{image_id}/{expression}').randrange(len(rows))
        return float(cols[k]) + 0.5, float(rows[k]) + 0.5

    def click_item(self, item: dict) -> Click:
        return self.click(item['image_id'], item['expression'], key=str(item['item_id']))

    def annotate(self, db: StudyDB, annotator: str, limit: Optional[int] = None) -> int:
        """Answer the annotator's next items in their order (all, or ``limit``) through
        :meth:`StudyDB.record_click`, as the server does; returns how many."""
        done = 0
        while limit is None or done < limit:
            item_id = db.next_item(annotator)
            if item_id is None:
                break
            xy = self.click_item(db.item(item_id))
            if xy is None:
                db.record_click(annotator, item_id, cant_tell=True)
            else:
                db.record_click(annotator, item_id, *xy)
            done += 1
        return done


def oracle_unambiguity(db: StudyDB, ann_file: str) -> Dict[str, Dict[str, Tuple[int, int]]]:
    """``{split: {model: (unambiguous, n)}}`` of the study's items as ``REGMetric``
    computes it (referents == [target]), from the REG dumps named in the study's sources
    (their sha256 checked) rather than from the clicks: the check of the clicks' H-Acc.
    The human control's sentences are taken from the study file.

    Raises:
        StudyError: a dump changed since the study was made.
    """
    from mmrefmutual_bench.synthetic import SyntheticOracle

    from .db import StudyError
    from .study import load_dump, sha256_of
    oracle = SyntheticOracle(ann_file)
    dumps = {}
    for src in db.sources():
        if src['role'] == 'reg_dump':
            if sha256_of(src['path']) != src['sha256']:
                raise StudyError(f'{src["path"]} changed since the study was made')
            dumps[(src['model'], src['split'])] = load_dump(src['path'])
    out: Dict[str, Dict[str, Tuple[int, int]]] = {}
    for item in db.items():
        if (item['model'], item['split']) in dumps:
            rec = dumps[(item['model'], item['split'])][item['ref_id']]
            image_id, text, ann_id = rec['image_id'], rec['expression'], rec['ann_id']
        else:
            image_id, text, ann_id = item['image_id'], item['expression'], item['ann_id']
        fits = oracle.referents(int(image_id), text) == [int(ann_id)]
        k, n = out.setdefault(item['split'], {}).get(item['model'], (0, 0))
        out[item['split']][item['model']] = (k + int(fits), n + 1)
    return out
