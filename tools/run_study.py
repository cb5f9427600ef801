"""A seeded study of mutual supervision: the main job (``tools/run_embedded.py``) for K seeds
x a list of settings, each effect paired by seed, with 95 % t-intervals, written up as
``study.md``, a self-contained ``study.html`` and PNGs in the work dir.

    python tools/run_study.py --seeds 0 1 2 3 4                         # the default, 5 seeds
    python tools/run_study.py --seeds 0 1 2 --settings alt:variant=alt  # + a setting
    python tools/run_study.py --seeds 0 1 2 --curve 100 200 400 800     # the low-label curve

A seed is the data and the initialisation (``run_embedded.py --seed``). Each run is one
``run_embedded.py`` work dir under ``WORK_DIR/runs/``, so its phases are reused as by the main
job, and a run whose ``summary.json`` was written with the same settings is not started again.
Settings that change step 3 only (``refer_back``, ``step3_filter``, ``step3_from``) and the
points of the curve (``train_ref_images``) run in the work dir of the seed's base run, beside
it, and reuse what it shares with them. Effects: step 3 - control RES mIoU (mean of the
evaluation splits, and per split), step 2 - step 1 REG (oracle unambiguity, Rb-Acc, CIDEr,
METEOR), each of the same run (same seed, same data), then between settings, paired by seed.
An effect is "shown" only where its 95 % interval excludes zero.
"""
import argparse
import hashlib
import json
import os
import os.path as osp
import re
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import run_embedded as embedded  # noqa: E402

from mmrefmutual_bench.study_stats import (EFFECTS, LEVELS, claim,  # noqa: E402
                                          mean_ci, paired_differences, run_figures, shown)

REPO = embedded.REPO

#: Phase times (s) of a full run when no finished run of the study says better: a fresh
#: clone of the main job on the 2-core CI machine (README), 23 min in all.
FULL_PHASE_SECONDS = dict(data=23, step0=312, refs=5, step1=359, referee=52, step2=62,
                          step3=238, control=188, eval_step1=60, eval_step2=45, eval_step3=25,
                          eval_control=25, report=15)
QUICK_PHASE_SECONDS = 15  # any phase of --quick (a guess: ~10 s of it is starting Python)


# ---------------------------------------------------------------- the plan
def parse_setting(text: str) -> Tuple[str, List[str]]:
    """``NAME:key=value,key=value`` -> ``(NAME, ['key=value', ...])``; a value may hold
    commas (``split_ratios=[0.4,0.3,0.15,0.15]``): only a comma before ``key=`` splits."""
    name, sep, rest = text.partition(':')
    if not sep or not re.fullmatch(r'[A-Za-z0-9_.+-]+', name):
        raise ValueError(f'a setting is NAME:key=value,...; got {text!r}')
    items = [i for i in re.split(r',(?=[A-Za-z_]\w*=)', rest) if i]
    if not items and name != 'default':
        raise ValueError(f'setting {name!r} sets nothing')
    return name, items


def train_split_sizes(s: dict) -> Tuple[int, List[int], int]:
    """(train images, [val, testA, testB] images, pool images) of the data settings ``s``:
    the arithmetic of ``mmrefmutual_bench.synthetic.generator._plan``."""
    n_ref = int(round(s['num_images'] * s['ref_image_ratio']))
    evals = [int(round(n_ref * r)) for r in s['split_ratios'][1:]]
    if n_ref >= 4:
        evals = [max(1, c) for c in evals]
    return n_ref - sum(evals), evals, s['num_images'] - n_ref


def curve_data(s: dict, max_train: int) -> List[str]:
    """Data settings with ``max_train`` train images, the evaluation splits and the pool of
    ``s`` kept at their sizes ([] when ``s`` has that many train images already)."""
    train, evals, pool = train_split_sizes(s)
    if max_train == train:
        return []
    n_ref = max_train + sum(evals)
    num_images = n_ref + pool
    ratios = [max_train / n_ref] + [c / n_ref for c in evals]
    out = dict(s, num_images=num_images, ref_image_ratio=n_ref / num_images,
               split_ratios=tuple(ratios))
    if train_split_sizes(out) != (max_train, evals, pool):  # (rounding)
        raise ValueError(f'no data settings give {max_train} train images beside {evals}')
    return [f'num_images={num_images}', f'ref_image_ratio={json.dumps(n_ref / num_images)}',
            f'split_ratios={json.dumps(ratios, separators=(",", ":"))}']


