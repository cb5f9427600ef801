"""RefCOCO / RefCOCO+ / RefCOCOg for referring expression segmentation and generation.

The data_info produced here is the one described in ``docs/data_flow.md``:
every COCO annotation of the image goes to ``instances`` (Mask2Former is trained
on all of them) and the referring expressions go to ``refs``, each pointing at
its object through ``inst_idx``.
"""
import logging
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional

from mmdet.datasets import BaseDetDataset
from mmengine.fileio import load
from mmengine.logging import print_log
from mmengine.utils import is_abs

from mmrefmutual.registry import DATASETS
from .refer_files import (KNOWN_SPLITS, CocoIndex, load_refs, normalize_sentences,  # noqa: F401
                          split_by_of, valid_splits)


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
            image with every ref of the split in it and all their sentences;
            ``'image'``: the samples of ``'test'``, for training on every ref of an
            image at each visit (``RandomSelectExpression`` picks a sentence per
            ref): more referring supervision per Mask2Former pass. Defaults to
            ``'train'``.
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

    MODES = ('train', 'test', 'image')

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
                       weight=float(raw.get('weight', 1.0)),
                       generated=bool(raw.get('generated', False)), sentences=sentences)
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
            if self.mode in ('test', 'image'):
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

    def sentences_by_ref(self) -> Dict[int, List[str]]:
        """``{ref_id: normalised sentences}`` of every ref of the split: e.g. the CIDEr-D
        corpus of the disambiguation reward (document frequencies of the training refs)."""
        corpus: Dict[int, List[str]] = {}
        for i in range(len(self)):
            for ref in self.get_data_info(i)['refs']:
                corpus[ref['ref_id']] = [s['sent'] for s in ref['sentences']]
        return corpus
