"""Time the CIDEr-D RL reward: our ``CiderD`` vs pycocoevalcap's ``Cider``.

A reward batch is ``num_objects`` referred objects x ``num_samples`` sampled expressions,
each scored against the references of its object. Ours uses document frequencies and
reference vectors precomputed once from a training corpus; pycocoevalcap's
``Cider().compute_score`` (pure Python ``CiderScorer``, no Java tokenizer) rebuilds both on
every call. Without ``--refs-file``, a synthetic corpus (random words from a small
vocabulary) is generated.

Example:
    python tools/benchmark/cider_reward.py --corpus-size 5000
    python tools/benchmark/cider_reward.py --refs-file data/refcoco_train_refs.json

``--refs-file``: JSON, either a list of lists of sentences or ``{ref_id: [sentences]}``.
"""
import argparse
import json
import random
import time
from typing import Callable, Dict, List

import numpy as np
from pycocoevalcap.cider.cider import Cider

from mmrefmutual.utils.cider import CiderD

VOCAB = ('man woman person guy girl boy lady kid player child dog cat horse elephant '
         'giraffe zebra bear sheep cow car bus truck bike chair table couch bed bowl cup '
         'left right middle front back top bottom far near center red blue green white '
         'black yellow brown small big tall short standing sitting holding wearing with '
         'on in of the a to at by next behind closest second from').split()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Benchmark the CIDEr-D RL reward')
    parser.add_argument('--refs-file', help='JSON corpus of training references')
    parser.add_argument('--corpus-size', type=int, default=5000,
                        help='number of synthetic referred objects (no --refs-file)')
    parser.add_argument('--num-objects', type=int, default=8)
    parser.add_argument('--num-samples', type=int, default=5)
    parser.add_argument('--repeats', type=int, default=50)
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def synthetic_corpus(num_docs: int, rng: random.Random) -> Dict[int, List[str]]:
    """RefCOCO-like corpus: 1-4 sentences of 1-9 words per object."""

    def sentence() -> str:
        return ' '.join(rng.choice(VOCAB) for _ in range(rng.randint(1, 9)))

    return {ref_id: [sentence() for _ in range(rng.randint(1, 4))] for ref_id in range(num_docs)}


def load_corpus(path: str) -> Dict[object, List[str]]:
    with open(path) as f:
        data = json.load(f)
    return data if isinstance(data, dict) else dict(enumerate(data))


def sample_candidates(refs: List[str], num: int, rng: random.Random) -> List[str]:
    """Perturbed references, like expressions sampled from a trained generator."""
    cands = []
    for _ in range(num):
        words = rng.choice(refs).split()
        for _ in range(rng.randint(0, 3)):
            op = rng.random()
            if op < 0.4 and words:
                words[rng.randrange(len(words))] = rng.choice(VOCAB)
            elif op < 0.7:
                words.insert(rng.randint(0, len(words)), rng.choice(VOCAB))
            elif len(words) > 1:
                words.pop(rng.randrange(len(words)))
        cands.append(' '.join(words))
    return cands


def timeit(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``fn`` in seconds."""
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    args = parse_args()
    rng = random.Random(args.seed)
    corpus = load_corpus(args.refs_file) if args.refs_file else synthetic_corpus(
        args.corpus_size, rng)
    corpus = {k: v for k, v in corpus.items() if len(v) > 0}

    start = time.perf_counter()
    scorer = CiderD(corpus)
    build_s = time.perf_counter() - start

    keys = rng.sample(list(corpus.keys()), args.num_objects)
    batch_keys = [k for k in keys for _ in range(args.num_samples)]
    candidates = [
        c for k in keys for c in sample_candidates(corpus[k], args.num_samples, rng)
    ]
    gts = {i: list(corpus[k]) for i, k in enumerate(batch_keys)}
    res = {i: [c] for i, c in enumerate(candidates)}

    ours_s = timeit(lambda: scorer.score(candidates, batch_keys), args.repeats)
    coco_s = timeit(lambda: Cider().compute_score(gts, res), args.repeats)

    # Same definition: ours with the batch as corpus equals pycocoevalcap on the batch.
    _, coco_scores = Cider().compute_score(gts, res)
    same = CiderD([gts[i] for i in range(len(candidates))]).score(
        candidates, list(range(len(candidates))))
    print(f'corpus: {len(corpus)} objects, {sum(map(len, corpus.values()))} sentences '
          f'(CiderD built in {build_s:.2f} s)')
    print(f'batch: {args.num_objects} objects x {args.num_samples} samples, '
          f'median of {args.repeats} runs')
    print(f'CiderD (corpus df, cached refs): {ours_s * 1e3:.3f} ms / batch')
    print(f'pycocoevalcap Cider:             {coco_s * 1e3:.3f} ms / batch')
    print(f'speed-up: {coco_s / ours_s:.1f}x')
    print(f'max |CiderD - pycocoevalcap| with the batch as corpus: '
          f'{np.abs(np.asarray(coco_scores) - same).max():.2e}')


if __name__ == '__main__':
    main()