def _slug(items: Dict[str, object]) -> str:
    if not items:
        return 'default'
    text = '_'.join(f'{k}-{json.dumps(v) if not isinstance(v, str) else v}'
                    for k, v in sorted(items.items()))
    text = re.sub(r'[^A-Za-z0-9._-]+', '', text.replace(',', '-'))
    return text if len(text) <= 60 else text[:40] + '-' + hashlib.sha1(
        text.encode()).hexdigest()[:10]


class Run:
    """One ``run_embedded.py`` call: a setting at a seed."""

    def __init__(self, study_dir: str, setting: str, items: List[str], seed: int,
                 quick: bool) -> None:
        self.setting, self.items, self.seed, self.quick = setting, list(items), seed, quick
        self.settings = embedded.resolve_settings(quick, items)
        defaults = embedded.SETTINGS['quick' if quick else 'full']
        # the work dir: what steps 0-2 depend on; a step-3 setting, a curve point or a
        # gate setting runs beside its base run and reuses its phases
        shared = set(embedded.STEP3_SETTINGS) | set(embedded.GATE_SETTINGS) | {
            'train_ref_images'}
        changed = {k: v for k, v in self.settings.items()
                   if k not in shared and v != defaults[k]}
        self.work_dir = osp.join(study_dir, 'runs', ('quick_' if quick else '') + _slug(
            changed), f'seed{seed}')
        self.layout = embedded.layout(dict(self.settings, seed=seed))
        self.summary_file = osp.join(self.work_dir, self.layout['report_dir'], 'summary.json')
        self.log = osp.join(study_dir, 'logs', f'{setting}_seed{seed}.log')

    @property
    def label(self) -> str:
        return f'{self.setting} seed {self.seed}'

    def command(self) -> List[str]:
        return ([sys.executable, osp.join(REPO, 'tools', 'run_embedded.py'), '--work-dir',
                 self.work_dir, '--seed', str(self.seed)] + (['--quick'] if self.quick else [])
                + (['--set'] + self.items if self.items else []))

    def summary(self) -> Optional[dict]:
        """The run's summary when it finished with exactly these settings, else None."""
        if not osp.isfile(self.summary_file):
            return None
        with open(self.summary_file) as f:
            summary = json.load(f)
        expected = json.loads(json.dumps(embedded.recorded(dict(self.settings,
                                                                seed=self.seed))))
        found = embedded.recorded(summary.get('settings') or {})
        # the gate decides whether a run goes on, never what it computes
        gate = set(embedded.GATE_SETTINGS) | set(embedded.FORMER_GATE_SETTINGS)
        found, expected = ({k: v for k, v in d.items() if k not in gate}
                           for d in (found, expected))
        return summary if found == expected else None

    def gate_failures(self) -> List[dict]:
        """The failed checks of the learning gate's last verdict on this run."""
        path = osp.join(self.work_dir, self.layout['report_dir'], 'gate.json')
        if not osp.isfile(path):
            return []
        with open(path) as f:
            return [g for g in json.load(f) if g.get('passed') is False]

    def state(self) -> dict:
        path = osp.join(self.work_dir, 'phases.json')
        return json.load(open(path)) if osp.isfile(path) else {}

    def seconds(self) -> float:
        """Wall time of this run's phases, as recorded (shared phases included)."""
        state = self.state()
        return sum(state[p]['seconds'] for p in embedded.phase_names(
            dict(self.settings, seed=self.seed)) if p in state)


def phase_kind(name: str) -> str:
    """``step3_refer_back_train100`` -> ``step3``: the phase whatever its setting."""
    name = re.sub(r'_train\d+$', '', name)
    for kind in ('eval_step3', 'eval_control', 'eval_step1', 'eval_step2', 'step3', 'report',
                 'refs'):
        if name.startswith(kind):
            return kind
    return name


