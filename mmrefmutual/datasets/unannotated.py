"""COCO instances in images that have no referring expression at all.

These are the objects the generation head describes to make pseudo refs: the
COCO train images that appear in no RefCOCO / RefCOCO+ / RefCOCOg refs file
(any split, train included, so that pseudo refs never duplicate a human one and
never touch an evaluation image).
"""
import logging
import os.path as osp
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

from mmdet.datasets import BaseDetDataset
from mmengine.fileio import load
from mmengine.logging import print_log
from mmengine.utils import is_abs

from mmrefmutual.registry import DATASETS
from .refer_files import CocoIndex, load_refs

#: Top-level key of the json written by ``build_unannotated_instances.py``,
#: recording which refs files were excluded and with which ``min_area``.
PROVENANCE_KEY = 'mmrefmutual_unannotated'


def referred_image_ids(refs_files: Iterable[str], backend_args: Optional[dict] = None,
                       anns: Optional[Dict[int, dict]] = None) -> Set[int]:
    """Ids of every image that appears in any of the refs files, any split.

    Args:
        refs_files (Iterable[str]): Refs files (``refs(unc).p``...).
        backend_args (dict, optional): mmengine file backend arguments.
        anns (dict[int, dict], optional): COCO annotations by id, used for refs
            that lack ``image_id``.

    Returns:
        set[int]: The image ids.
    """
    img_ids = set()
    for refs_file in refs_files:
        for ref in load_refs(refs_file, backend_args):
            if 'image_id' in ref:
                img_ids.add(int(ref['image_id']))
            elif anns is not None and ref.get('ann_id') in anns:
                img_ids.add(int(anns[ref['ann_id']]['image_id']))
            else:
                raise KeyError(f'{refs_file}: ref {ref.get("ref_id")} has no image_id and '
                               'its annotation is unknown')
    return img_ids


def annotation_area(ann: dict) -> float:
    """COCO ``area`` (mask area) of an annotation, else its box area."""
    if 'area' in ann:
        return float(ann['area'])
    return float(ann['bbox'][2] * ann['bbox'][3])


def is_eligible(ann: dict, min_area: float) -> bool:
    """Whether an annotation should be described: a single object (not a crowd
    region) of at least ``min_area`` pixels."""
    return not ann.get('iscrowd', 0) and annotation_area(ann) >= min_area


def select_unannotated(coco: dict, excluded_img_ids: Set[int],
                       min_area: float) -> Tuple[dict, Dict[str, int]]:
    """Keep the images outside ``excluded_img_ids`` with an eligible instance.

    Args:
        coco (dict): COCO instances json.
        excluded_img_ids (set[int]): Images to drop (those with refs).
        min_area (float): Minimum area of an instance to describe.

    Returns:
        tuple[dict, dict]: The COCO json restricted to the kept images, with
        *all* their annotations (eligibility is re-checked when loading, and the
        other instances remain Mask2Former context), and counts:
        ``images``, ``images_referred``, ``images_without_eligible``,
        ``images_kept``, ``instances_kept``, ``instances_eligible``,
        ``instances_small``, ``instances_crowd``.
    """
    index = CocoIndex(coco)
    counts = dict(images=len(index.images), images_referred=0, images_without_eligible=0,
                  images_kept=0, instances_kept=0, instances_eligible=0, instances_small=0,
                  instances_crowd=0)
    kept_images, kept_anns = [], []
    for img in coco['images']:
        if img['id'] in excluded_img_ids:
            counts['images_referred'] += 1
            continue
        anns = index.img_to_anns.get(img['id'], [])
        n_eligible = sum(is_eligible(ann, min_area) for ann in anns)
        n_crowd = sum(bool(ann.get('iscrowd', 0)) for ann in anns)
        if not n_eligible:
            counts['images_without_eligible'] += 1
            continue
        counts['images_kept'] += 1
        counts['instances_kept'] += len(anns)
        counts['instances_eligible'] += n_eligible
        counts['instances_crowd'] += n_crowd
        counts['instances_small'] += len(anns) - n_eligible - n_crowd
        kept_images.append(img)
        kept_anns.extend(anns)
    subset = {k: v for k, v in coco.items() if k not in ('images', 'annotations')}
    subset.update(images=kept_images, annotations=kept_anns)
    return subset, counts


