"""Transforms of mmrefmutual; image/annotation loading, resizing and padding are
mmcv's/mmdet's (``LoadAnnotations``, ``Resize``, ``Pad``...)."""
from .box_mask import BoxToMask
from .loading import LoadRefImage
from .packing import PackRefInputs, ann_to_rle
from .selection import RandomSelectExpression

__all__ = ['BoxToMask', 'LoadRefImage', 'PackRefInputs', 'RandomSelectExpression', 'ann_to_rle']
