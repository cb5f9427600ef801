from .hf_text_encoder import HFTextEncoder, resolve_pretrained_path
from .vocab import WordVocab, build_vocab

__all__ = ['HFTextEncoder', 'resolve_pretrained_path', 'WordVocab', 'build_vocab']
