from .mutual_supervision_hook import MutualSupervisionHook
from .plain_checkpoint_hook import PlainCheckpointHook
from .pretrained_extractor_hook import PretrainedExtractorHook, extractor_provenance

__all__ = ['MutualSupervisionHook', 'PlainCheckpointHook', 'PretrainedExtractorHook',
           'extractor_provenance']
