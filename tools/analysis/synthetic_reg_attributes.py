"""How often generated expressions name the target's shape and colour (synthetic benchmark).

    python tools/analysis/synthetic_reg_attributes.py PREFIX.reg_expressions.json \
        data/synthetic/refcoco/instances.json

The expressions file is written by ``REGMetric(outfile_prefix=PREFIX)``, e.g.
``tools/test.py CONFIG CKPT --cfg-options test_evaluator.1.outfile_prefix=work_dirs/x/val``.
For reference the script also prints the rate of a guess: the shape/colour of a random
other object of the same image.
"""
import argparse
import json

import numpy as np

from mmrefmutual.datasets.synthetic import COLORS, SHAPES


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('expressions')
    parser.add_argument('ann_file')
    args = parser.parse_args()
    with open(args.expressions) as f:
        generated = json.load(f)
    with open(args.ann_file) as f:
        coco = json.load(f)
    anns = {a['id']: a for a in coco['annotations']}
    by_image = {}
    for a in coco['annotations']:
        by_image.setdefault(a['image_id'], []).append(a)
    shape_ok, color_ok, both_ok, chance_shape, chance_color = [], [], [], [], []
    for g in generated:
        attrs = anns[g['ann_id']]['attributes']
        words = set(g['expression'].split())
        shape = attrs['shape'] in words and not (words & set(SHAPES)) - {attrs['shape']}
        named_colors = words & set(COLORS)
        color = attrs['color'] in named_colors and len(named_colors) == 1 \
            if named_colors else None
        shape_ok.append(shape)
        if color is not None:
            color_ok.append(color)
        both_ok.append(shape and color is not False)
        others = [o['attributes'] for o in by_image[g['image_id']] if o['id'] != g['ann_id']]
        if others:
            chance_shape.append(np.mean([o['shape'] == attrs['shape'] for o in others]))
            chance_color.append(np.mean([o['color'] == attrs['color'] for o in others]))
    print(f'{len(generated)} expressions')
    print(f'names the right shape (and no other): {100 * np.mean(shape_ok):.1f}% '
          f'(random other object of the image: {100 * np.mean(chance_shape):.1f}%)')
    print(f'names a colour: {100 * len(color_ok) / len(generated):.1f}%; of those, the right '
          f'one: {100 * np.mean(color_ok):.1f}% (random other object: '
          f'{100 * np.mean(chance_color):.1f}%)')
    print(f'no wrong shape or colour: {100 * np.mean(both_ok):.1f}%')


if __name__ == '__main__':
    main()
