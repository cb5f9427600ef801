"""HuggingFace BERT-architecture text encoder."""
import importlib.util
import os.path as osp
from typing import List, Tuple

import torch
from mmengine.model import BaseModule
from torch import Tensor

from mmrefmutual.registry import MODELS


def resolve_pretrained_path(name_or_path: str) -> str:
    """Resolve ``pkg://package/sub/dir`` to a folder inside an installed package.

    Anything else (a local folder, or a hub name found in the local HF cache) is
    returned unchanged.
    """
    if not name_or_path.startswith('pkg://'):
        return name_or_path
    package, _, sub = name_or_path[len('pkg://'):].partition('/')
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f'{name_or_path}: package {package!r} is not installed')
    path = osp.join(list(spec.submodule_search_locations)[0], sub)
    if not osp.isdir(path):
        raise FileNotFoundError(f'{name_or_path}: {path} does not exist')
    return path


@MODELS.register_module()
class HFTextEncoder(BaseModule):
    """BERT (or any HF encoder) that turns expressions into token features.

    Tokenisation happens here, not in the data pipeline, so that human and
    generated expressions take exactly the same path.

    Args:
        name_or_path (str): HF name (``bert-base-uncased``; must be in the local HF
            cache, nothing is downloaded at run time), a local folder, or
            ``pkg://package/folder`` for a model shipped inside a Python package.
        max_length (int): Maximum number of tokens (incl. [CLS]/[SEP]).
        freeze (bool): Freeze all weights (and keep dropout off).
    """

    def __init__(self, name_or_path: str = 'bert-base-uncased', max_length: int = 40,
                 freeze: bool = False, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        from transformers import AutoModel, AutoTokenizer
        path = resolve_pretrained_path(name_or_path)
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path)
        # the weights come from the checkpoint: keep mmengine's init_weights away
        self.model.is_init = True
        self.max_length = max_length
        self.freeze = freeze
        self.out_channels = self.model.config.hidden_size
        if freeze:
            self.model.requires_grad_(False)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.freeze:
            self.model.eval()
        return self

    def forward(self, texts: List[str]) -> Tuple[Tensor, Tensor]:
        """Encode expressions.

        Args:
            texts (list[str]): Expressions.

        Returns:
            tuple[Tensor, Tensor]: features (B, L, C) and padding mask (B, L),
            True on padding.
        """
        device = next(self.model.parameters()).device
        tokens = self.tokenizer(
            list(texts), padding=True, truncation=True, max_length=self.max_length,
            return_tensors='pt').to(device)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze):
            feats = self.model(
                input_ids=tokens['input_ids'],
                attention_mask=tokens['attention_mask']).last_hidden_state
        return feats, tokens['attention_mask'] == 0
