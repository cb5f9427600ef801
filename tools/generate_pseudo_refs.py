"""Generation supervision offline: write the pseudo refs of a step-3 config's pool.

    python tools/generate_pseudo_refs.py CONFIG CKPT --out FILE [--cfg-options ...]
    python -m torch.distributed.run --nproc_per_node 8 tools/generate_pseudo_refs.py \\
        CONFIG CKPT --out FILE --launcher pytorch

CONFIG is a step-3 config (its ``MutualSupervisionHook(generation_supervision=...)`` gives
the pool, filters and settings); CKPT replaces the hook's ``checkpoint``. The file is
the one training would write (same provenance, so a training run with the same
checkpoint and settings reuses it), byte-identical for any number of processes; an
interrupted run resumes from its finished chunks.
"""
import argparse
import os

import torch
from mmengine.dist import init_dist

from mmrefmutual.engine.generation_supervision import GenerationSettings, PseudoRefWriter
from mmrefmutual.utils import register_all_modules, setup_distributed
from mmrefmutual.utils.tool_args import add_common_args, load_tool_config, step3_hook_index


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='a step-3 config')
    parser.add_argument('checkpoint', help='the model that writes the expressions (step 2)')
    parser.add_argument('--out', required=True, help='pseudo refs file (JSON)')
    parser.add_argument('--device', default=None, help='default: cuda if available, else cpu')
    add_common_args(parser)
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = load_tool_config(args)
    register_all_modules(init_default_scope=True)  # the pipelines' transforms by name
    try:
        hook = cfg.custom_hooks[step3_hook_index(cfg)]
    except ValueError as e:
        raise SystemExit(f'{args.config}: {e}')
    setup_distributed(cfg, args.launcher)
    if args.launcher != 'none' and not torch.distributed.is_initialized():
        init_dist(args.launcher, **cfg.env_cfg.get('dist_cfg', {}))
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    if device == 'cuda' and 'LOCAL_RANK' in os.environ:
        device = f'cuda:{int(os.environ["LOCAL_RANK"])}'
    settings = GenerationSettings(**dict(hook.generation_supervision,
                                         checkpoint=args.checkpoint))
    stats = PseudoRefWriter(settings).write(settings.model or cfg.model, args.out,
                                            cfg.test_dataloader.dataset.pipeline,
                                            torch.device(device))
    print(f'{stats["instances"]} instances described at {stats["instances_per_s"]:.1f} '
          f'instances/s on this rank; pseudo refs in {args.out}')


if __name__ == '__main__':
    main()
