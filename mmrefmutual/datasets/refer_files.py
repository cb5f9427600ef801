"""The files of the refer API (RefCOCO / RefCOCO+ / RefCOCOg) and COCO instances files:
loading, partitions, normalised sentences and per-image look-ups."""
import os.path as osp
import re
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from mmengine.fileio import get_file_backend, load

from .safe_pickle import safe_load_pickle
from .text import normalize_expression

#: Splits that exist in each official refs file, keyed by the ``splitBy`` that
#: appears in its name (``refs(unc).p``...): RefCOCO/RefCOCO+ (UNC) have two test
#: sets (people / other objects), RefCOCOg has the UMD partition and the original
#: Google one whose test set was never released.
KNOWN_SPLITS: Dict[str, Tuple[str, ...]] = {
    'unc': ('train', 'val', 'testA', 'testB'),
    'umd': ('train', 'val', 'test'),
    'google': ('train', 'val'),
}

_SPLIT_BY = re.compile(r'refs\((\w+)\)')


def split_by_of(refs_file: str) -> Optional[str]:
    """Return the ``splitBy`` of a refs file from its name (``refs(unc).p`` -> ``'unc'``).

    Args:
        refs_file (str): Path of the refs file.

    Returns:
        str | None: The partition name, or None when the name does not say.
    """
    match = _SPLIT_BY.search(osp.basename(refs_file))
    return match.group(1) if match else None


def load_refs(refs_file: str, backend_args: Optional[dict] = None) -> List[dict]:
    """Load a refs file: a (Python 2) pickle, or JSON for files we write ourselves (a
    list of refs, or a dict whose ``refs`` are that list and whose other keys describe
    the file, as the pseudo refs of ``tools/generate_pseudo_refs.py``).

    Pickles are read with :func:`safe_load_pickle`, which refuses any pickled
    class or function, so a tampered file cannot run code.

    Args:
        refs_file (str): Path of the refs file (``.p``/``.pkl`` or ``.json``).
        backend_args (dict, optional): mmengine file backend arguments.

    Returns:
        list[dict]: One dict per ref (``ref_id``, ``ann_id``, ``image_id``,
        ``split``, ``sentences``...).
    """
    if refs_file.endswith('.json'):
        refs = load(refs_file, file_format='json', backend_args=backend_args)
        if isinstance(refs, dict) and 'refs' in refs:  # e.g. pseudo refs with provenance
            refs = refs['refs']
    else:
        refs = safe_load_pickle(refs_file, backend_args=backend_args)
    if not isinstance(refs, list) or not all(isinstance(r, dict) for r in refs):
        raise TypeError(f'{refs_file}: expected a list of ref dicts, got {type(refs).__name__}')
    return refs


def valid_splits(refs_file: str, refs: Iterable[dict]) -> Tuple[str, ...]:
    """Splits a refs file may be asked for.

    Args:
        refs_file (str): Path of the refs file (its name gives the partition).
        refs (Iterable[dict]): Its refs, used when the name is not an official one.

    Returns:
        tuple[str]: The official splits of the partition, or the splits present
        in the file when the partition is unknown.
    """
    split_by = split_by_of(refs_file)
    if split_by in KNOWN_SPLITS:
        return KNOWN_SPLITS[split_by]
    return tuple(sorted({str(r.get('split')) for r in refs}))


def coco_bbox_to_xyxy(bbox: Sequence[float]) -> List[float]:
    """COCO ``[x, y, w, h]`` -> ``[x1, y1, x2, y2]``."""
    x, y, w, h = bbox
    return [x, y, x + w, y + h]


