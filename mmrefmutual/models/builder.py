"""A model from a config and (optionally) a checkpoint, loaded strictly: the one way the
API (``mmrefmutual.apis.init_model``) and the engine (step 3's pseudo-ref writer) build one."""
from typing import Optional

import torch
from mmengine.config import Config

from mmrefmutual.registry import MODELS
from mmrefmutual.utils.checkpoint import safe_load_checkpoint
from .heads import IndicatedGenerationHead


def build_model_from_checkpoint(cfg: Config, checkpoint: Optional[str] = None,
                                device: str = 'cpu') -> torch.nn.Module:
    """Build ``cfg.model`` and load ``checkpoint`` into it, in eval mode on ``device``.

    The generation vocabulary is taken from the checkpoint, so the vocabulary file named
    in the config need not exist. ``cfg`` is changed in place (the vocabulary) and kept
    as ``model.cfg`` (its test pipeline serves :mod:`mmrefmutual.apis`).

    Raises:
        KeyError: if the checkpoint's weights do not fit the model (missing or
            unexpected keys, named), rather than running a partly random model.
    """
    state = None
    if checkpoint is not None:
        ckpt = safe_load_checkpoint(checkpoint, map_location='cpu')
        state = ckpt.get('state_dict', ckpt)
        vocab = state.get('generation_head.vocab_data')
        if vocab is not None and cfg.model.get('generation_head'):
            cfg.model.generation_head.vocab = IndicatedGenerationHead.vocab_from_tensor(vocab)
    model = MODELS.build(cfg.model)
    if state is None:
        model.init_weights()
    else:
        result = model.load_state_dict(state, strict=False)
        # the referee's weights come from its own checkpoint, never from this one
        missing = [k for k in result.missing_keys if not k.startswith('referee.')]
        if missing or result.unexpected_keys:
            raise KeyError(f'{checkpoint} does not fit the model of the config: missing keys '
                           f'{missing[:10]} ({len(missing)}), unexpected keys '
                           f'{result.unexpected_keys[:10]} ({len(result.unexpected_keys)})')
    model.cfg = cfg
    return model.to(device).eval()
