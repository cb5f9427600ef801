"""Normalisation of referring expressions.

This module is the single place where an expression is cleaned (see
``docs/data_flow.md``). Human annotations are normalised here when a dataset is
loaded, and the model tokenises the normalised text, so that human and generated
expressions go through exactly the same path.
"""
import re
import unicodedata
from typing import Optional, Union

# Everything that is not a lower-case ASCII letter, a digit or a space.
_NON_ALNUM = re.compile(r'[^a-z0-9 ]')


def normalize_expression(text: Union[str, bytes], max_words: Optional[int] = None) -> str:
    """Clean a referring expression.

    The steps are: unicode NFKD decomposition then ASCII (so accents are dropped
    rather than the whole letter: ``'café'`` -> ``'cafe'``), lower-case, every
    character that is not ``[a-z0-9 ]`` (punctuation, tabs, remaining non-ASCII)
    becomes a space, whitespace is collapsed and the result is truncated to
    ``max_words`` words.

    Args:
        text (str | bytes): The raw expression. ``bytes`` (what a Python 2
            ``str`` may turn into) are decoded as UTF-8, falling back to latin-1.
        max_words (int, optional): Keep at most this many words. ``None`` keeps
            all of them. Defaults to None.

    Returns:
        str: The normalised expression; ``''`` when nothing is left.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode('utf-8')
        except UnicodeDecodeError:
            text = text.decode('latin-1')
    if max_words is not None and max_words < 1:
        raise ValueError(f'max_words must be positive or None, got {max_words}')
    text = unicodedata.normalize('NFKD', text).encode('ascii', 'ignore').decode('ascii')
    text = _NON_ALNUM.sub(' ', text.lower())
    words = text.split()
    if max_words is not None:
        words = words[:max_words]
    return ' '.join(words)
