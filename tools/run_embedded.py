"""The embedded default: the three steps of mutual supervision on the synthetic benchmark,
with their controls, evaluated and written up as a report.

    python tools/run_embedded.py [--work-dir work_dirs/embedded] [--quick] [--seed 0]

Phases (each skipped when it finished before with the same settings, so a re-run reuses
data and checkpoints): data (a low-label synthetic benchmark: few images with human refs,
a large pool without), step 0 (Mask2Former pre-trained on every image but the evaluation
ones, as the paper's COCO pre-training), step 1 (joint training; REG grounding followed on
val during training), referee (a fresh selection head on the frozen step-1 proposals, for Rb-Acc),
step 2 (disambiguation supervision), step 3 (generation supervision: pseudo refs of the
pool, then RES on human + pseudo refs), control (the same iterations from the same
checkpoint on human refs only), evaluation (val, testA, testB) and the report
(``report.md``, ``report.html`` and PNGs in the work dir). Wall time per phase and the peak
memory of the job are printed at the end and written in the report.
"""
import argparse
import hashlib
import json
import os
import os.path as osp
import re
import resource
import subprocess
import sys
import time
from typing import Dict, List, Optional

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
PY = sys.executable
CONFIGS = osp.join(REPO, 'configs', 'mutual')

#: Defaults of the full job and of --quick (a smoke run of a few minutes).
SETTINGS = dict(
    full=dict(variant='default', num_images=4000, ref_image_ratio=0.25,
              split_ratios=(0.4, 0.3, 0.15, 0.15), step0_iters=1000, step1_iters=1000,
              val_interval=250, referee_iters=300, step2_iters=400, step3_iters=600,
              eval_splits=('val', 'testA', 'testB'), val_images=100, step3_filter='area',
              refer_back=False, step3_from='step2'),
    quick=dict(variant='default', num_images=400, ref_image_ratio=0.25,
               split_ratios=(0.4, 0.3, 0.15, 0.15), step0_iters=30, step1_iters=60,
               val_interval=30, referee_iters=20, step2_iters=20, step3_iters=30,
               eval_splits=('val', ), val_images=20, step3_filter='area', refer_back=False,
               step3_from='step2'),
)
#: Settings that change step 3 only: another value re-runs step 3 (in a phase of its own,
#: report in WORK_DIR/step3_<variant>/) and reuses steps 0-2 and the control.
#: step3_from='step0': the paper's step 3 (re-train the whole network with step 1's recipe,
#: synthetic_step3_gensup_retrain_tiny.py), compared with step 1 itself as the control.
STEP3_SETTINGS = dict(step3_filter='area', refer_back=False, step3_from='step2')


def multistep(iters: int) -> dict:
    """Step 1's schedule shape (lr x0.1 at 2/3 and 8/9, as 60k and 80k of 90k) for
    ``iters`` iterations."""
    return {'param_scheduler.end': iters,
            'param_scheduler.milestones': f'[{iters * 2 // 3},{iters * 8 // 9}]'}


