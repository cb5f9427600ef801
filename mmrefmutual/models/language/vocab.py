"""Word vocabulary of the generation head.

The paper does not say which vocabulary its generator uses. We use a word-level
vocabulary built from the training expressions (as the REG literature does, e.g.
SLR), because generated text must be plain lower-case words that the selection head
reads exactly like human text; a sub-word vocabulary would need detokenisation rules.
The vocabulary is stored inside the model's state dict (see
the ``vocab_data`` buffer of ``IndicatedGenerationHead``), so a checkpoint is self-contained.
"""
import glob
import os.path as osp
from collections import Counter
from typing import Iterable, List, Sequence, Union

import torch

SPECIALS = ('<pad>', '<bos>', '<eos>', '<unk>')
PAD, BOS, EOS, UNK = range(4)


def build_vocab(sentences: Iterable[str], min_count: int = 1) -> List[str]:
    """Words of normalised sentences occurring at least ``min_count`` times.

    Returns:
        list[str]: Special tokens followed by words, most frequent first (ties
        alphabetical), so the result is deterministic.
    """
    counts = Counter(w for s in sentences for w in s.split())
    words = sorted((w for w, c in counts.items() if c >= min_count),
                   key=lambda w: (-counts[w], w))
    return list(SPECIALS) + [w for w in words if w not in SPECIALS]


#: The refer API's default partition of each dataset (RefCOCO/+: UNC, RefCOCOg: UMD),
#: whose vocabulary is ``vocab.txt``; another partition's is ``vocab_<partition>.txt``.
DEFAULT_PARTITIONS = ('unc', 'umd')


def missing_vocab_message(path: str) -> str:
    """What to run when the vocabulary file ``path`` does not exist yet.

    The refs file is looked for next to ``path``: ``vocab_<partition>.txt`` is built
    from ``refs(<partition>).p``, ``vocab.txt`` from the only refs file there or else
    from the default partition's (``refs(unc).p`` / ``refs(umd).p``).
    """
    folder, name = osp.split(path)
    split_by = name[len('vocab_'):-len('.txt')] if name.startswith('vocab_') else None
    refs = sorted(glob.glob(osp.join(folder or '.', 'refs(*).p')))
    if split_by:
        refs = [r for r in refs if osp.basename(r) == f'refs({split_by}).p'] or refs
    elif len(refs) > 1:
        refs = [r for r in refs if osp.basename(r) in
                [f'refs({p}).p' for p in DEFAULT_PARTITIONS]] or refs
    guess = f'refs({split_by}).p' if split_by else 'refs(<partition>).p'
    refs_file = refs[0] if len(refs) == 1 else osp.join(folder, guess)
    return (f'generation vocabulary {path} not found. Build it once from the training '
            f"expressions:\n  python tools/dataset_converters/build_vocab.py '{refs_file}' "
            f'--split train --out {path}')


class WordVocab:
    """Maps normalised sentences to token ids and back.

    Args:
        words (str | Sequence[str]): A vocabulary file (one word per line, special
            tokens first, as written by ``tools/dataset_converters/build_vocab.py``)
            or the word list itself.
    """

    def __init__(self, words: Union[str, Sequence[str]]) -> None:
        if words is None:
            raise ValueError('no generation vocabulary: set model.generation_head.vocab (the '
                             "dataset base's vocab_file) or load a checkpoint that has one")
        if isinstance(words, str):
            if not osp.isfile(words):
                raise FileNotFoundError(missing_vocab_message(words))
            with open(words) as f:
                words = [line.rstrip('\n') for line in f if line.strip()]
        words = list(words)
        if tuple(words[:4]) != SPECIALS:
            raise ValueError(f'a vocabulary must start with {SPECIALS}, got {words[:4]}')
        self.words = words
        self.index = {w: i for i, w in enumerate(words)}

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, sentences: Sequence[str], max_len: int) -> torch.Tensor:
        """Encode to ``[BOS] w1 .. wn [EOS] [PAD]..``, truncated to ``max_len`` words.

        Returns:
            Tensor: Long (B, T) with T = 2 + the longest encoded sentence.
        """
        ids = [[self.index.get(w, UNK) for w in s.split()[:max_len]] for s in sentences]
        length = 2 + max((len(i) for i in ids), default=0)
        out = torch.full((len(ids), length), PAD, dtype=torch.long)
        for row, seq in enumerate(ids):
            out[row, :len(seq) + 2] = torch.tensor([BOS] + seq + [EOS])
        return out

    def decode(self, ids: Sequence[int]) -> str:
        """Token ids (without BOS) to a sentence, stopping at EOS/PAD."""
        words = []
        for i in ids:
            i = int(i)
            if i in (EOS, PAD):
                break
            if i != BOS:
                words.append(self.words[i])
        return ' '.join(words)
