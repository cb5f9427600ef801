"""Evaluate a checkpoint: ``python tools/test.py CONFIG CKPT [--work-dir D]``.

Prints one table per evaluated split in the paper's layout and writes the same
numbers as JSON into the work dir.
"""
import argparse
import json
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmrefmutual.utils import register_all_modules, setup_distributed


def parse_args():
    parser = argparse.ArgumentParser(description='Test an mmrefmutual model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save evaluation results')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config, key=value pairs (as in mmdet)')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main():
    args = parse_args()
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    setup_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    metrics = runner.test()
    if runner.rank == 0:
        try:
            from mmrefmutual.evaluation import format_paper_tables
            print(format_paper_tables(metrics))
        except ImportError:  # evaluation tables not available: plain dump
            print(json.dumps(metrics, indent=2))
        out = osp.join(cfg.work_dir, 'test_results.json')
        os.makedirs(cfg.work_dir, exist_ok=True)
        with open(out, 'w') as f:
            json.dump(metrics, f, indent=2)
        print(f'results written to {out}')


if __name__ == '__main__':
    main()
