"""Statistics of the seeded study (``tools/run_study.py``) and of where one main-job run
falls in it (``report.py``): each run's effects and levels from its ``summary.json``,
means with 95 % t-intervals over seeds, and the claim rule (shown only where the interval
excludes zero)."""
import math
from typing import Dict, Optional, Sequence

#: Two-sided 95 % quantiles of Student's t for 1..30 degrees of freedom
#: (scipy.stats.t.ppf(0.975, df), to 7 digits; scipy is not needed at run time).
T975 = (12.7062047, 4.3026527, 3.1824463, 2.7764451, 2.5705818, 2.4469119, 2.3646243,
        2.3060041, 2.2621572, 2.2281389, 2.2009852, 2.1788128, 2.1603687, 2.1447867,
        2.1314495, 2.1199053, 2.1098156, 2.1009220, 2.0930241, 2.0859634, 2.0796138,
        2.0738731, 2.0686576, 2.0638986, 2.0595386, 2.0555294, 2.0518305, 2.0484071,
        2.0452296, 2.0422725)
#: Effects of one run: (key, label, task, metric, model, minus model, number format).
EFFECTS = (
    ('res_miou', 'RES mIoU, step 3 - control', 'RES', 'mIoU', 'step3', 'control', '{:+.2f}'),
    ('reg_oracle', 'REG oracle unambiguity (%), step 2 - step 1', 'REG', 'Oracle unamb.',
     'step2', 'step1', '{:+.1f}'),
    ('reg_rbacc', 'REG Rb-Acc, step 2 - step 1', 'REG', 'Rb-Acc', 'step2', 'step1', '{:+.1f}'),
    ('reg_cider', 'REG CIDEr, step 2 - step 1', 'REG', 'CIDEr', 'step2', 'step1', '{:+.3f}'),
    ('reg_meteor', 'REG METEOR, step 2 - step 1', 'REG', 'Meteor', 'step2', 'step1',
     '{:+.3f}'),
)
#: Levels of one run: (key, label, model, task, metric, number format).
LEVELS = (
    ('step1_miou', 'step 1 RES mIoU', 'step1', 'RES', 'mIoU', '{:.2f}'),
    ('control_miou', 'control RES mIoU', 'control', 'RES', 'mIoU', '{:.2f}'),
    ('step3_miou', 'step 3 RES mIoU', 'step3', 'RES', 'mIoU', '{:.2f}'),
    ('step1_named', 'step 1 REG names the shape (%)', 'step1', 'REG', 'Cat. named', '{:.1f}'),
    ('step1_oracle', 'step 1 REG oracle unambiguity (%)', 'step1', 'REG', 'Oracle unamb.',
     '{:.1f}'),
    ('step2_oracle', 'step 2 REG oracle unambiguity (%)', 'step2', 'REG', 'Oracle unamb.',
     '{:.1f}'),
)
# ---------------------------------------------------------------- statistics
def t_quantile(df: int) -> float:
    """The 97.5 % quantile of Student's t with ``df`` degrees of freedom (table up to 30,
    then the Cornish-Fisher expansion around the normal quantile, within 1e-5)."""
    if df < 1:
        raise ValueError(f'df must be >= 1, got {df}')
    if df <= len(T975):
        return T975[df - 1]
    z = 1.959963985
    return (z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3))


def mean_ci(values: Sequence[float]) -> dict:
    """Mean and two-sided 95 % t-interval of ``values``.

    Returns:
        dict: ``n``, ``mean``, ``sd`` (sample standard deviation), ``low`` and ``high``
        (None for fewer than 2 values), ``values``.
    """
    values = [float(v) for v in values]
    n = len(values)
    out = dict(n=n, values=values, mean=None, sd=None, low=None, high=None)
    if not n:
        return out
    mean = sum(values) / n
    out['mean'] = mean
    if n >= 2:
        sd = math.sqrt(sum((v - mean)**2 for v in values) / (n - 1))
        half = t_quantile(n - 1) * sd / math.sqrt(n)
        out.update(sd=sd, low=mean - half, high=mean + half)
    return out


def shown(stats: dict) -> bool:
    """Whether the 95 % interval excludes zero."""
    return stats.get('low') is not None and (stats['low'] > 0 or stats['high'] < 0)


def claim(stats: dict, fmt: str = '{:+.2f}') -> str:
    """"shown (+x, CI [a, b])" where the 95 % interval excludes zero, else "not shown"."""
    if not shown(stats):
        return 'not shown' + (f' (n = {stats["n"]})' if stats.get('n', 0) < 2 else '')
    return (f'shown ({fmt.format(stats["mean"])}, CI [{fmt.format(stats["low"])}, '
            f'{fmt.format(stats["high"])}])')


def paired_differences(a: Dict[int, float], b: Dict[int, float]) -> Dict[int, float]:
    """``a[seed] - b[seed]`` for the seeds in both."""
    return {seed: a[seed] - b[seed] for seed in sorted(set(a) & set(b))}


# ---------------------------------------------------------------- one run's figures
def run_figures(summary: dict) -> dict:
    """Effects and levels of one run from its ``summary.json`` (``results[model][task]
    [split][metric]``): per split and ``mean`` over the evaluation splits that have both."""
    results = summary['results']
    splits = list(summary['settings']['eval_splits'])

    def value(model, task, split, metric):
        return results.get(model, {}).get(task, {}).get(split, {}).get(metric)

    effects, levels = {}, {}
    for key, _, task, metric, a, b, _ in EFFECTS:
        per = {}
        for split in splits:
            va, vb = value(a, task, split, metric), value(b, task, split, metric)
            if va is not None and vb is not None:
                per[split] = va - vb
        if per:
            per['mean'] = sum(per.values()) / len(per)
        effects[key] = per
    for key, _, model, task, metric, _ in LEVELS:
        per = {s: value(model, task, s, metric) for s in splits}
        per = {s: v for s, v in per.items() if v is not None}
        if per:
            per['mean'] = sum(per.values()) / len(per)
        levels[key] = per
    return dict(effects=effects, levels=levels)


# ---------------------------------------------------------------- one run among the seeds
def place_in_study(summary: dict, study: dict, setting: str = 'default') -> Optional[dict]:
    """Where one run's effects and levels fall among a study's seeds.

    Args:
        summary (dict): The run's ``summary.json`` (``results``, ``settings``).
        study (dict): A study's ``study.json`` (``effects``, ``levels`` per setting).
        setting (str): The study's setting the run is compared with.

    Returns:
        dict | None: ``{key: dict(label, fmt, run, n, mean, low, high, min, max, rank)}``
        for every effect and level (``rank``: how many of the study's seeds lie below
        the run, of ``n``), or None when the study has no finished run of ``setting``.
    """
    if setting not in study.get('effects', {}):
        return None
    figures = run_figures(summary)
    out = {}
    for group, rows in (('effects', EFFECTS), ('levels', LEVELS)):
        for key, label, *_, fmt in rows:
            stats = study[group][setting].get(key)
            run = figures[group].get(key, {}).get('mean')
            if not stats or not stats.get('values') or run is None:
                continue
            values = stats['values']
            out[key] = dict(label=label, fmt=fmt, run=run, n=stats['n'], mean=stats['mean'],
                            low=stats['low'], high=stats['high'], min=min(values),
                            max=max(values), rank=sum(v < run for v in values))
    return out or None
