from .mutual_supervision_hook import MutualSupervisionHook
from .plain_checkpoint_hook import PlainCheckpointHook

__all__ = ['MutualSupervisionHook', 'PlainCheckpointHook']
