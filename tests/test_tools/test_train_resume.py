"""tools/train.py, --resume and tools/dist_train.sh on the tiny synthetic benchmark."""
import glob
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mmrefmutual.utils import register_all_modules

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'mutual', 'synthetic_step1_joint_tiny.py')


def _options(root, work_dir, iters=4, batch_size=2):
    sys.path.insert(0, osp.join(REPO, 'tests'))
    from conftest import tiny_cfg_options
    return tiny_cfg_options(root, work_dir, iters, batch_size)


def _cli(options):
    out = []
    for k, v in options.items():
        out.append(f'{k}={v}')
    return out


def _env():
    return dict(os.environ, PYTHONPATH=REPO, HF_HUB_OFFLINE='1', OMP_NUM_THREADS='1')


def test_train_tool_writes_checkpoints_and_resumes(synthetic_root, tmp_path):
    work = str(tmp_path / 'work')
    cmd = [sys.executable, osp.join(REPO, 'tools', 'train.py'), CONFIG,
           '--cfg-options'] + _cli(_options(synthetic_root, work, iters=4))
    run = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert 'loss_res' in run.stdout + run.stderr and 'loss_reg' in run.stdout + run.stderr
    assert osp.exists(osp.join(work, 'iter_2.pth')) and osp.exists(osp.join(work, 'iter_4.pth'))
    # checkpoints hold plain containers and tensors only
    ckpt = torch.load(osp.join(work, 'iter_4.pth'), weights_only=True)
    assert ckpt['meta']['iter'] == 4
    # no extractor checkpoint was loaded: nothing can have leaked, and the meta says so
    assert ckpt['meta']['extractor_provenance']['clean'] is True

    # evaluate it with tools/test.py on two splits: paper tables + JSON; its meta without
    # the provenance, as a checkpoint from elsewhere (e.g. an mmdet Mask2Former's)
    foreign = osp.join(work, 'foreign.pth')
    del ckpt['meta']['extractor_provenance']
    torch.save(ckpt, foreign)
    out = str(tmp_path / 'test')
    cmd = [sys.executable, osp.join(REPO, 'tools', 'test.py'), CONFIG, foreign,
           '--work-dir', out, '--splits', 'val', 'testA',
           '--cfg-options'] + _cli(_options(synthetic_root, out))
    run = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    assert 'Meteor' in run.stdout and 'mIoU' in run.stdout
    assert 'Leaked evaluation' in run.stdout + run.stderr
    with open(osp.join(out, 'test_results.json')) as f:
        results = json.load(f)
    assert results['extractor']['clean'] is False and 'leaked' in results['extractor']['warning']
    assert set(results['RES']) == {'val', 'testA'} == set(results['REG'])
    assert {'mIoU', 'oIoU', 'Pr@0.5', 'REC acc'} <= set(results['RES']['val'])
    # REGMetric's columns, then SyntheticOracleMetric's (mmrefmutual_bench)
    assert list(results['REG']['val']) == ['Meteor', 'CIDEr', 'Oracle unamb.', 'Cat. named']

    # resume from iter_2 with the CLI (weights_only=True loading throughout)
    opts = _options(synthetic_root, work, iters=5)
    cmd = [sys.executable, osp.join(REPO, 'tools', 'train.py'), CONFIG, '--resume',
           osp.join(work, 'iter_2.pth'), '--cfg-options'] + _cli(opts)
    run = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=600)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-3000:]
    assert 'resumed epoch: 0, iter: 2' in log
    assert 'Iter(train) [3/5]' in log and 'Iter(train) [1/5]' not in log
    # interval 2 plus the final iteration (CheckpointHook's save_last)
    assert torch.load(osp.join(work, 'iter_5.pth'), weights_only=True)['meta']['iter'] == 5


