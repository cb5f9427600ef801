"""Scoring of a study: H-Acc (the paper's Table 2), per-annotator accuracy, agreement,
intervals and the paired comparison of two models on the same objects.

A click is right iff its pixel (``floor(x), floor(y)``) lies in the target's
ground-truth *mask*; "can't tell" is wrong (as a click on no object or another object
is). H-Acc of a (split, model) = share of its expressions that every annotator got
right, over the items that all annotators answered (``n``; ``n_items`` is how many
there are, so an unfinished study says so).
"""
import csv
import io
import math
from itertools import combinations
from typing import List, Optional, Sequence, Tuple

import numpy as np

from .db import HUMAN, StudyDB
from .study import decode_rle

Z95 = 1.959963984540054


def wilson_interval(k: int, n: int, z: float = Z95) -> Tuple[float, float]:
    """Wilson score interval of a proportion k/n (95 % by default); (nan, nan) for n=0."""
    if n == 0:
        return float('nan'), float('nan')
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def cohen_kappa(a: Sequence[bool], b: Sequence[bool]) -> Optional[float]:
    """Cohen's kappa of two raters' binary verdicts; None when chance agreement is 1
    (both raters gave one and the same verdict throughout: kappa is undefined)."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    if len(a) == 0:
        return None
    p_o = float(np.mean(a == b))
    pa, pb = float(a.mean()), float(b.mean())
    p_e = pa * pb + (1 - pa) * (1 - pb)
    if p_e >= 1.0:
        return None
    return (p_o - p_e) / (1 - p_e)


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts b (A right, B wrong)
    and c (A wrong, B right): binomial test of min(b, c) under p = 1/2."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def paired_bootstrap(a: Sequence[bool], b: Sequence[bool], iters: int = 10000,
                     seed: int = 0) -> Tuple[float, float]:
    """95 % percentile interval of mean(a) - mean(b), objects resampled in pairs."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) == 0:
        return float('nan'), float('nan')
    idx = np.random.default_rng(seed).integers(0, len(a), size=(iters, len(a)))
    diffs = a[idx].mean(1) - b[idx].mean(1)
    return float(np.percentile(diffs, 2.5)), float(np.percentile(diffs, 97.5))


def click_correct(item: dict, response: Optional[dict], mask: np.ndarray) -> bool:
    """Whether an answer hits the item's target mask (no answer / can't tell: False)."""
    if response is None or response['cant_tell']:
        return False
    col, row = int(math.floor(response['x'])), int(math.floor(response['y']))
    return bool(0 <= row < mask.shape[0] and 0 <= col < mask.shape[1] and mask[row, col])


def verdicts(db: StudyDB) -> Tuple[List[dict], List[str]]:
    """Every item with ``correct[annotator]`` (None: not answered) and the annotators."""
    annotators = db.annotators()
    answers = {a: db.answered(a) for a in annotators}
    rows, masks = [], {}
    for item in db.items():
        if item['object_id'] not in masks:
            masks[item['object_id']] = decode_rle(item['mask_rle'])
        mask = masks[item['object_id']]
        item = {k: v for k, v in item.items() if k != 'mask_rle'}
        item['correct'] = {a: (click_correct(item, answers[a][item['item_id']], mask)
                               if item['item_id'] in answers[a] else None)
                           for a in annotators}
        rows.append(item)
    return rows, annotators


def _pct(x: float) -> float:
    return round(100 * x, 2)


