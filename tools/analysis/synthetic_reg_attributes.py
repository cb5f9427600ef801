"""How often generated expressions name the target's shape and colour (synthetic benchmark).

    python tools/analysis/synthetic_reg_attributes.py PREFIX.reg_expressions.json \
        data/synthetic/refcoco/instances.json

The expressions file is written by ``REGMetric(outfile_prefix=PREFIX)``, e.g.
``tools/test.py CONFIG CKPT --cfg-options test_evaluator.1.outfile_prefix=work_dirs/x/val``.

The head noun of an expression is its first shape word ("the small red circle left of
the square" -> circle) and its colour the last colour word before the head noun. For
reference the script prints the rate of a guess that describes a random other object
of the same image instead of the target (scenes are built with same-shape and
same-colour distractors, so this guess is often right by accident).
"""
import argparse
import json
from typing import Dict, List

import numpy as np

from mmrefmutual_bench.synthetic import COLORS, SHAPES


def head_attributes(expression: str):
    """(shape, colour) of the head noun phrase; either may be None."""
    words = expression.split()
    for i, w in enumerate(words):
        if w in SHAPES:
            colours = [c for c in words[:i] if c in COLORS]
            return w, (colours[-1] if colours else None)
    return None, None


def attribute_accuracy(generated: List[dict], coco: dict) -> Dict[str, float]:
    """Shares (0-1) of generated expressions whose head noun names the target's shape
    and, among those naming a colour, the target's colour; with the same rates for a
    random other object of the image (expected value)."""
    anns = {a['id']: a for a in coco['annotations']}
    by_image: Dict[int, list] = {}
    for a in coco['annotations']:
        by_image.setdefault(a['image_id'], []).append(a)
    shape_ok, colour_ok, chance_shape, chance_colour = [], [], [], []
    for g in generated:
        target = anns[g['ann_id']]['attributes']
        shape, colour = head_attributes(g['expression'])
        shape_ok.append(shape == target['shape'])
        others = [o['attributes'] for o in by_image[g['image_id']] if o['id'] != g['ann_id']]
        if others:
            chance_shape.append(np.mean([shape == o['shape'] for o in others]))
        if colour is not None:
            colour_ok.append(colour == target['color'])
            if others:
                chance_colour.append(np.mean([colour == o['color'] for o in others]))
    mean = (lambda xs: float(np.mean(xs)) if xs else float('nan'))
    return dict(num=len(generated), shape=mean(shape_ok), shape_other=mean(chance_shape),
                names_colour=len(colour_ok) / max(len(generated), 1), colour=mean(colour_ok),
                colour_other=mean(chance_colour))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('expressions')
    parser.add_argument('ann_file')
    args = parser.parse_args()
    with open(args.expressions) as f:
        generated = json.load(f)
    with open(args.ann_file) as f:
        coco = json.load(f)
    r = attribute_accuracy(generated, coco)
    print(f"{r['num']} expressions")
    print(f"head noun is the target's shape: {100 * r['shape']:.1f}% "
          f"(the same words describing a random other object of the image: "
          f"{100 * r['shape_other']:.1f}%)")
    print(f"names a colour: {100 * r['names_colour']:.1f}%; of those, the target's: "
          f"{100 * r['colour']:.1f}% (random other object: {100 * r['colour_other']:.1f}%)")


if __name__ == '__main__':
    main()