def test_resume_restores_iteration_and_optimizer(synthetic_root, tmp_path):
    register_all_modules(init_default_scope=False)
    work = str(tmp_path / 'work')
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(_options(synthetic_root, work, iters=2))
    cfg.launcher = 'none'
    runner = Runner.from_cfg(cfg)
    runner.train()
    saved = runner.optim_wrapper.state_dict()

    cfg2 = Config.fromfile(CONFIG)
    cfg2.merge_from_dict(_options(synthetic_root, work, iters=3))
    cfg2.launcher = 'none'
    cfg2.resume = True
    cfg2.load_from = osp.join(work, 'iter_2.pth')
    cfg2.experiment_name = 'resumed'
    runner2 = Runner.from_cfg(cfg2)
    runner2._init_model_weights()
    runner2.load_or_resume()
    assert runner2.iter == 2
    got = runner2.optim_wrapper.state_dict()
    assert got['param_groups'][0]['lr'] == saved['param_groups'][0]['lr']
    assert set(got['state']) == set(saved['state']) and len(got['state']) > 0
    for key, state in saved['state'].items():
        torch.testing.assert_close(got['state'][key]['exp_avg'], state['exp_avg'])
        assert float(got['state'][key]['step']) == float(state['step']) == 2
    # and the message hub (HistoryBuffer of losses) came back as HistoryBuffer
    assert len(runner2.message_hub.get_scalar('train/loss').data[0]) == 2


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_dist_train_two_cpu_processes_gloo(synthetic_root, tmp_path):
    work = str(tmp_path / 'dist')
    env = dict(_env(), PYTHON=sys.executable, PORT=str(_free_port()))
    cmd = ['bash', osp.join(REPO, 'tools', 'dist_train.sh'), CONFIG, '2', '--cfg-options'
           ] + _cli(_options(synthetic_root, work, iters=2, batch_size=1))
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-4000:]
    assert 'Distributed launcher: pytorch' in log or "'world_size': 2" in log or \
        'Distributed training: True' in log, log[-3000:]
    assert sorted(osp.basename(p) for p in glob.glob(osp.join(work, '*.pth'))) == ['iter_2.pth']
    ckpt = torch.load(osp.join(work, 'iter_2.pth'), weights_only=True)
    assert ckpt['meta']['iter'] == 2


def test_step2_disambiguation_from_step1_checkpoint(synthetic_root, tmp_path):
    """tools/train.py with the step-2 config: loads the step-1 checkpoint, trains only the
    generation head by policy gradient (reward logged), leaves every other weight as is."""
    step1 = str(tmp_path / 'step1')
    cmd = [sys.executable, osp.join(REPO, 'tools', 'train.py'), CONFIG,
           '--cfg-options'] + _cli(_options(synthetic_root, step1, iters=2))
    run = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]

    step2 = str(tmp_path / 'step2')
    opts = _options(synthetic_root, step2, iters=2)
    del opts['param_scheduler.end']  # step 2 runs at a constant lr
    opts['load_from'] = osp.join(step1, 'iter_2.pth')
    config2 = osp.join(REPO, 'configs', 'mutual', 'synthetic_step2_rl_tiny.py')
    cmd = [sys.executable, osp.join(REPO, 'tools', 'train.py'), config2,
           '--cfg-options'] + _cli(opts)
    run = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=600)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-3000:]
    assert 'loss_reg_rl:' in log and 'loss_res:' not in log and 'loss_mask:' not in log
    # the hook built the reward from the training refs; the model logs its parts
    from mmrefmutual.datasets import load_refs
    num_train = sum(r['split'] == 'train' for r in load_refs(
        osp.join(synthetic_root, 'refcoco', 'refs(unc).p')))
    assert f'CIDEr-D corpus of {num_train} training refs' in log
    for part in ('reward:', 'reward_unambiguity:', 'reward_cider:', 'reward_target_wins:'):
        assert part in log, part
    before = torch.load(osp.join(step1, 'iter_2.pth'), weights_only=True)['state_dict']
    after = torch.load(osp.join(step2, 'iter_2.pth'), weights_only=True)['state_dict']
    assert before.keys() == after.keys()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith('generation_head.') for k in changed)
    assert any('backbone' in k and 'running_mean' in k for k in before)  # BN stats frozen too
