"""Referring inference on one image, drawn to PNG with mmdet's visualizer.

    # RES / REC: expression(s) -> mask and box
    python tools/inference.py CONFIG CKPT IMAGE --expressions "red circle left" --out res.png
    # REG: object(s) given as boxes (x1 y1 x2 y2 ...) or a mask PNG -> expression(s)
    python tools/inference.py CONFIG CKPT IMAGE --boxes 10 10 60 50 --beam-size 3 --out reg.png
"""
import argparse

import mmcv
import numpy as np

from mmrefmutual.apis import describe, init_model, segment
from mmrefmutual.visualization import RefLocalVisualizer


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('image')
    parser.add_argument('--expressions', nargs='+', help='RES: expressions to ground')
    parser.add_argument('--boxes', nargs='+', type=float, help='REG: x1 y1 x2 y2 per object')
    parser.add_argument('--masks', nargs='+', help='REG: binary mask images, one per object')
    parser.add_argument('--beam-size', type=int, default=None)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out', default='result.png')
    args = parser.parse_args()
    model = init_model(args.config, args.checkpoint, device=args.device)
    image = mmcv.imread(args.image)
    vis = RefLocalVisualizer()
    if args.expressions:
        results = segment(model, image, args.expressions)
        for text, r in zip(args.expressions, results):
            print(f'{text!r}: box {np.round(r["bbox"], 1).tolist()} score {r["score"]:.3f}')
        vis.draw_referring(mmcv.bgr2rgb(image), np.stack([r['mask'] for r in results]),
                           np.stack([r['bbox'] for r in results]), args.expressions, args.out)
    else:
        masks = boxes = None
        if args.masks:
            masks = np.stack([mmcv.imread(m, 'grayscale') > 0 for m in args.masks])
        elif args.boxes:
            boxes = np.asarray(args.boxes, dtype=np.float32).reshape(-1, 4)
        else:
            parser.error('give --expressions, --boxes or --masks')
        texts = describe(model, image, masks=masks, boxes=boxes, beam_size=args.beam_size)
        for k, text in enumerate(texts):
            print(f'object {k}: {text}')
        if boxes is None:  # boxes of the masks, to place the texts
            boxes = np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
                              for ys, xs in (np.nonzero(m) for m in masks)], np.float32)
        vis.draw_referring(mmcv.bgr2rgb(image), masks, boxes, texts, args.out)
    print(f'drawn to {args.out}')


if __name__ == '__main__':
    main()
