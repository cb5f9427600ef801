"""Datasets and transforms of mmrefmutual (data contract: ``docs/data_flow.md``)."""
from .extractor_pretrain import ExtractorPretrainDataset
from .leakage import EvaluationImageGuard, LeakageError
from .refcoco import RefCocoDataset
from .refer_files import KNOWN_SPLITS, CocoIndex, load_refs, split_by_of
from .safe_pickle import UnsafePickleError, safe_load_pickle, safe_loads_pickle
from .text import normalize_expression
from .transforms import (BoxToMask, LoadRefImage, PackRefInputs, RandomSelectExpression,
                         ann_to_rle)
from .unannotated import (UnannotatedInstanceDataset, referred_image_ids,
                          select_unannotated)

__all__ = [
    'ExtractorPretrainDataset', 'EvaluationImageGuard', 'LeakageError', 'RefCocoDataset',
    'UnannotatedInstanceDataset', 'CocoIndex', 'KNOWN_SPLITS', 'load_refs',
    'split_by_of', 'referred_image_ids', 'select_unannotated', 'UnsafePickleError',
    'safe_load_pickle', 'safe_loads_pickle', 'normalize_expression', 'BoxToMask', 'LoadRefImage',
    'PackRefInputs', 'RandomSelectExpression', 'ann_to_rle'
]
