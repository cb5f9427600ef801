"""What the synthetic benchmark's oracle says of generated expressions, and how two models'
expressions differ (e.g. step 1 and step 2 of the same run).

    python tools/analysis/reg_oracle_breakdown.py data/synthetic/refcoco/instances.json \
        work_dirs/embedded/eval/step1/expressions_val.reg_expressions.json \
        work_dirs/embedded/eval/step2/expressions_val.reg_expressions.json

For each expressions file (``REGMetric(outfile_prefix=...)``), the share of expressions that
fit the target only (the oracle unambiguity of the reports), another object only, several
objects, or none (a wrong attribute, or words outside the variant's lexicon), and the mean
length; then, for each file after the first, the words whose share of expressions changed
most against the first. The oracle is the variant's own (``SyntheticOracle`` reads the
lexicon from the instances file).
"""
import argparse
import collections
import json
from typing import Dict, List, Tuple

from mmrefmutual_bench.synthetic.oracle import SyntheticOracle

VERDICTS = ('target only', 'another only', 'several', 'none')


def verdict(oracle: SyntheticOracle, expression: dict) -> str:
    """Which of VERDICTS the oracle gives ``expression`` (``image_id``, ``ann_id``,
    ``expression``)."""
    fits = oracle.referents(expression['image_id'], expression['expression'])
    if not fits:
        return 'none'
    if len(fits) > 1:
        return 'several'
    return 'target only' if fits[0] == expression['ann_id'] else 'another only'


def breakdown(oracle: SyntheticOracle, expressions: List[dict]) -> Dict[str, float]:
    """Shares (%) of VERDICTS, the number of expressions and their mean length (words)."""
    if not expressions:
        raise ValueError('no expressions')
    counts = collections.Counter(verdict(oracle, e) for e in expressions)
    out = {v: 100 * counts[v] / len(expressions) for v in VERDICTS}
    out.update(num=len(expressions), words=sum(
        len(e['expression'].split()) for e in expressions) / len(expressions))
    return out


def word_shares(expressions: List[dict]) -> Dict[str, float]:
    """Share (%) of the expressions that contain each word (lower case)."""
    counts = collections.Counter(w for e in expressions
                                 for w in set(e['expression'].lower().split()))
    return {w: 100 * c / len(expressions) for w, c in counts.items()}


def word_shift(before: List[dict], after: List[dict],
               top: int = 10) -> List[Tuple[str, float, float]]:
    """The ``top`` words whose share of expressions changed most from ``before`` to
    ``after``: (word, share before, share after), largest change first."""
    a, b = word_shares(before), word_shares(after)
    words = sorted(set(a) | set(b), key=lambda w: (-abs(b.get(w, 0) - a.get(w, 0)), w))
    return [(w, a.get(w, 0.0), b.get(w, 0.0)) for w in words[:top]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('instances', help='the synthetic refcoco/instances.json')
    parser.add_argument('expressions', nargs='+', help='*.reg_expressions.json files')
    parser.add_argument('--words', type=int, default=10, help='words listed per comparison')
    args = parser.parse_args()
    oracle = SyntheticOracle(args.instances)
    loaded = []
    for path in args.expressions:
        with open(path) as f:
            loaded.append(json.load(f))
    print('| file | expressions | ' + ' | '.join(f'fits {v} %' for v in VERDICTS)
          + ' | words |')
    print('|---|' + '---|' * (len(VERDICTS) + 2))
    for path, expressions in zip(args.expressions, loaded):
        b = breakdown(oracle, expressions)
        print(f'| {path} | {b["num"]} | ' + ' | '.join(f'{b[v]:.1f}' for v in VERDICTS)
              + f' | {b["words"]:.2f} |')
    for path, expressions in zip(args.expressions[1:], loaded[1:]):
        print(f'\nwords against {args.expressions[0]} -> {path} (% of expressions):')
        for word, before, after in word_shift(loaded[0], expressions, args.words):
            print(f'  {word:12s} {before:5.1f} -> {after:5.1f}')


if __name__ == '__main__':
    main()
