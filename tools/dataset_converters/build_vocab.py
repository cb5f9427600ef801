"""Build the generation head's word vocabulary from the training expressions.

    python tools/dataset_converters/build_vocab.py data/refcoco/refs(unc).p \
        --split train --min-count 1 --out data/refcoco/vocab.txt

Only the training split is read. Expressions are normalised exactly as the datasets do
(``mmrefmutual.datasets.text.normalize_expression``).
"""
import argparse

from mmrefmutual.datasets.refcoco import load_refs
from mmrefmutual.datasets.text import normalize_expression
from mmrefmutual.models.language.vocab import build_vocab


def write_vocab(refs_files, out, split='train', min_count=1) -> int:
    """Write the vocabulary file and return its size (special tokens included)."""
    sentences = [normalize_expression(s['raw'] if 'raw' in s else s['sent'])
                 for refs_file in refs_files for ref in load_refs(refs_file)
                 if ref['split'] == split for s in ref['sentences']]
    words = build_vocab(sentences, min_count=min_count)
    with open(out, 'w') as f:
        f.write('\n'.join(words) + '\n')
    return len(words)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('refs', nargs='+', help='refs file(s), e.g. refs(unc).p')
    parser.add_argument('--split', default='train')
    parser.add_argument('--min-count', type=int, default=1,
                        help='keep words seen at least this often (others become <unk>)')
    parser.add_argument('--out', required=True)
    args = parser.parse_args()
    n = write_vocab(args.refs, args.out, args.split, args.min_count)
    print(f'{n} tokens written to {args.out}')


if __name__ == '__main__':
    main()