def peak_rss_gib() -> float:
    """Largest resident set of this process and of any finished child, in GiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 2**20


class Job:
    """Runs the phases, remembers what finished and how long each took."""

    def __init__(self, work_dir: str, settings: dict, seed: int) -> None:
        self.work_dir = osp.abspath(work_dir)
        self.settings = dict(settings, seed=seed)
        self.data_root = osp.join(self.work_dir, 'data') + '/'
        self.state_file = osp.join(self.work_dir, 'phases.json')
        os.makedirs(self.work_dir, exist_ok=True)
        self.state = json.load(open(self.state_file)) if osp.isfile(self.state_file) else {}
        self.env = dict(os.environ, PYTHONPATH=REPO, HF_HUB_OFFLINE='1',
                        TRANSFORMERS_OFFLINE='1', PYTHONUNBUFFERED='1')
        self.env.setdefault('OMP_NUM_THREADS', str(len(os.sched_getaffinity(0))))

    # ---------------------------------------------------------------- bookkeeping
    def _key(self, phase: str, inputs: dict) -> str:
        return hashlib.sha1(json.dumps([phase, inputs], sort_keys=True).encode()).hexdigest()

    def phase(self, name: str, inputs: dict, fn) -> dict:
        """Run ``fn()`` unless the phase finished with the same inputs; returns its outputs."""
        key = self._key(name, inputs)
        done = self.state.get(name)
        if done and done['key'] == key and all(  # (a short run may log no scalars)
                osp.exists(p) for k, p in done['outputs'].items() if isinstance(p, str)
                and p.startswith('/') and k != 'scalars'):
            print(f'[{name}] done before ({done["seconds"]:.0f} s): skipped', flush=True)
            return done['outputs']
        print(f'[{name}] starting', flush=True)
        start = time.perf_counter()
        outputs = fn()
        seconds = time.perf_counter() - start
        self.state[name] = dict(key=key, outputs=outputs, seconds=seconds,
                                peak_rss_gib=peak_rss_gib())
        with open(self.state_file, 'w') as f:
            json.dump(self.state, f, indent=1)
        print(f'[{name}] finished in {seconds:.0f} s (peak RSS so far {peak_rss_gib():.2f} GiB)',
              flush=True)
        return outputs

    def run(self, args: List[str], log: str) -> None:
        """Run a tool; its full output goes to ``log``, progress lines to the console."""
        progress = re.compile(r'Iter\((train|val|test)\) \[\s*\d+/\d+\]|task/s|eta:')
        with open(log, 'w') as f:
            proc = subprocess.Popen([PY] + args, cwd=REPO, env=self.env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True, bufsize=1)
            for line in proc.stdout:
                f.write(line)
                for part in line.split('\r'):
                    if progress.search(part):
                        short = re.sub(r'\s+(base_lr|lr|data_time|grad_norm|memory)'
                                       r': \S+', '', part.strip())
                        print('    ' + short[:160], flush=True)
            if proc.wait():
                raise RuntimeError(f'{" ".join(args[:2])} failed: see {log}')

    def train(self, name: str, config: str, iters: int, options: Dict[str, object]) -> dict:
        work = osp.join(self.work_dir, name)
        validate = {  # during step 1 only: the other phases are evaluated afterwards
            'val_dataloader.dataset.data_root': self.data_root,
            'val_dataloader.dataset.indices': self.settings['val_images'],
            'val_evaluator.1.oracle_ann_file': self.data_root + 'refcoco/instances.json',
        } if 'train_cfg.val_interval' in options else {
            'val_cfg': None, 'val_dataloader': None, 'val_evaluator': None}
        opts = {
            **validate,
            'train_dataloader.dataset.data_root': self.data_root,
            'test_dataloader.dataset.data_root': self.data_root,
            'model.generation_head.vocab': self.data_root + 'refcoco/vocab.txt',
            'train_cfg.max_iters': iters,
            'default_hooks.checkpoint.interval': iters,
            'randomness.seed': self.settings['seed'],
            **options
        }
        cli = [f'{k}={v}' for k, v in opts.items()]
        self.run(['tools/train.py', osp.join(CONFIGS, config), '--work-dir', work,
                  '--cfg-options'] + cli, osp.join(self.work_dir, f'{name}.log'))
        return dict(checkpoint=osp.join(work, f'iter_{iters}.pth'), work_dir=work,
                    scalars=self.latest_scalars(work))

    @staticmethod
    def latest_scalars(work: str) -> str:
        runs = sorted(d for d in os.listdir(work) if re.fullmatch(r'\d{8}_\d{6}', d))
        return osp.join(work, runs[-1], 'vis_data', 'scalars.json')

    def evaluate(self, name: str, checkpoint: str, referee: str, tasks: List[str]) -> dict:
        """tools/test.py on the evaluation splits for ``tasks`` ('res', 'reg')."""
        out = osp.join(self.work_dir, 'eval', name)
        opts = {
            'test_dataloader.dataset.data_root': self.data_root,
            'model.generation_head.vocab': self.data_root + 'refcoco/vocab.txt',
            'model.referee.checkpoint': referee,
            'test_evaluator.1.oracle_ann_file': self.data_root + 'refcoco/instances.json',
            'test_evaluator.0.outfile_prefix': osp.join(out, 'res'),
            'test_evaluator.1.outfile_prefix': osp.join(out, 'expressions'),
        }
        cli = [f'{k}={v}' for k, v in opts.items()]
        self.run(['tools/test.py', osp.join(CONFIGS, 'synthetic_step1_joint_tiny.py'),
                  checkpoint, '--work-dir', out, '--splits', *self.settings['eval_splits'],
                  '--tasks', *tasks, '--cfg-options'] + cli,
                 osp.join(self.work_dir, f'eval_{name}.log'))
        return dict(results=osp.join(out, 'test_results.json'), dir=out)


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/embedded')
    parser.add_argument('--quick', action='store_true', help='a smoke run of a few minutes')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--set', nargs='+', default=[], metavar='KEY=VALUE',
                        help='override a setting, e.g. step1_iters=800 (see SETTINGS)')
    args = parser.parse_args(argv)
    start = time.perf_counter()
    settings = dict(SETTINGS['quick' if args.quick else 'full'])
    for item in args.set:
        key, _, value = item.partition('=')
        if key not in settings:
            parser.error(f'unknown setting {key!r}; one of {sorted(settings)}')
        settings[key] = type(settings[key])(json.loads(value)) if not isinstance(
            settings[key], str) else value
    for key, allowed in (('step3_filter', ('area', 'random', 'none')),
                         ('step3_from', ('step2', 'step0'))):
        if settings[key] not in allowed:
            parser.error(f'{key} must be one of {allowed}, got {settings[key]!r}')
    job = Job(args.work_dir, settings, args.seed)
    s = job.settings
    base = {k: v for k, v in s.items() if k not in STEP3_SETTINGS}  # what steps 0-2 depend on
    variant = '_'.join(([f'{s["step3_filter"]}_filter'] if s['step3_filter'] != 'area' else [])
                       + (['refer_back'] if s['refer_back'] else [])
                       + (['retrain'] if s['step3_from'] == 'step0' else []))  # random_filter
    step3_name = f'step3_{variant}' if variant else 'step3'
    step3_inputs = s if variant else base
    phases = []  # this run's phases, for the budget line

    def phase(name, inputs, fn):
        phases.append(name)
        return job.phase(name, inputs, fn)

    def data():
        job.run(['tools/dataset_converters/make_synthetic_refcoco.py', job.data_root,
                 '--num-images', str(s['num_images']), '--ref-image-ratio',
                 str(s['ref_image_ratio']), '--split-ratios', *map(str, s['split_ratios']),
                 '--seed', str(s['seed']), '--variant', s['variant']],
                osp.join(job.work_dir, 'data.log'))
        job.run(['tools/dataset_converters/build_vocab.py', job.data_root + 'refcoco/refs(unc).p',
                 '--split', 'train', '--out', job.data_root + 'refcoco/vocab.txt'],
                osp.join(job.work_dir, 'vocab.log'))
        return dict(root=job.data_root)

    phase('data', {k: s[k] for k in ('variant', 'num_images', 'ref_image_ratio',
                                          'split_ratios', 'seed')}, data)
    step0 = phase('step0', base, lambda: job.train(
        'step0', 'synthetic_step0_extractor_tiny.py', s['step0_iters'], {
            'train_dataloader.dataset.protected_refs_files':
                f'[{job.data_root}refcoco/refs(unc).p,{job.data_root}refcoco+/refs(unc).p]',
            **multistep(s['step0_iters'])}))
    step1 = phase('step1', base, lambda: job.train(
        'step1', 'synthetic_step1_joint_tiny.py', s['step1_iters'], {
            'load_from': step0['checkpoint'], 'train_cfg.val_interval': s['val_interval'],
            **multistep(s['step1_iters'])}))

    def referee():
        from mmrefmutual.utils import safe_load_checkpoint, to_plain
        import torch
        ckpt = safe_load_checkpoint(step1['checkpoint'], map_location='cpu')
        state = {k: v for k, v in ckpt['state_dict'].items() if not k.startswith('selection_head.')}
        init = osp.join(job.work_dir, 'step1_without_selection_head.pth')
        torch.save(to_plain(dict(state_dict=state, meta={})), init)
        return job.train('referee', 'synthetic_referee_tiny.py', s['referee_iters'],
                         {'load_from': init, 'randomness.seed': s['seed'] + 1})

    referee = phase('referee', base, referee)
    step2 = phase('step2', base, lambda: job.train(
        'step2', 'synthetic_step2_rl_tiny.py', s['step2_iters'],
        {'load_from': step1['checkpoint']}))
    gen = {
        'load_from': step2['checkpoint'],
        'custom_hooks.0.generation_supervision.checkpoint': step2['checkpoint'],
        'custom_hooks.0.generation_supervision.unannotated.data_root': job.data_root,
        'custom_hooks.0.generation_supervision.protected_refs_files':
            f'[{job.data_root}refcoco/refs(unc).p,{job.data_root}refcoco+/refs(unc).p]',
        'custom_hooks.0.generation_supervision.instance_filter': s['step3_filter'],
        'custom_hooks.0.generation_supervision.refer_back': s['refer_back'],
    }
    if s['step3_from'] == 'step0':  # the paper's re-training; step 1 is its control
        step3 = phase(step3_name, step3_inputs, lambda: job.train(
            step3_name, 'synthetic_step3_gensup_retrain_tiny.py', s['step1_iters'],
            dict(gen, load_from=step0['checkpoint'], **multistep(s['step1_iters']))))
        control = step1
    else:
        step3 = phase(step3_name, step3_inputs, lambda: job.train(
            step3_name, 'synthetic_step3_gensup_tiny.py', s['step3_iters'],
            dict(gen, **multistep(s['step3_iters']))))
        control = phase('control', base, lambda: job.train(
            'control', 'synthetic_step3_gensup_tiny.py', s['step3_iters'],
            {'load_from': step2['checkpoint'], 'custom_hooks': '[]',
             **multistep(s['step3_iters'])}))

    evals = {}
    for name, run_name, ckpt, tasks in (
            ('step1', 'step1', step1, ['res', 'reg']), ('step2', 'step2', step2, ['reg']),
            ('step3', step3_name, step3, ['res']), ('control', 'control', control, ['res'])):
        if name == 'control' and control is step1:  # its evaluation has RES already
            evals[name] = evals['step1']
            continue
        evals[name] = phase(
            f'eval_{run_name}', step3_inputs if name == 'step3' else base,
            lambda ckpt=ckpt, run_name=run_name, tasks=tasks: job.evaluate(
                run_name, ckpt['checkpoint'], referee['checkpoint'], tasks))
    out_dir = osp.join(job.work_dir, step3_name) if variant else job.work_dir

    def report():
        from mmrefmutual.visualization.report import write_report
        budget = {name: round(job.state[name]['seconds']) for name in phases
                  if name in job.state}  # (not this report itself)
        rss = max([peak_rss_gib()] + [job.state[name].get('peak_rss_gib', 0)
                                      for name in budget])  # phases reused from a former run
        os.makedirs(out_dir, exist_ok=True)
        return write_report(out_dir, job.data_root, dict(
            step1=step1, referee=referee, step2=step2, step3=step3, control=control),
            evals, budget, rss, s)

    outputs = phase(f'report_{variant}' if variant else 'report', dict(s, time=time.time()),
                    report)
    total = time.perf_counter() - start
    print(f'[embedded] wall time {total / 60:.1f} min (phases: ' + ', '.join(
        f'{k} {job.state[k]["seconds"]:.0f} s' for k in phases) +
        f'); peak RSS {peak_rss_gib():.2f} GiB in this run')
    print(f'[embedded] report: {outputs["markdown"]} and {outputs["html"]}')


if __name__ == '__main__':
    main()
