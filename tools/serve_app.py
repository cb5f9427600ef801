"""Serve the demo (and, optionally, human-evaluation studies) on 127.0.0.1.

    # the main job's step-2 model on its own benchmark's evaluation images
    python tools/serve_app.py demo --config configs/mutual/synthetic_step1_joint_tiny.py \
        --checkpoint work_dirs/embedded/step2/iter_400.pth
    # then open http://127.0.0.1:8000/demo ; add --study FILE to serve studies beside it
"""
import argparse
import os.path as osp
import sys


def default_examples(checkpoint: str, data_root: str, limit: int = 12) -> dict:
    """Evaluation images of the benchmark the checkpoint was trained on: the data of the
    main job's work dir (``WORK/data``, beside ``WORK/step2/``), else the config's
    ``data_root``; val/testA/testB images first."""
    from mmrefmutual.datasets.refer_files import load_refs
    for root in (osp.join(osp.dirname(osp.dirname(osp.abspath(checkpoint))), 'data'), data_root):
        image_dir = osp.join(root, 'coco', 'train2014')
        refs_file = osp.join(root, 'refcoco', 'refs(unc).p')
        if not (osp.isdir(image_dir) and osp.exists(refs_file)):
            continue
        order = {'val': 0, 'testA': 1, 'testB': 2}
        refs = sorted(load_refs(refs_file), key=lambda r: (order.get(r['split'], 3),
                                                           r['image_id']))
        names = []
        for ref in refs:
            name = 'COCO_train2014_{:012d}.png'.format(int(ref['image_id']))
            if name not in names and osp.exists(osp.join(image_dir, name)):
                names.append(name)
            if len(names) == limit:
                break
        return {n: osp.join(image_dir, n) for n in names}
    return {}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    p = sub.add_parser('demo', help='RES / REG demo of a config + checkpoint')
    p.add_argument('--config', required=True)
    p.add_argument('--checkpoint', required=True)
    p.add_argument('--device', default='cpu', help="'cpu' or 'cuda' (default: cpu)")
    p.add_argument('--examples', help='folder of example images (default: the evaluation '
                   'images of the checkpoint\'s benchmark)')
    p.add_argument('--study', nargs='*', default=[], help='study files to serve as well')
    p.add_argument('--host', default='127.0.0.1')
    p.add_argument('--port', type=int, default=8000)
    args = parser.parse_args(argv)

    from mmrefmutual.apis import init_model
    from mmrefmutual.apps.demo import DemoSession
    from mmrefmutual.apps.human_eval import StudyDB
    from mmrefmutual.apps.server import build_app, serve
    model = init_model(args.config, args.checkpoint, device=args.device)
    data_root = model.cfg.test_dataloader.dataset.get('data_root', '')
    examples = (DemoSession.examples_in(args.examples) if args.examples else
                default_examples(args.checkpoint, data_root))
    studies = {}
    for path in args.study:
        with StudyDB(path) as db:
            studies[db.study_id] = path
    print(f'demo of {args.checkpoint} with {len(examples)} example images: '
          f'http://{args.host}:{args.port}/demo', flush=True)
    serve(build_app(studies=studies, demo=DemoSession(model, examples)), args.host, args.port)
    return 0


if __name__ == '__main__':
    sys.exit(main())
