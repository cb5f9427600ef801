"""Evaluate a checkpoint: ``python tools/test.py CONFIG CKPT [--splits val testA testB]``.

Prints the results of every evaluated split as a table in the paper's layout (REG:
Meteor | CIDEr | Rb-Acc | oracle unambiguity; RES: mIoU | oIoU | Pr@0.5/0.7/0.9 | REC)
and writes the same numbers as JSON into the work dir.
"""
import argparse
import copy
import logging
import os.path as osp

from mmengine.logging import print_log
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmrefmutual.engine.hooks import extractor_provenance
from mmrefmutual.registry import METRICS
from mmrefmutual.utils import safe_load_checkpoint, setup_distributed
from mmrefmutual.utils.tool_args import add_common_args, load_tool_config


def parse_args():
    parser = argparse.ArgumentParser(description='Test an mmrefmutual model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--splits', nargs='+',
        help="splits of the test dataset to evaluate, e.g. 'val testA testB' "
        "(default: the config's test split)")
    parser.add_argument(
        '--tasks', nargs='+', choices=['res', 'reg'],
        help='predict and score only these tasks (default: both; REG-only is e.g. step 2, '
        'whose RES is step 1\'s)')
    add_common_args(parser)
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = load_tool_config(args)
    cfg.load_from = args.checkpoint
    if args.tasks:
        cfg.model.test_cfg.update(res='res' in args.tasks, reg='reg' in args.tasks)
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [
            cfg.test_evaluator]
        # a metric scores the task its names are prefixed with ('res/', 'reg/')
        cfg.test_evaluator = [
            e for e in evaluators
            if (e.get('prefix') or METRICS.get(e['type']).default_prefix) in args.tasks]
    setup_distributed(cfg, args.launcher)
    from mmrefmutual.evaluation import dump_results_json, format_results_table
    results, rank = {}, 0
    for split in args.splits or [cfg.test_dataloader.dataset.get('split', 'test')]:
        split_cfg = copy.deepcopy(cfg)
        split_cfg.test_dataloader.dataset.split = split
        split_cfg.work_dir = osp.join(cfg.work_dir, split)
        evaluators = split_cfg.test_evaluator
        for evaluator in evaluators if isinstance(evaluators, list) else [evaluators]:
            # one dump per split, not the last split's only
            if evaluator.get('outfile_prefix'):
                evaluator['outfile_prefix'] = f"{evaluator['outfile_prefix']}_{split}"
        runner = (Runner.from_cfg(split_cfg) if 'runner_type' not in split_cfg
                  else RUNNERS.build(split_cfg))
        results[split] = runner.test()
        rank = runner.rank
    if rank == 0:
        print(format_results_table(results))
        out = osp.join(cfg.work_dir, 'test_results.json')
        provenance = extractor_provenance(
            safe_load_checkpoint(args.checkpoint, map_location='cpu', mmap=True),
            args.checkpoint)  # (the meta only: tensors stay mapped)
        if not provenance.get('clean'):
            print_log('Leaked evaluation: ' + provenance['warning'], logger='current',
                      level=logging.WARNING)
        dump_results_json(results, out, extractor=provenance)
        print(f'results written to {out}')


if __name__ == '__main__':
    main()
