"""Write the COCO instances that no referring expression describes.

Keeps the images of a COCO instances file that appear in none of the given
refs files (any split: train images too, so that pseudo refs never duplicate a
human annotation and never touch an evaluation image) and that hold at least
one non-crowd instance of ``--min-area`` pixels or more. The output is a COCO
json (all annotations of the kept images, as Mask2Former context) read by
``UnannotatedInstanceDataset``; it records the refs files and ``min_area`` used.

Example::

    python tools/dataset_converters/build_unannotated_instances.py \\
        --coco-ann data/coco/annotations/instances_train2014.json \\
        --refs data/refcoco/refs\\(unc\\).p data/refcoco+/refs\\(unc\\).p \\
               data/refcocog/refs\\(umd\\).p data/refcocog/refs\\(google\\).p \\
        --min-area 1024 --out data/coco/annotations/unannotated.json
"""
import argparse
import os.path as osp
from typing import List, Optional

from mmengine.fileio import dump, load

from mmrefmutual.datasets.unannotated import (PROVENANCE_KEY, referred_image_ids,
                                              select_unannotated)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--coco-ann', required=True, help='COCO instances json')
    parser.add_argument('--refs', nargs='+', required=True,
                        help='refs files whose images are excluded (all splits)')
    parser.add_argument('--min-area', type=float, default=32 * 32,
                        help='minimum COCO area of an instance to describe (default 1024)')
    parser.add_argument('--out', required=True, help='output json')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> dict:
    """Run the conversion.

    Args:
        argv (list[str], optional): Command line; ``sys.argv[1:]`` if None.

    Returns:
        dict: The counts that are printed.
    """
    args = parse_args(argv)
    coco = load(args.coco_ann, file_format='json')
    anns = {ann['id']: ann for ann in coco['annotations']}
    excluded = referred_image_ids(args.refs, anns=anns)
    subset, counts = select_unannotated(coco, excluded, args.min_area)
    subset[PROVENANCE_KEY] = dict(source=osp.basename(args.coco_ann),
                                  excluded_refs_files=[osp.basename(f) for f in args.refs],
                                  min_area=args.min_area)
    dump(subset, args.out, file_format='json')
    print(f'{counts["images"]} images in {args.coco_ann}; {len(excluded)} images referred to '
          f'by the refs files, {counts["images_referred"]} of them here, excluded')
    print(f'{counts["images_without_eligible"]} images dropped without an instance of at '
          f'least {args.min_area:g} px')
    print(f'kept {counts["images_kept"]} images, {counts["instances_kept"]} instances, '
          f'{counts["instances_eligible"]} to describe ({counts["instances_small"]} smaller, '
          f'{counts["instances_crowd"]} crowd) -> {args.out}')
    return dict(counts, images_referred_total=len(excluded))


if __name__ == '__main__':
    main()
