"""Evaluate a checkpoint: ``python tools/test.py CONFIG CKPT [--splits val testA testB]``.

Prints the results of every evaluated split as a table in the paper's layout (REG:
Meteor | CIDEr | Rb-Acc | oracle unambiguity; RES: mIoU | oIoU | Pr@0.5/0.7/0.9 | REC)
and writes the same numbers as JSON into the work dir.
"""
import argparse
import copy
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
        '--splits', nargs='+',
        help="splits of the test dataset to evaluate, e.g. 'val testA testB' "
        "(default: the config's test split)")
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
    from mmrefmutual.evaluation import dump_results_json, format_results_table
    results, rank = {}, 0
    for split in args.splits or [cfg.test_dataloader.dataset.get('split', 'test')]:
        split_cfg = copy.deepcopy(cfg)
        split_cfg.test_dataloader.dataset.split = split
        split_cfg.work_dir = osp.join(cfg.work_dir, split)
        runner = (Runner.from_cfg(split_cfg) if 'runner_type' not in split_cfg
                  else RUNNERS.build(split_cfg))
        results[split] = runner.test()
        rank = runner.rank
    if rank == 0:
        print(format_results_table(results))
        out = osp.join(cfg.work_dir, 'test_results.json')
        dump_results_json(results, out)
        print(f'results written to {out}')

if __name__ == '__main__':
    main()
