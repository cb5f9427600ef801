"""Generate the built-in synthetic referring benchmark in the RefCOCO on-disk layout.

    python tools/dataset_converters/make_synthetic_refcoco.py data/synthetic \
        --num-images 5000 --ref-image-ratio 0.25 --seed 0

    # the same benchmark in other shapes, colours, words and image side
    python tools/dataset_converters/make_synthetic_refcoco.py data/synthetic_alt --variant alt

    # a held-out benchmark: others again, more synonyms, and rough images (side 144-224
    # per image, smaller objects, noise, JPEG round trip; masks stay geometric)
    python tools/dataset_converters/make_synthetic_refcoco.py data/synthetic_rough \
        --variant rough

Writes ``coco/train2014/*.png``, ``coco/annotations/instances_train2014.json``,
``refcoco/{instances.json,refs(unc).p}`` and ``refcoco+/{instances.json,refs(unc).p}``
under OUT_DIR (see ``mmrefmutual_bench/synthetic/generator.py``). The same seed
gives byte-identical files. ``--variant`` picks the look and words
(``mmrefmutual_bench/synthetic/variants.py``); a variant's json files record its
lexicon, so the oracle reads them without being told the variant.
"""
import argparse
import json
import os.path as osp
import sys
import time
from typing import List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmrefmutual_bench.synthetic.generator import generate_synthetic_refcoco  # noqa: E402
from mmrefmutual_bench.synthetic.variants import VARIANTS  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line arguments (``argv`` defaults to ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('out_dir', help='output root (the data_root of the synthetic configs)')
    parser.add_argument('--num-images', type=int, default=5000,
                        help='images in total, with and without refs')
    parser.add_argument('--ref-image-ratio', type=float, default=0.25,
                        help='share of the images that carry refs; the rest is the pool of '
                        'unreferred instances')
    parser.add_argument('--img-size', type=int, default=None,
                        help="side of the square images (default: the variant's, 128 for "
                        'default, 160 for alt, drawn per image in 144-224 for rough); given, '
                        'it fixes the side of every image, for rough too')
    parser.add_argument('--variant', default='default', choices=sorted(VARIANTS),
                        help='shapes, colours, words and default image side of the benchmark '
                        '(see mmrefmutual_bench/synthetic/variants.py); rough also roughens '
                        'the images: side 144-224 per image, smaller objects, colour jitter '
                        '+-30, high-contrast backgrounds, noise and JPEG artefacts')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--min-objects', type=int, default=3)
    parser.add_argument('--max-objects', type=int, default=7)
    parser.add_argument('--split-ratios', type=float, nargs=4, default=(0.8, 0.1, 0.05, 0.05),
                        metavar=('TRAIN', 'VAL', 'TESTA', 'TESTB'),
                        help='shares of the ref images in each split')
    parser.add_argument('--workers', type=int, default=None,
                        help='worker processes (default: from the CPU count); the output '
                        'does not depend on it')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> dict:
    """Generate the benchmark and print its counts.

    Args:
        argv (list[str], optional): Arguments; ``sys.argv[1:]`` when None.

    Returns:
        dict: The summary of :func:`generate_synthetic_refcoco`.
    """
    args = parse_args(argv)
    start = time.perf_counter()
    summary = generate_synthetic_refcoco(
        args.out_dir, num_images=args.num_images, ref_image_ratio=args.ref_image_ratio,
        img_size=args.img_size, seed=args.seed, min_objects=args.min_objects,
        max_objects=args.max_objects, split_ratios=args.split_ratios,
        num_workers=args.workers, variant=args.variant)
    print(json.dumps(summary, indent=1))
    print(f'synthetic benchmark written to {args.out_dir} in '
          f'{time.perf_counter() - start:.1f} s')
    return summary


if __name__ == '__main__':
    main()
