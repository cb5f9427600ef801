"""The separately trained selection head that scores generated expressions (Rb-Acc)."""
import torch

from mmrefmutual.registry import MODELS
from mmrefmutual.utils.checkpoint import safe_load_checkpoint


def build_referee(referee: dict, text_encoder: dict, selection_head: dict) -> torch.nn.ModuleDict:
    """Frozen text encoder + selection head loaded from ``referee['checkpoint']``.

    Args:
        referee (dict): ``checkpoint`` (a checkpoint of this architecture, e.g. a
            selection head trained on the same proposals), optional ``text_encoder`` /
            ``selection_head`` configs.
        text_encoder (dict): Default text encoder config (the model's).
        selection_head (dict): Default selection head config (the model's).

    Returns:
        torch.nn.ModuleDict: ``text_encoder`` and ``selection_head``, frozen, eval mode.
    """
    encoder = MODELS.build(referee.get('text_encoder', text_encoder))
    head = MODELS.build(dict(referee.get('selection_head', selection_head),
                             text_channels=encoder.out_channels))
    ckpt = safe_load_checkpoint(referee['checkpoint'], map_location='cpu')
    state = ckpt.get('state_dict', ckpt)
    for name, module in (('text_encoder', encoder), ('selection_head', head)):
        module.load_state_dict({k[len(name) + 1:]: v for k, v in state.items()
                                if k.startswith(name + '.')}, strict=True)
    # loaded here, not from the checkpoint under test, which has no referee weights
    for module in (encoder, head):
        module.is_init = True
    return torch.nn.ModuleDict(dict(text_encoder=encoder, selection_head=head)
                               ).requires_grad_(False).eval()
