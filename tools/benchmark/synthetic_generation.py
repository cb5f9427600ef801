"""Time the generation of the synthetic referring benchmark.

Generates ``--num-images`` images (5,000 by default; the target is under 60 s on
2 cores) into a temporary folder, or ``--out-dir``, and prints the wall time
and what was written.

    python tools/benchmark/synthetic_generation.py [--num-images 5000] [--workers N]
"""
import argparse
import json
import os.path as osp
import sys
import tempfile
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmrefmutual_bench.synthetic.generator import generate_synthetic_refcoco  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--num-images', type=int, default=5000)
    parser.add_argument('--ref-image-ratio', type=float, default=0.25)
    parser.add_argument('--img-size', type=int, default=128)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--workers', type=int, default=None,
                        help='worker processes (default: from the CPU count)')
    parser.add_argument('--out-dir', default=None,
                        help='keep the output here (default: a temporary folder, deleted)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix='synthetic_bench_') as tmp:
        out_dir = args.out_dir or tmp
        start = time.perf_counter()
        summary = generate_synthetic_refcoco(out_dir, num_images=args.num_images,
                                             ref_image_ratio=args.ref_image_ratio,
                                             img_size=args.img_size, seed=args.seed,
                                             num_workers=args.workers)
        elapsed = time.perf_counter() - start
    print(json.dumps(summary, indent=1))
    print(f'generated {args.num_images} images ({args.img_size}x{args.img_size}) in '
          f'{elapsed:.1f} s ({1000 * elapsed / args.num_images:.2f} ms/image)')


if __name__ == '__main__':
    main()
