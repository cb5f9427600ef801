"""Train a model: ``python tools/train.py CONFIG [--work-dir D] [--resume [CKPT]] [--amp]``.

Same interface as mmdet's ``tools/train.py``. Works on GPUs and on CPU-only machines,
also distributed (gloo is chosen automatically where there is no GPU).
"""
import argparse

from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmrefmutual.utils import setup_distributed
from mmrefmutual.utils.tool_args import add_common_args, enable_amp, load_tool_config


def parse_args():
    parser = argparse.ArgumentParser(description='Train an mmrefmutual model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision: bfloat16 where the GPU supports it, '
                        'float16 otherwise, with a dynamic loss scale')
    parser.add_argument('--amp-dtype', choices=['bfloat16', 'float16'],
                        help='the autocast dtype of --amp (default: see --amp)')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from CKPT, or from the latest checkpoint of the work dir if '
        'no path is given')
    add_common_args(parser)
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = load_tool_config(args)
    if args.amp:
        enable_amp(cfg, args.amp_dtype)
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    setup_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    runner.train()


if __name__ == '__main__':
    main()
