from .ref_targets import gather_ref_targets, zero_loss

__all__ = ['gather_ref_targets', 'zero_loss']