def phase_estimates(runs: Sequence[Run], quick: bool) -> Tuple[Dict[str, float], str]:
    """Mean seconds per phase kind over the phases finished in the study's work dirs, and
    where the numbers come from."""
    seen, times = set(), {}
    for run in runs:
        if run.work_dir in seen:
            continue
        seen.add(run.work_dir)
        for name, done in run.state().items():
            times.setdefault(phase_kind(name), []).append(done['seconds'])
    measured = {k: sum(v) / len(v) for k, v in times.items()}
    if quick:
        base = {k: QUICK_PHASE_SECONDS for k in FULL_PHASE_SECONDS}
        source = f'a guess of {QUICK_PHASE_SECONDS} s per --quick phase'
    else:
        base = dict(FULL_PHASE_SECONDS)
        source = ('the README\'s fresh-clone phase times on 2 cores (~23 min per full run)')
    if measured:
        source = (f'phases finished in this study ({sum(map(len, times.values()))}), else '
                  + source)
    return dict(base, **measured), source


def plan(runs: Sequence[Run]) -> Tuple[List[Run], List[Run], Dict[int, float], str]:
    """(runs done, runs to do, estimated seconds per run to do (by id), estimate source).
    A phase that an earlier run of the plan shares (same work dir) costs nothing again."""
    quick = runs[0].quick if runs else False
    estimates, source = phase_estimates(runs, quick)
    done = [r for r in runs if r.summary() is not None]
    todo = [r for r in runs if r.summary() is None]
    planned, cost = set(), {}
    for run in todo:
        state = run.state()
        seconds = 0.0
        for name in embedded.phase_names(dict(run.settings, seed=run.seed)):
            if (run.work_dir, name) in planned or (name in state and not name.startswith(
                    'report')):
                continue
            planned.add((run.work_dir, name))
            seconds += estimates.get(phase_kind(name), QUICK_PHASE_SECONDS)
        cost[id(run)] = seconds
    return done, todo, cost, source


def execute(run: Run) -> Tuple[int, float]:
    """Run ``run_embedded.py`` for ``run``: full output to its log, phase lines to the
    console. Returns (exit status, wall seconds)."""
    os.makedirs(osp.dirname(run.log), exist_ok=True)
    env = dict(os.environ, PYTHONPATH=REPO, HF_HUB_OFFLINE='1', TRANSFORMERS_OFFLINE='1',
               PYTHONUNBUFFERED='1')
    lines = re.compile(r'^\[(\w+|gate)\] (starting|finished|done before|FAILED|stopped)')
    start = time.perf_counter()
    with open(run.log, 'w', buffering=1) as f:  # line by line, for a reader of the log
        proc = subprocess.Popen(run.command(), cwd=REPO, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, bufsize=1)
        for line in proc.stdout:
            f.write(line)
            if lines.match(line):
                print(f'    {run.label}: {line.rstrip()[:200]}', flush=True)
        status = proc.wait()
    return status, time.perf_counter() - start


# ---------------------------------------------------------------- aggregation
def aggregate(summaries: Dict[str, Dict[int, dict]], reference: str = 'default') -> dict:
    """Effects per setting and their differences to ``reference``, paired by seed.

    Args:
        summaries: ``{setting: {seed: summary.json dict}}`` of the finished runs.

    Returns:
        dict: ``effects[setting][key]`` (stats of :func:`mean_ci` over seeds, the mean over
        splits, plus ``seeds``), ``splits[setting][key][split]`` (per split), ``levels`` (as
        effects) and ``differences[setting][key]`` (setting - reference, paired by seed).
    """
    figures = {name: {seed: run_figures(s) for seed, s in runs.items()}
               for name, runs in summaries.items()}
    out = dict(effects={}, splits={}, levels={}, differences={})
    per_seed = {}
    for name, runs in figures.items():
        per_seed[name] = {}
        out['effects'][name], out['splits'][name], out['levels'][name] = {}, {}, {}
        for key, *_ in EFFECTS:
            values = {seed: f['effects'][key]['mean'] for seed, f in sorted(runs.items())
                      if 'mean' in f['effects'][key]}
            per_seed[name][key] = values
            out['effects'][name][key] = dict(mean_ci(list(values.values())),
                                             seeds=list(values))
            splits = sorted({s for f in runs.values() for s in f['effects'][key]} - {'mean'})
            out['splits'][name][key] = {}
            for split in splits:
                vals = {seed: f['effects'][key][split] for seed, f in sorted(runs.items())
                        if split in f['effects'][key]}
                out['splits'][name][key][split] = dict(mean_ci(list(vals.values())),
                                                       seeds=list(vals))
        for key, *_ in LEVELS:
            vals = {seed: f['levels'][key]['mean'] for seed, f in sorted(runs.items())
                    if 'mean' in f['levels'][key]}
            out['levels'][name][key] = dict(mean_ci(list(vals.values())), seeds=list(vals))
    for name in figures:
        if name == reference or reference not in figures:
            continue
        out['differences'][name] = {}
        for key, *_ in EFFECTS:
            diff = paired_differences(per_seed[name][key], per_seed[reference][key])
            out['differences'][name][key] = dict(mean_ci(list(diff.values())),
                                                 seeds=list(diff))
    return out