class CocoIndex:
    """Look-up tables over a COCO instances file.

    Args:
        coco (dict): The loaded instances json (``images``, ``annotations``,
            ``categories``).

    Attributes:
        images (dict[int, dict]): image id -> image record.
        anns (dict[int, dict]): annotation id -> annotation.
        img_to_anns (dict[int, list[dict]]): image id -> its annotations, in file
            order (the fixed order of ``instances``).
        cat_ids (list[int]): sorted category ids; ``bbox_label`` is an index in it.
        classes (tuple[str]): category names in the order of ``cat_ids``.
    """

    def __init__(self, coco: dict) -> None:
        self.images: Dict[int, dict] = {img['id']: img for img in coco['images']}
        self.anns: Dict[int, dict] = {}
        self.img_to_anns: Dict[int, List[dict]] = {}
        for ann in coco['annotations']:
            self.anns[ann['id']] = ann
            self.img_to_anns.setdefault(ann['image_id'], []).append(ann)
        cats = sorted(coco['categories'], key=lambda c: c['id'])
        self.cat_ids: List[int] = [c['id'] for c in cats]
        self.classes: Tuple[str, ...] = tuple(c['name'] for c in cats)
        self.cat2label: Dict[int, int] = {cat_id: i for i, cat_id in enumerate(self.cat_ids)}

    def instances(self, img_id: int) -> List[dict]:
        """All annotations of an image as mmdet instances.

        Args:
            img_id (int): COCO image id.

        Returns:
            list[dict]: ``bbox`` (xyxy), ``bbox_label``, ``mask`` (polygons or
            RLE as in the file), ``ignore_flag`` (always 0: crowd regions are
            kept as masks, as the contract asks) and ``ann_id``.
        """
        return [
            dict(bbox=coco_bbox_to_xyxy(ann['bbox']),
                 bbox_label=self.cat2label[ann['category_id']],
                 mask=ann['segmentation'],
                 ignore_flag=0,
                 ann_id=ann['id'])
            for ann in self.img_to_anns.get(img_id, [])
        ]

    def base_info(self, img_id: int, img_prefix: str) -> dict:
        """The image part of a data_info: path, id, size and ``instances``.

        Args:
            img_id (int): COCO image id.
            img_prefix (str): Folder of the images.

        Returns:
            dict: ``img_path``, ``img_id``, ``height``, ``width``, ``instances``.
        """
        img = self.images[img_id]
        join_path = get_file_backend(img_prefix).join_path
        return dict(img_path=join_path(img_prefix, img['file_name']), img_id=img_id,
                    height=img['height'], width=img['width'],
                    instances=self.instances(img_id))


def normalize_sentences(ref: dict, max_words: Optional[int]) -> Tuple[List[dict], int]:
    """Normalise the sentences of a raw ref.

    Args:
        ref (dict): A ref as in the refs files (``sentences`` with ``raw`` and/or
            ``sent``, ``sent_id``; ``sent_ids`` as fallback ids).
        max_words (int, optional): Truncation, see :func:`normalize_expression`.

    Returns:
        tuple[list[dict], int]: ``dict(sent_id, raw, sent)`` for every sentence
        that is not empty once normalised, and the number of dropped ones.
    """
    sentences, dropped = [], 0
    fallback_ids = ref.get('sent_ids', [])
    for i, sentence in enumerate(ref.get('sentences', [])):
        raw = sentence.get('raw', sentence.get('sent', ''))
        sent = normalize_expression(raw, max_words)
        if not sent:
            dropped += 1
            continue
        sent_id = sentence.get('sent_id', fallback_ids[i] if i < len(fallback_ids) else -1)
        sentences.append(dict(sent_id=int(sent_id), raw=raw, sent=sent))
    return sentences, dropped


def evaluation_image_ids(refs_files: Sequence[str]) -> set:
    """Images of every split but 'train' of the refs files: RefCOCO/+/g evaluation images,
    which pre-training the extractor and pseudo-labelling must never touch.

    Raises:
        FileNotFoundError: if a refs file is missing (its images could not be excluded).
    """
    ids = set()
    for refs_file in refs_files:
        if not osp.isfile(refs_file):
            raise FileNotFoundError(f'protected refs file {refs_file} not found: its evaluation '
                                    'images could not be excluded')
        ids.update(int(r['image_id']) for r in load_refs(refs_file) if r.get('split') != 'train')
    return ids