def score_study(db: StudyDB) -> dict:
    """All figures of a study, keyed ``results[split][model]`` (model names shown).

    Returns:
        dict: ``settings``, ``annotators``, ``results`` (per split and model:
        ``n_items``, ``n``, ``h_acc`` and its Wilson ``h_acc_ci`` in percent,
        ``annotator_acc``, ``agreement`` (pairwise percent agreement and Cohen's kappa
        of the right/wrong verdicts), and ``paired``: per split, per pair of models,
        the objects both were judged on, the discordant counts, McNemar's exact p and a
        paired-bootstrap interval of the H-Acc difference).
    """
    rows, annotators = verdicts(db)
    settings = db.settings
    results, paired = {}, {}
    models = list(settings['models']) + ([HUMAN] if settings['human_control'] else [])
    for split in settings['splits']:
        results[split] = {}
        per_object = {}
        for model in models:
            mine = [r for r in rows if r['split'] == split and r['model'] == model]
            complete = [r for r in mine if all(v is not None for v in r['correct'].values())]
            all_right = [all(r['correct'].values()) for r in complete]
            k, n = int(sum(all_right)), len(complete)
            lo, hi = wilson_interval(k, n)
            entry = dict(n_items=len(mine), n=n, right=k,
                         h_acc=_pct(k / n) if n else None,
                         h_acc_ci=[_pct(lo), _pct(hi)] if n else None, annotator_acc={},
                         agreement={})
            for a in annotators:
                done = [r['correct'][a] for r in mine if r['correct'][a] is not None]
                entry['annotator_acc'][a] = dict(
                    n=len(done), acc=_pct(np.mean(done)) if done else None)
            for a, b in combinations(annotators, 2):
                both = [r for r in mine if r['correct'][a] is not None
                        and r['correct'][b] is not None]
                va = [r['correct'][a] for r in both]
                vb = [r['correct'][b] for r in both]
                kappa = cohen_kappa(va, vb)
                entry['agreement'][f'{a}|{b}'] = dict(
                    n=len(both), percent=_pct(np.mean(np.equal(va, vb))) if both else None,
                    kappa=None if kappa is None else round(kappa, 4))
            results[split][model] = entry
            per_object[model] = {r['object_id']: all(r['correct'].values()) for r in complete}
        paired[split] = {}
        for a, b in combinations(settings['models'], 2):
            common = sorted(set(per_object[a]) & set(per_object[b]))
            va = [per_object[a][o] for o in common]
            vb = [per_object[b][o] for o in common]
            n10 = sum(x and not y for x, y in zip(va, vb))
            n01 = sum(y and not x for x, y in zip(va, vb))
            lo, hi = paired_bootstrap(va, vb, seed=settings['seed'])
            paired[split][f'{a} vs {b}'] = dict(
                n=len(common), a_right_b_wrong=n10, a_wrong_b_right=n01,
                diff=_pct((n10 - n01) / len(common)) if common else None,
                diff_ci=[_pct(lo), _pct(hi)] if common else None,
                mcnemar_p=round(mcnemar_exact(n10, n01), 6))
    return dict(settings=settings, annotators=annotators, sources=db.sources(),
                results=results, paired=paired,
                complete=all(e['n'] == e['n_items'] for s in results.values()
                             for e in s.values()))


def format_table(scores: dict) -> str:
    """Table 2's layout: one row per model, one column per split, H-Acc (%) with its
    95 % interval; then agreement and the paired comparison, as Markdown."""
    splits = scores['settings']['splits']
    models = list(scores['results'][splits[0]]) if splits else []
    label = (lambda m: 'human reference (control)' if m == HUMAN else m)
    lines = ['| H-Acc (%) | ' + ' | '.join(splits) + ' |',
             '|---|' + '---|' * len(splits)]
    for m in models:
        cells = []
        for s in splits:
            e = scores['results'][s][m]
            cell = '-' if e['h_acc'] is None else (
                f"{e['h_acc']:.1f} [{e['h_acc_ci'][0]:.1f}, {e['h_acc_ci'][1]:.1f}]")
            if e['n'] != e['n_items']:
                cell += f" ({e['n']}/{e['n_items']} done)"
            cells.append(cell)
        lines.append(f'| {label(m)} | ' + ' | '.join(cells) + ' |')
    lines += ['', '| agreement: % / kappa | ' + ' | '.join(splits) + ' |',
              '|---|' + '---|' * len(splits)]
    for m in models:
        cells = []
        for s in splits:
            parts = []
            for pair, g in scores['results'][s][m]['agreement'].items():
                kappa = 'n/a' if g['kappa'] is None else f"{g['kappa']:.2f}"
                parts.append('-' if g['percent'] is None else f"{g['percent']:.0f} / {kappa}")
            cells.append('; '.join(parts) or '-')
        lines.append(f'| {label(m)} | ' + ' | '.join(cells) + ' |')
    pairs = sorted({p for s in splits for p in scores['paired'][s]})
    if pairs:
        lines += ['', '| paired: diff (%) [95 %], McNemar p | ' + ' | '.join(splits) + ' |',
                  '|---|' + '---|' * len(splits)]
        for p in pairs:
            cells = []
            for s in splits:
                e = scores['paired'][s][p]
                cells.append('-' if e['diff'] is None else
                             f"{e['diff']:+.1f} [{e['diff_ci'][0]:+.1f}, {e['diff_ci'][1]:+.1f}]"
                             f", p={e['mcnemar_p']:.3g} (n={e['n']})")
            lines.append(f'| {p} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def to_csv(scores: dict) -> str:
    """One row per (split, model): H-Acc, its interval and each annotator's accuracy."""
    out = io.StringIO()
    annotators = scores['annotators']
    writer = csv.writer(out)
    writer.writerow(['split', 'model', 'n_items', 'n', 'right', 'h_acc', 'h_acc_lo', 'h_acc_hi']
                    + [f'acc_{a}' for a in annotators])
    for split, by_model in scores['results'].items():
        for model, e in by_model.items():
            ci = e['h_acc_ci'] or [None, None]
            writer.writerow([split, model, e['n_items'], e['n'], e['right'], e['h_acc'], *ci]
                            + [e['annotator_acc'][a]['acc'] for a in annotators])
    return out.getvalue()
