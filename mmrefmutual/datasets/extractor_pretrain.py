"""COCO instances for pre-training the proposal extractor (Mask2Former), as the paper's
Mask2Former is pre-trained on COCO "with all images of the RefCOCO/+/g val/test sets
removed" (Sec. 4.1)."""
import os.path as osp
from typing import List, Sequence

from mmdet.datasets import BaseDetDataset
from mmengine.fileio import load
from mmengine.logging import print_log
from mmengine.utils import is_abs

from mmrefmutual.registry import DATASETS
from .leakage import EvaluationImageGuard, LeakageError  # noqa: F401 (LeakageError: API)
from .refer_files import CocoIndex, evaluation_image_ids


@DATASETS.register_module()
class ExtractorPretrainDataset(BaseDetDataset):
    """Every image of a COCO instances file except the RefCOCO/+/g evaluation images.

    Each data_info is a RefCOCO data_info without refs (``refs=[]``): the instances
    train Mask2Former's instance segmentation only, through the same pipeline (also
    mmdet's own: ``img_path``, ``instances`` with ``bbox``, ``bbox_label``, ``mask``,
    ``ignore_flag``). Works for COCO train2014 and train2017 alike: both keep COCO's
    image ids, which the refs files name.

    The metainfo's ``extractor_pretrain`` (saved in every checkpoint's
    ``meta.dataset_meta``) records the refs files excluded, with their sha256, so
    that later steps and ``tools/test.py`` know the extractor never saw them.

    Args:
        ann_file (str): COCO instances json (e.g. ``instances_train2014.json``).
        protected_refs_files (Sequence[str]): Refs files whose val/test images are
            dropped (all of RefCOCO, RefCOCO+ and RefCOCOg). Required.
        data_root (str): Root of ``ann_file``, ``protected_refs_files`` and
            ``data_prefix``.
        data_prefix (dict): ``dict(img_path=...)``.
        **kwargs: Other arguments of :class:`mmdet.datasets.BaseDetDataset`.

    Raises:
        LeakageError: if an evaluation image is in the data list or is about to be
            served (:class:`~mmrefmutual.datasets.leakage.EvaluationImageGuard`, which
            reads the refs files apart from the filter).
    """

    def __init__(self, ann_file: str, protected_refs_files: Sequence[str], data_root: str = '',
                 data_prefix: dict = dict(img_path=''), **kwargs) -> None:
        if not protected_refs_files:
            raise ValueError('name the RefCOCO/+/g refs files whose evaluation images must '
                             'stay out of extractor pre-training')
        self.protected_refs_files = list(protected_refs_files)
        super().__init__(ann_file=ann_file, data_root=data_root, data_prefix=data_prefix,
                         **kwargs)

    def _join_prefix(self) -> None:
        if self.data_root:
            self.protected_refs_files = [f if is_abs(f) else osp.join(self.data_root, f)
                                         for f in self.protected_refs_files]
        super()._join_prefix()

    def load_data_list(self) -> List[dict]:
        coco = CocoIndex(load(self.ann_file, file_format='json', backend_args=self.backend_args))
        self._metainfo['classes'] = coco.classes
        forbidden = evaluation_image_ids(self.protected_refs_files)
        img_prefix = self.data_prefix.get('img_path', '')
        data_list = []
        for img_id in coco.images:
            if img_id in forbidden or not coco.img_to_anns.get(img_id):
                continue
            info = dict(coco.base_info(img_id, img_prefix), refs=[])
            for inst, ann in zip(info['instances'], coco.img_to_anns[img_id]):
                inst['ignore_flag'] = int(bool(ann.get('iscrowd', 0)))  # as mmdet's CocoDataset
            data_list.append(info)
        self.guard = EvaluationImageGuard(self.protected_refs_files)
        for info in data_list:
            self.guard.check(info['img_id'], 'the extractor pre-training data')
        self._metainfo['extractor_pretrain'] = dict(
            evaluation_images_excluded=len(self.guard.image_ids),
            protected_refs_files=self.guard.files, images=len(data_list))
        print_log(f'{type(self).__name__}: {len(data_list)} images ({len(forbidden)} '
                  'evaluation images excluded)', logger='current')
        return data_list

    def get_data_info(self, idx: int) -> dict:
        """The data info of a sample, checked again where it is served."""
        info = super().get_data_info(idx)
        self.guard.check(info['img_id'], 'an extractor pre-training sample')
        return info
