"""Where the proposal extractor's weights come from, carried from checkpoint to checkpoint."""
import logging
from typing import List, Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from mmrefmutual.registry import HOOKS

#: ``meta`` key of the extractor's provenance in our checkpoints.
PROVENANCE_KEY = 'extractor_provenance'
#: Parameters of Mask2Former's class head; their row count is the class count + 1.
CLASS_HEAD_KEYS = ('panoptic_head.cls_embed.weight', 'panoptic_head.cls_embed.bias')


def extractor_provenance(checkpoint: Optional[dict], filename: str = '') -> dict:
    """Provenance of the extractor weights of a checkpoint.

    Args:
        checkpoint (dict, optional): A loaded checkpoint; None when the model starts
            without one (ImageNet-initialised or random extractor).
        filename (str): Its path, for the record.

    Returns:
        dict: ``clean`` (True when the extractor never saw a RefCOCO/+/g evaluation
        image: pre-trained by :class:`~mmrefmutual.datasets.ExtractorPretrainDataset`,
        or not pre-trained at all), ``source`` and what the record says.
    """
    if checkpoint is None:
        return dict(clean=True, source='no extractor checkpoint (initialised by the config)')
    meta = checkpoint.get('meta') or {}
    # a step-0 checkpoint of ours: its own training data say it (before the record of
    # where its weights started, which a pre-training run also carries)
    pretrain = (meta.get('dataset_meta') or {}).get('extractor_pretrain')
    if isinstance(pretrain, dict):
        return dict(pretrain, clean=True, source='ExtractorPretrainDataset', checkpoint=filename)
    if isinstance(meta.get(PROVENANCE_KEY), dict):  # one of ours, steps 1-3
        return dict(meta[PROVENANCE_KEY])
    return dict(clean=False, source='unknown', checkpoint=filename,
                warning=leakage_warning(filename))


def drop_mismatched_class_head(state: dict, model_state: dict) -> List[str]:
    """Remove from ``state`` the class head of a checkpoint with another class count.

    Args:
        state (dict): The checkpoint's state dict, changed in place.
        model_state (dict): The model's state dict (shapes only are read).

    Returns:
        list[str]: One line per dropped key, with both shapes.
    """
    dropped = []
    for key in CLASS_HEAD_KEYS:
        if key in state and key in model_state and state[key].shape != model_state[key].shape:
            dropped.append(f'{key}: {tuple(state[key].shape)} in the checkpoint, '
                           f'{tuple(model_state[key].shape)} in the model (another class count)')
            del state[key]
    return dropped


def leakage_warning(filename: str) -> str:
    """The warning for an extractor checkpoint that may have seen evaluation images."""
    return (f'the proposal extractor comes from {filename or "a checkpoint"}, which was not '
            'pre-trained by mmrefmutual without the RefCOCO/+/g evaluation images (e.g. an '
            'mmdet model-zoo Mask2Former, trained on COCO train2017, which holds them): '
            'evaluation results of this model are leaked and not comparable with the paper. '
            'Pre-train with configs/mutual/coco_step0_mask2former_*.py.')


@HOOKS.register_module()
class PretrainedExtractorHook(Hook):
    """Loads a Mask2Former checkpoint of another class count on purpose and records
    where the extractor comes from.

    * ``after_load_checkpoint``: the class head (``cls_embed``) of a checkpoint with
      another number of classes (e.g. mmdet's panoptic Swin-B: 133 + 1 rows) is dropped,
      so that it keeps the model's initialisation, and the log says so; every other
      weight loads as usual. The checkpoint's provenance (see
      :func:`extractor_provenance`) is read, with a warning in the log when it may
      have seen evaluation images.
    * ``before_save_checkpoint``: the provenance goes into the saved ``meta``, so that
      steps 2 and 3 and ``tools/test.py`` know it.
    """

    def __init__(self) -> None:
        self.provenance = extractor_provenance(None)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        for line in drop_mismatched_class_head(checkpoint.get('state_dict', checkpoint),
                                               model.state_dict()):
            print_log(line + ': dropped, it keeps the model\'s initialisation',
                      logger='current')
        self.provenance = extractor_provenance(checkpoint, str(runner.cfg.get('load_from') or ''))
        if not self.provenance.get('clean'):
            print_log('Leaked evaluation: ' + self.provenance['warning'], logger='current',
                      level=logging.WARNING)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault('meta', {})[PROVENANCE_KEY] = dict(self.provenance)