# ---------------------------------------------------------------- report
def _table(rows: List[List[str]]) -> List[str]:
    out = ['| ' + ' | '.join(rows[0]) + ' |', '|' + '---|' * len(rows[0])]
    return out + ['| ' + ' | '.join(r) + ' |' for r in rows[1:]]


def _ci(stats: dict, fmt: str) -> str:
    if stats.get('low') is None:
        return '-'
    return f'[{fmt.format(stats["low"])}, {fmt.format(stats["high"])}]'


def _stat_row(stats: dict, fmt: str) -> List[str]:
    per_seed = ', '.join(f'{seed}: {fmt.format(v)}' for seed, v in zip(stats['seeds'],
                                                                       stats['values']))
    mean = '-' if stats['mean'] is None else fmt.format(stats['mean'])
    return [str(stats['n']), mean, _ci(stats, fmt), per_seed or '-']


def _gate_text(g: dict) -> str:
    value = 'not logged' if g['value'] is None else f'{g["value"]:.2f}'
    return f'{g["figure"]} {value} (needs {g["rule"]} {g["threshold"]:g})'


def plot_effects(agg: dict, order: Sequence[str], out_file: str) -> str:
    """One panel per effect: per-seed points and mean with its 95 % interval per setting."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(EFFECTS), figsize=(4.2 * len(EFFECTS), 4.2))
    for ax, (key, label, *_) in zip(axes, EFFECTS):
        for x, name in enumerate(order):
            stats = agg['effects'].get(name, {}).get(key)
            if not stats or not stats['n']:
                continue
            offsets = [(i - (stats['n'] - 1) / 2) * 0.06 for i in range(stats['n'])]
            ax.scatter([x - 0.2 + o for o in offsets], stats['values'], s=18, color='0.45',
                       zorder=3, label='per seed' if x == 0 else None)
            if stats['low'] is not None:
                ax.errorbar([x + 0.1], [stats['mean']], yerr=[[stats['mean'] - stats['low']],
                            [stats['high'] - stats['mean']]], fmt='o', color='C3' if shown(
                                stats) else 'C0', capsize=5, zorder=4,
                            label='mean, 95 % CI' if x == 0 else None)
            else:
                ax.plot([x + 0.1], [stats['mean']], 'o', color='C0')
        ax.axhline(0, color='k', lw=0.8)
        ax.set_xticks(range(len(order)))
        ax.set_xticklabels(order, rotation=20, fontsize=8)
        ax.set_title(label, fontsize=9)
        ax.grid(alpha=0.3, axis='y')
    axes[0].legend(fontsize=8)
    fig.suptitle('effects paired by seed (red: the 95 % interval excludes zero)', fontsize=10)
    fig.tight_layout()
    fig.savefig(out_file, dpi=80)
    plt.close(fig)
    return out_file


def plot_curve(agg: dict, points: Sequence[Tuple[int, str]], out_file: str) -> str:
    """RES mIoU of control and step 3 against the labelled train images, their difference,
    and the REG effects of step 2 (mean and 95 % interval over seeds)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    xs = [n for n, _ in points]
    fig, axes = plt.subplots(1, 4, figsize=(18, 4.2))

    def line(ax, group, key, label, color):
        stats = [agg[group].get(name, {}).get(key, {}) for _, name in points]
        pts = [(x, s) for x, s in zip(xs, stats) if s.get('mean') is not None]
        if not pts:
            return
        ax.plot([x for x, _ in pts], [s['mean'] for _, s in pts], 'o-', color=color,
                label=label)
        band = [(x, s) for x, s in pts if s['low'] is not None]
        if band:
            ax.fill_between([x for x, _ in band], [s['low'] for _, s in band],
                            [s['high'] for _, s in band], color=color, alpha=0.2)
        for x, s in pts:
            ax.scatter([x] * s['n'], s['values'], s=8, color=color, alpha=0.5)

    line(axes[0], 'levels', 'control_miou', 'control (human refs only)', 'C0')
    line(axes[0], 'levels', 'step3_miou', 'step 3 (+ generation supervision)', 'C3')
    axes[0].set_title('RES mIoU (mean of the evaluation splits)')
    line(axes[1], 'effects', 'res_miou', 'step 3 - control', 'C3')
    axes[1].set_title('RES mIoU, step 3 - control (paired by seed)')
    line(axes[2], 'effects', 'reg_oracle', 'oracle unambiguity (%)', 'C2')
    line(axes[2], 'effects', 'reg_rbacc', 'Rb-Acc', 'C1')
    axes[2].set_title('REG, step 2 - step 1')
    line(axes[3], 'effects', 'reg_cider', 'CIDEr', 'C4')
    line(axes[3], 'effects', 'reg_meteor', 'METEOR', 'C5')
    axes[3].set_title('REG, step 2 - step 1')
    for i, ax in enumerate(axes):
        ax.set_xscale('log')
        ax.set_xticks(xs)
        ax.set_xticklabels([str(x) for x in xs])
        ax.set_xlabel('train images with human refs')
        if i:
            ax.axhline(0, color='k', lw=0.8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle('the low-label curve: mean and 95 % interval over seeds (shaded), seeds '
                 '(dots)', fontsize=10)
    fig.tight_layout()
    fig.savefig(out_file, dpi=80)
    plt.close(fig)
    return out_file


def write_study(study_dir: str, runs: Sequence[Run], settings: Dict[str, List[str]],
                curve: Sequence[Tuple[int, str]], quick: bool, command: str) -> dict:
    """Aggregate the finished runs and write ``study.md``, ``study.html``, ``study.json``,
    ``effects.png`` (and ``curve.png``) into ``study_dir``."""
    from mmrefmutual_bench.markdown_html import write_markdown_and_html
    summaries, gate_stopped, missing = {}, [], []
    for run in runs:
        summary = run.summary()
        if summary is not None:
            summaries.setdefault(run.setting, {})[run.seed] = summary
        elif run.gate_failures():
            gate_stopped.append(run)
        else:
            missing.append(run)
    agg = aggregate(summaries)
    order = [name for name in settings if name in summaries]
    md = ['# mmrefmutual: seeded study of mutual supervision', '']
    full = embedded.SETTINGS['full']
    if quick or any(r.settings[k] < full[k] for r in runs for k in full if k.endswith('_iters')):
        md += ['**A smoke run (--quick or shortened schedules): these numbers say nothing '
               'about the method; do not quote them as findings.**', '']
    seeds = sorted({r.seed for r in runs})
    md += [f'Command: {command}', '',
           f'Seeds: {", ".join(map(str, seeds))} (a seed is the data and the initialisation). '
           'Every effect is paired by seed: step 3 - control and step 2 - step 1 are of the '
           'same run (same data, same step-1 model), differences between settings are taken '
           'seed by seed. 95 % intervals: mean +- t(0.975, n - 1) sd / sqrt(n). A claim is '
           '"shown" only where the interval excludes zero.', '',
           '## Settings and runs', '']
    rows = [['setting', 'overrides', 'runs finished', 'stopped by the gate', 'wall time per '
             'run (min, phases incl. shared ones)']]
    for name, items in settings.items():
        mine = [r for r in runs if r.setting == name]
        fin = [r for r in mine if r.summary() is not None]
        rows.append([name, ', '.join(items) or '(defaults)', f'{len(fin)} of {len(mine)}',
                     str(sum(r in gate_stopped for r in mine)),
                     ', '.join(f'{r.seconds() / 60:.1f}' for r in fin) or '-'])
    md += _table(rows) + ['']
    md += ['## Effects, paired by seed (mean of the evaluation splits)', '']
    rows = [['setting', 'effect', 'n', 'mean', '95 % CI', 'per seed', 'claim']]
    for name in order:
        for key, label, *_, fmt in EFFECTS:
            stats = agg['effects'][name][key]
            rows.append([name, label] + _stat_row(stats, fmt) + [claim(stats, fmt)])
    md += _table(rows) + ['', '![effects](effects.png)', '']
    md += ['## RES mIoU, step 3 - control, per split', '']
    rows = [['setting', 'split', 'n', 'mean', '95 % CI', 'per seed', 'claim']]
    for name in order:
        for split, stats in agg['splits'][name]['res_miou'].items():
            rows.append([name, split] + _stat_row(stats, '{:+.2f}') + [claim(stats)])
    md += _table(rows) + ['']
    if agg['differences']:
        md += ['## Settings against the default, paired by seed', '']
        rows = [['setting - default', 'effect', 'n', 'mean', '95 % CI', 'per seed', 'claim']]
        for name, diffs in agg['differences'].items():
            for key, label, *_, fmt in EFFECTS:
                rows.append([name, label] + _stat_row(diffs[key], fmt) + [claim(diffs[key],
                                                                                fmt)])
        md += _table(rows) + ['']
    md += ['## Levels (mean of the evaluation splits)', '']
    rows = [['setting', 'figure', 'n', 'mean', '95 % CI', 'per seed']]
    for name in order:
        for key, label, *_, fmt in LEVELS:
            rows.append([name, label] + _stat_row(agg['levels'][name][key], fmt))
    md += _table(rows) + ['']
    curve_png = None
    if curve:
        md += ['## The low-label curve', '',
               'Training sees the human refs of N train images (nested subsets per seed); '
               'the pool of unannotated instances and the evaluation splits are the same at '
               'every N of a seed, and so is step 0.', '']
        rows = [['train images', 'n', 'control mIoU', 'step 3 mIoU', 'step 3 - control',
                 'claim', 'oracle unamb. step 2 - step 1', 'Rb-Acc step 2 - step 1',
                 'CIDEr step 2 - step 1']]

        def cell(group, name, key, fmt):
            stats = agg[group].get(name, {}).get(key)
            if not stats or stats['mean'] is None:
                return '-'
            return fmt.format(stats['mean']) + (f' {_ci(stats, fmt)}' if stats['low']
                                                is not None else '')
        for n, name in curve:
            eff = agg['effects'].get(name, {}).get('res_miou', {'n': 0})
            rows.append([str(n), str(eff['n']), cell('levels', name, 'control_miou', '{:.2f}'),
                         cell('levels', name, 'step3_miou', '{:.2f}'),
                         cell('effects', name, 'res_miou', '{:+.2f}'), claim(eff),
                         cell('effects', name, 'reg_oracle', '{:+.1f}'),
                         cell('effects', name, 'reg_rbacc', '{:+.1f}'),
                         cell('effects', name, 'reg_cider', '{:+.3f}')])
        md += _table(rows) + ['', '![curve](curve.png)', '']
        curve_png = plot_curve(agg, [(n, name) for n, name in curve if name in summaries],
                               osp.join(study_dir, 'curve.png'))
    recorded = [(r, [g for g in summaries[r.setting][r.seed].get('gate', [])
                     if g.get('passed') is False]) for r in runs if r.setting in summaries
                and r.seed in summaries[r.setting]]
    recorded = [(r, fails) for r, fails in recorded if fails]
    if recorded:
        md += ['## Runs that failed the learning gate and went on (gate=record)', '']
        md += [f'- {r.label}: ' + '; '.join(_gate_text(g) for g in fails)
               for r, fails in recorded] + ['']
    if gate_stopped or missing:
        md += ['## Runs without results', '']
        for run in gate_stopped:
            why = '; '.join(_gate_text(g) for g in run.gate_failures())
            md.append(f'- {run.label}: stopped by the learning gate: {why}')
        md += [f'- {run.label}: not finished' for run in missing] + ['']
    effects_png = plot_effects(agg, order, osp.join(study_dir, 'effects.png'))
    md_file, html_file = write_markdown_and_html(md, study_dir, 'study', 'mmrefmutual study')
    json_file = osp.join(study_dir, 'study.json')
    with open(json_file, 'w') as f:
        json.dump(dict(command=command, seeds=seeds, settings=settings,
                       curve=[list(p) for p in curve], runs={
                           f'{r.setting}/seed{r.seed}': dict(
                               work_dir=r.work_dir, summary=r.summary_file,
                               finished=r.summary() is not None,
                               gate_failures=r.gate_failures()) for r in runs},
                       **agg), f, indent=1)
    return dict(markdown=md_file, html=html_file, json=json_file, effects=effects_png,
                curve=curve_png)


# ---------------------------------------------------------------- command line
def build_runs(study_dir: str, seeds: Sequence[int], settings: Dict[str, List[str]],
               quick: bool) -> List[Run]:
    """Every (setting, seed) run, grouped by work dir (a step-3 setting or curve point after
    the base run it shares phases with)."""
    runs = [Run(study_dir, name, items, seed, quick) for name, items in settings.items()
            for seed in seeds]
    first = {}
    for i, run in enumerate(runs):
        first.setdefault(run.work_dir, i)
    return sorted(runs, key=lambda r: (first[r.work_dir], runs.index(r)))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/study')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2, 3, 4])
    parser.add_argument('--settings', nargs='+', default=[], metavar='NAME:KEY=VALUE,...',
                        help='settings beside the default, each a run_embedded --set list')
    parser.add_argument('--curve', type=int, nargs='+', default=[], metavar='N',
                        help='the low-label curve: train images with human refs per point')
    parser.add_argument('--quick', action='store_true', help='run_embedded --quick runs')
    parser.add_argument('--set', nargs='+', default=[], metavar='KEY=VALUE',
                        help='passed to every run (run_embedded --set)')
    parser.add_argument('--plan', action='store_true', help='print the plan, run nothing')
    parser.add_argument('--report-only', action='store_true',
                        help='write the report of the runs finished so far, run nothing')
    args = parser.parse_args(argv)
    study_dir = osp.abspath(args.work_dir)
    settings = {'default': list(args.set)}
    try:
        for text in args.settings:
            name, items = parse_setting(text)
            if name in settings and name != 'default':
                parser.error(f'setting {name!r} given twice')
            settings[name] = list(args.set) + items
        curve = []
        if args.curve:
            if min(args.curve) < 1 or len(set(args.curve)) != len(args.curve):
                parser.error('--curve takes distinct positive numbers of train images')
            base = embedded.resolve_settings(args.quick, args.set)
            data = curve_data(base, max(args.curve))
            for n in sorted(args.curve):
                name = f'train{n}'
                settings[name] = list(args.set) + data + (
                    [f'train_ref_images={n}', 'gate=record'] if n != max(args.curve)
                    else [])  # (fewer labels, less learned: the gate marks, not stops)
                curve.append((n, name))
        runs = build_runs(study_dir, args.seeds, settings, args.quick)
    except ValueError as e:
        parser.error(str(e))
    os.makedirs(study_dir, exist_ok=True)
    command = 'python tools/run_study.py ' + ' '.join(argv if argv is not None else
                                                      sys.argv[1:])
    done, todo, cost, source = plan(runs)
    print(f'[study] {len(runs)} runs ({len(args.seeds)} seeds x {len(settings)} settings): '
          f'{len(done)} done, {len(todo)} to do; expected wall time '
          f'{sum(cost.values()) / 60:.0f} min (from {source})', flush=True)
    for run in runs:
        status = (f'done ({run.seconds() / 60:.1f} min)' if run in done else
                  f'to do (~{cost[id(run)] / 60:.1f} min)')
        print(f'    {run.label:28s} {status:22s} {osp.relpath(run.work_dir, study_dir)}',
              flush=True)
    if args.plan:
        return 0
    failed = []
    if not args.report_only:
        start = time.perf_counter()
        for i, run in enumerate(todo):
            if run.summary() is not None:  # the same run under another name, done above
                print(f'[study] run {i + 1}/{len(todo)}: {run.label}: done above '
                      f'({osp.relpath(run.work_dir, study_dir)})', flush=True)
                continue
            print(f'[study] run {i + 1}/{len(todo)}: {run.label} (~{cost[id(run)] / 60:.1f} '
                  f'min; log {run.log})', flush=True)
            status, seconds = execute(run)
            if status == embedded.GATE_EXIT:
                print(f'[study] {run.label}: stopped by the learning gate after '
                      f'{seconds / 60:.1f} min', flush=True)
            elif status:
                failed.append(run)
                print(f'[study] {run.label}: FAILED (exit {status}) after {seconds / 60:.1f} '
                      f'min; see {run.log}', flush=True)
            else:
                print(f'[study] {run.label}: finished in {seconds / 60:.1f} min', flush=True)
        print(f'[study] wall time {(time.perf_counter() - start) / 60:.1f} min', flush=True)
    out = write_study(study_dir, runs, settings, curve, args.quick, command)
    print(f'[study] report: {out["markdown"]} and {out["html"]}', flush=True)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
