"""Distributed launch that works on CPU-only machines as well as on GPUs.

mmengine's ``init_dist`` calls ``torch.cuda.set_device`` and defaults to NCCL, which
fails on a CPU-only build of torch; its DDP wrapper also passes ``device_ids`` which
DDP rejects for CPU modules. :func:`setup_distributed` initialises the process group
itself with gloo when there is no GPU (mmengine then skips its own ``init_dist``) and
selects :class:`DeviceAwareDDP`, so the same config and launcher run on both.
"""
import os

import torch
import torch.distributed as torch_dist
from mmengine.config import Config


def setup_distributed(cfg: Config, launcher: str) -> None:
    """Prepare ``cfg`` (and, on CPU, the process group) for ``launcher``.

    Args:
        cfg (Config): The runner config; ``model_wrapper_cfg`` is set to
            :class:`DeviceAwareDDP` unless the user chose a wrapper.
        launcher (str): 'none', 'pytorch', 'slurm' or 'mpi'.
    """
    if launcher == 'none':
        return
    if cfg.get('model_wrapper_cfg') is None:
        # scoped name: mmengine's wrap_model looks it up in the root registry
        cfg.model_wrapper_cfg = dict(
            type='mmrefmutual.DeviceAwareDDP', broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    if torch.cuda.is_available() or torch_dist.is_initialized():
        return  # mmengine's init_dist handles GPUs (NCCL by default)
    if launcher == 'slurm':
        # same variables as mmengine's _init_dist_slurm, without the CUDA calls
        os.environ.setdefault('RANK', os.environ['SLURM_PROCID'])
        os.environ.setdefault('WORLD_SIZE', os.environ['SLURM_NTASKS'])
        os.environ.setdefault('LOCAL_RANK', os.environ['SLURM_LOCALID'])
        os.environ.setdefault('MASTER_PORT', '29500')
        if 'MASTER_ADDR' not in os.environ:
            import subprocess
            node_list = os.environ['SLURM_NODELIST']
            os.environ['MASTER_ADDR'] = subprocess.getoutput(
                f'scontrol show hostname {node_list} | head -n1')
    torch_dist.init_process_group(backend='gloo')
