import json
import os.path as osp
import shutil
import socket
import sys

import pytest
import torch.multiprocessing as mp

from mmrefmutual.evaluation import RESMetric

# --import-mode=importlib: the helpers are found through sys.path (spawned workers too)
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from eval_samples import (dist_res_samples, dist_worker, run_metric,  # noqa: E402
                          single_process_reg_metrics)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.mark.skipif(shutil.which('java') is None, reason='needs a Java runtime')
def test_two_gloo_ranks_match_one_process(tmp_path):
    """Each rank processes its shard (padded like mmengine's DefaultSampler); rank 0
    computes the metrics on the gathered results: same numbers as one process."""
    mp.spawn(dist_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    with open(tmp_path / 'metrics_rank0.json') as f:
        rank0 = json.load(f)
    with open(tmp_path / 'metrics_rank1.json') as f:
        rank1 = json.load(f)
    assert rank0 == rank1  # broadcast to every rank

    single_res = run_metric(RESMetric(), dist_res_samples())
    assert rank0['res'].keys() == single_res.keys()
    for key, value in single_res.items():
        assert rank0['res'][key] == pytest.approx(value, abs=1e-9), key

    single_reg = {k: v for k, v in single_process_reg_metrics().items() if k != '_outfile'}
    assert rank0['reg'].keys() == single_reg.keys()
    for key in ('reg/METEOR', 'reg/CIDEr', 'reg/Rb-Acc', 'reg/oracle_unambiguity'):
        assert rank0['reg'][key] == pytest.approx(single_reg[key], abs=1e-9), key
