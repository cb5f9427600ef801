"""The README's main job in miniature: every phase runs, the report is written, a re-run
skips what finished."""
import json
import os
import os.path as osp
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SMALL = ['num_images=160', 'step0_iters=4', 'step1_iters=6', 'val_interval=3',
         'referee_iters=2', 'step2_iters=2', 'step3_iters=4', 'val_images=6']


def test_embedded_job_writes_its_report_and_reuses_finished_phases(tmp_path):
    work = str(tmp_path / 'embedded')
    cmd = [sys.executable, osp.join(REPO, 'tools', 'run_embedded.py'), '--quick',
           '--work-dir', work, '--set'] + SMALL
    env = dict(os.environ, PYTHONPATH=REPO, HF_HUB_OFFLINE='1', OMP_NUM_THREADS='1')
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-4000:]
    for name in ('report.md', 'report.html', 'curves.png', 'examples.png', 'summary.json'):
        assert osp.getsize(osp.join(work, name)) > 0, name
    report = open(osp.join(work, 'report.md')).read()
    assert '**Budget:** wall time' in report and 'peak RSS' in report
    assert ('**Adapted to the data:** images resized to 128 px (setting image_side); step 0 '
            'ran 1 round of 4 iterations.') in report
    assert '## REG' in report and '## RES' in report and 'step 3 (+ generation' in report
    assert 'RES mIoU (step 3 - control)' in report
    html = open(osp.join(work, 'report.html')).read()
    assert html.count('src="data:image/png;base64,') == 2 and '<table>' in html
    summary = json.load(open(osp.join(work, 'summary.json')))
    assert set(summary['results']) == {'step1', 'step2', 'step3', 'control'}
    assert 'mIoU' in summary['results']['step3']['RES']['val']
    assert 'Rb-Acc' in summary['results']['step2']['REG']['val']
    assert 'pseudo samples' in open(osp.join(work, 'step3.log')).read()
    assert 'Iter(train)' in out and 'wall time' in out

    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, (again.stdout + again.stderr)[-3000:]
    for phase in ('data', 'step0', 'step1', 'referee', 'step2', 'step3', 'control',
                  'eval_step1'):
        assert f'[{phase}] done before' in again.stdout, phase

    # a step-3 setting re-runs step 3 only, beside the default one, with a report of its own
    variant = subprocess.run(cmd + ['refer_back=true'], env=env, capture_output=True,
                             text=True, timeout=900)
    assert variant.returncode == 0, (variant.stdout + variant.stderr)[-3000:]
    for phase in ('data', 'step0', 'step1', 'referee', 'step2', 'control', 'eval_control'):
        assert f'[{phase}] done before' in variant.stdout, phase
    assert '[step3_refer_back] starting' in variant.stdout
    log = open(osp.join(work, 'step3_refer_back.log')).read()
    assert 'refer_back=True' in log or "'refer_back': True" in log, log[-2000:]
    report = open(osp.join(work, 'step3_refer_back', 'report.md')).read()
    assert 'grounds back' in report
    assert 'grounds back' not in open(osp.join(work, 'report.md')).read()

    # the paper's step 3 (re-train from step 0 with step 1's recipe): step 1 is its control
    retrain = subprocess.run(cmd + ['step3_from=step0'], env=env, capture_output=True,
                             text=True, timeout=900)
    assert retrain.returncode == 0, (retrain.stdout + retrain.stderr)[-3000:]
    assert '[step3_retrain] starting' in retrain.stdout
    assert '[control] done before' not in retrain.stdout  # no control phase of its own
    log = open(osp.join(work, 'step3_retrain.log')).read()
    assert 'human_repeat=4' in log and 'human x 4' in log and "mode='image'" in log
    assert "load_from = '" + osp.join(work, 'step0') in log
    summary = json.load(open(osp.join(work, 'step3_retrain', 'summary.json')))
    assert summary['results']['control'] == summary['results']['step1']
