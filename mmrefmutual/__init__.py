"""mmrefmutual: mutual supervision of referring expression segmentation and generation."""
from .utils.mmcv_compat import route_deform_attn

__version__ = '0.1.0'

# GPUs whose mmcv build lacks the deformable-attention kernel (mmcv 2.1.0 with CUDA 13)
# use mmcv's PyTorch implementation of it, with a warning (see utils/mmcv_compat.py).
route_deform_attn()