@DATASETS.register_module()
class UnannotatedInstanceDataset(BaseDetDataset):
    """COCO instances in images without any referring expression.

    ``ann_file`` is either the output of
    ``tools/dataset_converters/build_unannotated_instances.py`` or a raw COCO
    instances file together with ``refs_files``, whose images (every split) are
    excluded. Loading a raw COCO file without ``refs_files`` is refused, as it
    would generate pseudo refs on RefCOCO evaluation images.

    Each data_info follows ``docs/data_flow.md``: ``instances`` holds every
    annotation of the image and ``refs`` one pseudo entry per instance to
    describe (``ref_id=-1``, ``sentences=[]``, ``inst_idx`` into
    ``instances``, ``area``). An instance is described when it is not a crowd region and
    its COCO ``area`` is at least ``min_area``.

    Args:
        ann_file (str): COCO-format instances json.
        refs_files (Sequence[str]): Refs files whose images are excluded.
            Defaults to ``()`` (the converter's output already excludes them).
        min_area (float): Minimum instance area, in pixels. Defaults to 32*32.
        mode (str): ``'image'``: one sample per image with all its eligible
            instances, so that generation is batched per image; ``'instance'``:
            one sample per eligible instance. Defaults to ``'image'``.
        data_root (str): Root of ``ann_file``, ``refs_files`` and
            ``data_prefix``. Defaults to ''.
        data_prefix (dict): ``dict(img_path=...)``. Defaults to
            ``dict(img_path='')``.
        **kwargs: Other arguments of :class:`mmdet.datasets.BaseDetDataset`.
    """

    MODES = ('image', 'instance')

    def __init__(self,
                 ann_file: str,
                 refs_files: Sequence[str] = (),
                 min_area: float = 32 * 32,
                 mode: str = 'image',
                 data_root: str = '',
                 data_prefix: dict = dict(img_path=''),
                 **kwargs) -> None:
        if mode not in self.MODES:
            raise ValueError(f'mode must be one of {self.MODES}, got {mode!r}')
        self.refs_files = list(refs_files)
        self.min_area = min_area
        self.mode = mode
        self.load_stats: Dict[str, int] = {}
        super().__init__(ann_file=ann_file, data_root=data_root, data_prefix=data_prefix,
                         **kwargs)

    def _join_prefix(self) -> None:
        """Join ``data_root`` to ``refs_files`` as well as to mmengine's paths."""
        if self.data_root:
            self.refs_files = [
                f if is_abs(f) else osp.join(self.data_root, f) for f in self.refs_files
            ]
        super()._join_prefix()

    def load_data_list(self) -> List[dict]:
        """Build one data_info per image (or per eligible instance).

        Returns:
            list[dict]: The data_info list.

        Raises:
            ValueError: if no refs file excludes the referred images, or if no
                instance is left.
        """
        coco = load(self.ann_file, file_format='json', backend_args=self.backend_args)
        if not self.refs_files and PROVENANCE_KEY not in coco:
            raise ValueError(
                f'{self.ann_file} was not written by build_unannotated_instances.py and no '
                'refs_files were given: images with referring expressions (including '
                'evaluation images) would not be excluded.')
        excluded: Set[int] = set()
        if self.refs_files:
            anns = {ann['id']: ann for ann in coco['annotations']}
            excluded = referred_image_ids(self.refs_files, self.backend_args, anns)
        subset, counts = select_unannotated(coco, excluded, self.min_area)
        index = CocoIndex(subset)
        self._metainfo['classes'] = index.classes

        data_list = []
        img_prefix = self.data_prefix.get('img_path', '')
        for img in subset['images']:
            info = index.base_info(img['id'], img_prefix)
            refs = [
                dict(ref_id=-1, ann_id=ann['id'], inst_idx=inst_idx,
                     category_id=ann['category_id'], area=annotation_area(ann), weight=1.0,
                     sentences=[])
                for inst_idx, ann in enumerate(index.img_to_anns[img['id']])
                if is_eligible(ann, self.min_area)
            ]
            if self.mode == 'image':
                data_list.append(dict(info, refs=refs))
            else:
                data_list.extend(dict(info, refs=[ref]) for ref in refs)
        self.load_stats = dict(counts, samples=len(data_list))
        print_log(f'{type(self).__name__}: {counts["instances_eligible"]} instances of at '
                  f'least {self.min_area} px in {counts["images_kept"]} images '
                  f'({counts["images_referred"]} images with refs excluded, '
                  f'{counts["images_without_eligible"]} without an eligible instance)',
                  logger='current', level=logging.INFO)
        if not data_list:
            raise ValueError(f'{self.ann_file}: no instance of at least {self.min_area} px in '
                             'an image without referring expressions')
        return data_list
