from .ref_targets import gather_ref_targets, zero_loss
from .referee import build_referee

__all__ = ['build_referee', 'gather_ref_targets', 'zero_loss']
