"""Remove RefCOCO/RefCOCO+/RefCOCOg evaluation images from COCO instances.

The refer datasets draw their val/test images from COCO train2014, so a
Mask2Former pre-trained on the full COCO train2014 has seen the evaluation
images. This writes the COCO instances file without every image that belongs
to any non-train split (``val``, ``testA``, ``testB``, ``test``...) of any refs
file given, and without their annotations.

Example::

    python tools/dataset_converters/remove_refcoco_eval_images.py \\
        --coco-ann data/coco/annotations/instances_train2014.json \\
        --refs data/refcoco/refs\\(unc\\).p data/refcoco+/refs\\(unc\\).p \\
               data/refcocog/refs\\(umd\\).p data/refcocog/refs\\(google\\).p \\
        --out data/coco/annotations/instances_train2014_minus_refcoco_eval.json
"""
import argparse
from typing import List, Optional, Set

from mmengine.fileio import dump, load

from mmrefmutual.datasets.refcoco import load_refs


def eval_image_ids(refs_files: List[str], anns: dict) -> Set[int]:
    """Ids of the images of every split other than ``train``.

    Args:
        refs_files (list[str]): Refs files.
        anns (dict): COCO annotations by id, for refs that lack ``image_id``.

    Returns:
        set[int]: The image ids.
    """
    img_ids = set()
    for refs_file in refs_files:
        for ref in load_refs(refs_file):
            if ref.get('split') == 'train':
                continue
            img_id = ref.get('image_id')
            if img_id is None:
                img_id = anns[ref['ann_id']]['image_id']
            img_ids.add(int(img_id))
    return img_ids


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--coco-ann', required=True, help='COCO instances json')
    parser.add_argument('--refs', nargs='+', required=True,
                        help='refs files whose val/test images are removed')
    parser.add_argument('--out', required=True, help='output json')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> dict:
    """Run the conversion.

    Args:
        argv (list[str], optional): Command line; ``sys.argv[1:]`` if None.

    Returns:
        dict: ``eval_images`` (in the refs files), ``images_removed``,
        ``annotations_removed``, ``images_kept``, ``annotations_kept``.
    """
    args = parse_args(argv)
    coco = load(args.coco_ann, file_format='json')
    removed = eval_image_ids(args.refs, {ann['id']: ann for ann in coco['annotations']})
    images = [img for img in coco['images'] if img['id'] not in removed]
    anns = [ann for ann in coco['annotations'] if ann['image_id'] not in removed]
    counts = dict(eval_images=len(removed), images_removed=len(coco['images']) - len(images),
                  annotations_removed=len(coco['annotations']) - len(anns),
                  images_kept=len(images), annotations_kept=len(anns))
    dump(dict(coco, images=images, annotations=anns), args.out, file_format='json')
    print(f'{counts["eval_images"]} val/test images in the refs files; removed '
          f'{counts["images_removed"]} images and {counts["annotations_removed"]} annotations '
          f'from {args.coco_ann}')
    print(f'kept {counts["images_kept"]} images and {counts["annotations_kept"]} annotations '
          f'-> {args.out}')
    return counts


if __name__ == '__main__':
    main()
