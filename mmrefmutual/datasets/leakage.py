"""The guard that keeps RefCOCO/+/g evaluation images out of training data.

RefCOCO, RefCOCO+ and RefCOCOg draw their val/test images from COCO train2014 (and so
from train2017 too: the same image ids), so pre-training the extractor on COCO and
pseudo-labelling COCO must skip them. The datasets remove them (a filter); this guard
checks again where each sample is served, from its own reading of the refs files, so that
a bug in a filter cannot also blind the check.
"""
import hashlib
import os.path as osp
from typing import Dict, List, Sequence

from .refer_files import load_refs


class LeakageError(AssertionError):
    """An evaluation image of RefCOCO / RefCOCO+ / RefCOCOg reached training data that
    must never see it (extractor pre-training, pseudo-labelling)."""


def _sha256(path: str) -> str:
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


class EvaluationImageGuard:
    """Refuses the images of every non-train split of the given refs files.

    Args:
        refs_files (Sequence[str]): RefCOCO/+/g refs files (pickles are read safely).

    Raises:
        FileNotFoundError: if a refs file is missing (its images could not be guarded).
    """

    def __init__(self, refs_files: Sequence[str]) -> None:
        ids = set()
        self.files: List[Dict[str, str]] = []
        for refs_file in refs_files:
            if not osp.isfile(refs_file):
                raise FileNotFoundError(f'protected refs file {refs_file} not found: its '
                                        'evaluation images could not be guarded')
            ids.update(int(ref['image_id']) for ref in load_refs(refs_file)
                       if ref.get('split') != 'train')
            self.files.append(dict(file=osp.basename(refs_file), sha256=_sha256(refs_file)))
        #: Ids of the evaluation images.
        self.image_ids = frozenset(ids)

    def check(self, img_id: int, where: str) -> None:
        """Raise :class:`LeakageError` if ``img_id`` is an evaluation image.

        Args:
            img_id (int): The image id of a sample about to be used.
            where (str): What would have used it, for the message.
        """
        if int(img_id) in self.image_ids:
            raise LeakageError(f'image {img_id} belongs to a RefCOCO/+/g evaluation split and '
                               f'reached {where}')
