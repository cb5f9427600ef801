"""What the tools share: common arguments, config set-up, hooks found by type."""
import argparse
import os
import os.path as osp
from typing import Sequence

from mmengine.config import Config, DictAction

from .setup_env import register_all_modules


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """``--work-dir``, ``--cfg-options``, ``--launcher`` and ``--local-rank`` (as mmdet)."""
    parser.add_argument('--work-dir', help='the dir to save logs, models and results')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config, key=value pairs (as in mmdet)')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_tool_config(args: argparse.Namespace) -> Config:
    """Load ``args.config`` with the overrides and work dir of the common arguments."""
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg


def amp_dtype() -> str:
    """The autocast dtype of ``--amp``: bfloat16 where the GPU supports it (its range is
    float32's: nothing overflows), float16 otherwise (with the dynamic loss scale)."""
    import torch
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return 'bfloat16'
    return 'float16'


def enable_amp(cfg: Config, dtype: str = None) -> None:
    """Turn ``cfg.optim_wrapper`` into mmengine's ``AmpOptimWrapper`` with a dynamic loss
    scale and ``dtype`` (default :func:`amp_dtype`)."""
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.loss_scale = 'dynamic'
    cfg.optim_wrapper.dtype = dtype or amp_dtype()


def hook_index(hooks: Sequence[dict], hook_type: str) -> int:
    """Position of the one hook config of type ``hook_type`` (with or without its
    ``mmrefmutual.`` scope) in ``hooks`` (e.g. ``cfg.custom_hooks``): tools find a hook by
    its type, not by where a config happens to list it."""
    found = [i for i, hook in enumerate(hooks)
             if hook.get('type') in (hook_type, f'mmrefmutual.{hook_type}')]
    if len(found) != 1:
        raise ValueError(f'expected one {hook_type} in the hooks, found {len(found)}')
    return found[0]


def step3_hook_index(cfg: Config) -> int:
    """Position in ``cfg.custom_hooks`` of the ``MutualSupervisionHook`` that has the
    step-3 settings (``generation_supervision``): their ``--cfg-options`` keys are
    ``custom_hooks.<index>.generation_supervision.<name>``."""
    hooks = cfg.get('custom_hooks', None) or []
    index = hook_index(hooks, 'MutualSupervisionHook')
    if not hooks[index].get('generation_supervision'):
        raise ValueError('the MutualSupervisionHook of this config has no '
                         'generation_supervision settings')
    return index
