"""RefCOCO / RefCOCO+ / RefCOCOg for referring expression segmentation and generation.

The data_info produced here is the one described in ``docs/data_flow.md``:
every COCO annotation of the image goes to ``instances`` (Mask2Former is trained
on all of them) and the referring expressions go to ``refs``, each pointing at
its object through ``inst_idx``.
"""
import logging
import os.path as osp
import re
from collections import OrderedDict
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from mmdet.datasets import BaseDetDataset
from mmengine.fileio import get_file_backend, load
from mmengine.logging import print_log
from mmengine.utils import is_abs

from mmrefmutual.registry import DATASETS
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
    """Load a refs file: a (Python 2) pickle, or JSON for files we write ourselves.

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


def _plural(count: int, word: str) -> str:
    return f'{count} {word}' + ('' if count == 1 else 's')


@DATASETS.register_module()
class RefCocoDataset(BaseDetDataset):
    """RefCOCO, RefCOCO+ and RefCOCOg (refs files of Licheng Yu's ``refer`` API).

    Unlike mmdet's ``RefCocoDataset`` (one flattened instance per sentence), each
    data_info keeps all COCO annotations of the image in ``instances`` and the
    expressions in ``refs`` (see ``docs/data_flow.md``)::

        dict(img_path, img_id, height, width,
             instances=[dict(bbox, bbox_label, mask, ignore_flag=0, ann_id)],
             refs=[dict(ref_id, ann_id, inst_idx, category_id, weight,
                        sentences=[dict(sent_id, raw, sent)])])

    Refs whose annotation or image is not in ``ann_file`` are skipped, and
    expressions empty after :func:`normalize_expression` are dropped (a ref left
    without any is skipped); both are reported by one warning with counts, and
    kept in :attr:`load_stats`.

    Args:
        ann_file (str): COCO instances json (``instances.json`` of the refer
            data or ``instances_train2014.json``).
        split_file (str): Refs file, e.g. ``'refs(unc).p'`` (or a ``.json``
            list of refs in the same format, such as pseudo refs).
        split (str): ``'train'``, ``'val'``, ``'testA'``, ``'testB'`` or
            ``'test'``, as available in the partition of ``split_file``.
            Defaults to ``'train'``.
        mode (str): ``'train'``: one sample per ref; ``'test'``: one sample per
            image with every ref of the split in it and all their sentences.
            Defaults to ``'train'``.
        max_words (int, optional): Expressions are truncated to this many
            words. None keeps them whole. Defaults to None.
        merge_refs_file (str, optional): A second refs file over the same COCO
            annotations (e.g. RefCOCO+ for RefCOCO). The sentences of its refs
            with the same ``ann_id`` are added to a ref as ``extra_sentences``:
            extra REG references for CIDEr, never expressions to ground or to
            train on. Defaults to None.
        data_root (str): Root of ``ann_file``, ``split_file``,
            ``merge_refs_file`` and ``data_prefix``. Defaults to ''.
        data_prefix (dict): ``dict(img_path=...)``, the image folder.
            Defaults to ``dict(img_path='')``.
        **kwargs: Other arguments of :class:`mmdet.datasets.BaseDetDataset`
            (``pipeline``, ``test_mode``, ``backend_args``...).

    A ref may carry a ``weight`` (e.g. 0.1 for pseudo refs); it defaults to 1.0.
    ``metainfo['classes']`` always comes from the categories of ``ann_file``;
    ``bbox_label`` is the index of the category id among the sorted ids.
    """

    MODES = ('train', 'test')

    def __init__(self,
                 ann_file: str,
                 split_file: str,
                 split: str = 'train',
                 mode: str = 'train',
                 max_words: Optional[int] = None,
                 merge_refs_file: Optional[str] = None,
                 data_root: str = '',
                 data_prefix: dict = dict(img_path=''),
                 **kwargs) -> None:
        if mode not in self.MODES:
            raise ValueError(f'mode must be one of {self.MODES}, got {mode!r}')
        self.split_file = split_file
        self.split = split
        self.mode = mode
        self.max_words = max_words
        self.merge_refs_file = merge_refs_file
        self.load_stats: Dict[str, int] = {}
        super().__init__(ann_file=ann_file, data_root=data_root, data_prefix=data_prefix,
                         **kwargs)

    def _join_prefix(self) -> None:
        """Join ``data_root`` to the refs files as well as to mmengine's paths."""
        if self.data_root:
            if self.split_file and not is_abs(self.split_file):
                self.split_file = osp.join(self.data_root, self.split_file)
            if self.merge_refs_file and not is_abs(self.merge_refs_file):
                self.merge_refs_file = osp.join(self.data_root, self.merge_refs_file)
        super()._join_prefix()

    def load_data_list(self) -> List[dict]:
        """Build the data_info list of the split.

        Returns:
            list[dict]: One data_info per ref (``mode='train'``) or per image
            (``mode='test'``).

        Raises:
            ValueError: if ``split`` is not a split of ``split_file``'s
                partition, or if it yields no sample.
        """
        coco = CocoIndex(load(self.ann_file, file_format='json',
                              backend_args=self.backend_args))
        self._metainfo['classes'] = coco.classes
        all_refs = load_refs(self.split_file, self.backend_args)
        available = valid_splits(self.split_file, all_refs)
        if self.split not in available:
            raise ValueError(f'Unknown split {self.split!r} for refs file {self.split_file}; '
                             f'available splits: {", ".join(available)}')
        extra = self._load_extra_sentences(coco) if self.merge_refs_file else None

        stats = dict(refs_in_split=0, missing_ann=0, missing_img=0, empty_sentences=0,
                     refs_without_sentences=0)
        # img_id -> refs of that image in the split, in refs-file order.
        refs_by_img: Dict[int, List[dict]] = OrderedDict()
        for raw in all_refs:
            if raw.get('split') != self.split:
                continue
            stats['refs_in_split'] += 1
            ann = coco.anns.get(raw['ann_id'])
            if ann is None:
                stats['missing_ann'] += 1
                continue
            img_id = ann['image_id']
            if img_id not in coco.images or raw.get('image_id', img_id) != img_id:
                stats['missing_img'] += 1
                continue
            sentences, dropped = normalize_sentences(raw, self.max_words)
            stats['empty_sentences'] += dropped
            if not sentences:
                stats['refs_without_sentences'] += 1
                continue
            ref = dict(ref_id=int(raw['ref_id']), ann_id=int(raw['ann_id']),
                       category_id=int(raw.get('category_id', ann['category_id'])),
                       weight=float(raw.get('weight', 1.0)), sentences=sentences)
            if extra is not None:
                ref['extra_sentences'] = extra.get(ref['ann_id'], [])
            refs_by_img.setdefault(img_id, []).append(ref)

        data_list = []
        img_prefix = self.data_prefix.get('img_path', '')
        for img_id, refs in refs_by_img.items():
            info = coco.base_info(img_id, img_prefix)
            ann_ids = [inst['ann_id'] for inst in info['instances']]
            for ref in refs:
                ref['inst_idx'] = ann_ids.index(ref['ann_id'])
            if self.mode == 'test':
                data_list.append(dict(info, refs=refs))
            else:
                # Sharing `instances` is safe: BaseDataset hands out (de)serialised
                # or deep copies of each data_info.
                data_list.extend(dict(info, refs=[ref]) for ref in refs)
        self.load_stats = dict(stats, samples=len(data_list),
                               refs=sum(len(refs) for refs in refs_by_img.values()))
        self._report(stats)
        if not data_list:
            present = {str(r.get('split')) for r in all_refs}
            present = [s for s in available if s in present] + sorted(present - set(available))
            raise ValueError(
                f'Split {self.split!r} of refs file {self.split_file} has no usable sample '
                f'({stats["refs_in_split"]} refs in the split before filtering); '
                f'splits with refs in the file: {", ".join(present)}')
        return data_list

    def _load_extra_sentences(self, coco: CocoIndex) -> Dict[int, List[dict]]:
        """Normalised sentences of ``merge_refs_file``, keyed by ``ann_id``.

        Every split of the merged file is used: the sentences only ever serve
        as additional REG references of the same object.
        """
        extra: Dict[int, List[dict]] = {}
        dropped = 0
        for raw in load_refs(self.merge_refs_file, self.backend_args):
            if raw['ann_id'] not in coco.anns:
                continue
            sentences, n_empty = normalize_sentences(raw, self.max_words)
            dropped += n_empty
            extra.setdefault(int(raw['ann_id']), []).extend(sentences)
        if dropped:
            print_log(f'{type(self).__name__}: dropped {_plural(dropped, "expression")} of '
                      f'{self.merge_refs_file} that are empty once normalised',
                      logger='current', level=logging.WARNING)
        return extra

    def _report(self, stats: Dict[str, int]) -> None:
        """Log one warning that counts everything skipped while loading."""
        problems = []
        if stats['missing_ann']:
            problems.append(f'skipped {_plural(stats["missing_ann"], "ref")} whose '
                            f'annotation is missing from {self.ann_file}')
        if stats['missing_img']:
            problems.append(f'skipped {_plural(stats["missing_img"], "ref")} whose image '
                            f'is missing from {self.ann_file}')
        if stats['empty_sentences']:
            problems.append(f'dropped {_plural(stats["empty_sentences"], "expression")} '
                            'empty once normalised')
        if stats['refs_without_sentences']:
            problems.append(f'skipped {_plural(stats["refs_without_sentences"], "ref")} '
                            'left without any expression')
        if problems:
            print_log(f'{type(self).__name__}({self.split_file}, split={self.split!r}): '
                      + '; '.join(problems),
                      logger='current', level=logging.WARNING)
