"""The report of the embedded default (``tools/run_embedded.py``): tables in the paper's
layout, training curves and example overlays, as ``report.md`` and a self-contained
``report.html`` (images inlined).

(One report, one file: every section reads the same phase results and summary.)
"""
import json
import os.path as osp
import textwrap
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np
import pycocotools.mask as mask_utils

from mmrefmutual.datasets.safe_pickle import safe_load_pickle
from mmrefmutual.visualization import RefLocalVisualizer
from .markdown_html import write_markdown_and_html
from .study_stats import place_in_study

REG_COLUMNS = [('Meteor', 'Meteor', '{:.3f}'), ('CIDEr', 'CIDEr', '{:.3f}'),
               ('Rb-Acc', 'Rb-Acc', '{:.1f}'), ('Oracle unamb. %', 'Oracle unamb.', '{:.1f}'),
               ('Names the shape %', 'Cat. named', '{:.1f}')]
RES_COLUMNS = [('mIoU', 'mIoU', '{:.1f}'), ('oIoU', 'oIoU', '{:.1f}'),
               ('Pr@0.5', 'Pr@0.5', '{:.1f}'), ('Pr@0.7', 'Pr@0.7', '{:.1f}'),
               ('Pr@0.9', 'Pr@0.9', '{:.1f}'), ('REC acc', 'REC acc', '{:.1f}')]


def load_scalars(path: str) -> List[dict]:
    """mmengine's ``vis_data/scalars.json``: one JSON record per logged step.

    Validation records of an iteration-based loop carry ``step`` 0 (the epoch): they get
    the iteration of the training record before them."""
    if not path or not osp.isfile(path):
        return []
    records, last_iter = [], 0
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            record = json.loads(line)
            if 'iter' in record:
                last_iter = record['iter']
            else:
                record['step'] = last_iter
            records.append(record)
    return records


def _series(records: List[dict], key: str):
    pts = [(r['step'], r[key]) for r in records if key in r and 'step' in r]
    return [p[0] for p in pts], [p[1] for p in pts]


def plot_curves(runs: Dict[str, str], out_file: str) -> str:
    """Training curves: step-1 losses, REG grounding and RES on val during step 1, the
    step-2 reward and its parts, the RES loss of step 3 against its control."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    logs = {name: load_scalars(path) for name, path in runs.items()}
    fig, axes = plt.subplots(1, 4, figsize=(20, 4.2))
    panels = [
        (axes[0], 'step 1: training losses', [
            ('step1', 'loss_res', 'RES (loss_res)'), ('step1', 'loss_reg', 'REG (loss_reg / 10)'),
            ('step1', 'loss_dice', 'Mask2Former dice'), ('step1', 'loss_mask', 'Mask2Former mask')]),
        (axes[1], 'step 1: on val during training (%)', [
            ('step1', 'reg/category_named', 'REG names the target\'s shape'),
            ('step1', 'reg/oracle_unambiguity', 'REG unambiguous (oracle)'),
            ('step1', 'res/mIoU', 'RES mIoU'), ('step1', 'res/Pr@0.5', 'RES Pr@0.5')]),
        (axes[2], 'step 2: reward of the beam samples', [
            ('step2', 'reward', 'reward (4 unamb. + CIDEr)'),
            ('step2', 'reward_unambiguity', 'unambiguity softmax(S/2.5)_k'),
            ('step2', 'reward_cider', 'CIDEr-D'),
            ('step2', 'reward_target_wins', 'share: target wins the softmax')]),
        (axes[3], 'step 3 vs control: RES loss', [
            ('step3', 'loss_res', 'step 3: mean over human and 0.1-weighted pseudo rows\n'
                                  '(lower by construction: compare shapes, not levels)'),
            ('control', 'loss_res', 'control (human refs only)')]),
    ]
    for ax, title, lines in panels:
        for run, key, label in lines:
            xs, ys = _series(logs.get(run, []), key)
            if key == 'loss_reg':
                ys = [y / 10 for y in ys]
            if xs:
                ax.plot(xs, ys, marker='o' if len(xs) < 15 else None, label=label)
        ax.set_title(title)
        ax.set_xlabel('iteration')
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_file, dpi=90)
    plt.close(fig)
    return out_file


def _load_json(path: str, default):
    if path and osp.isfile(path):
        with open(path) as f:
            return json.load(f)
    return default


def _ann_mask(ann: dict, h: int, w: int) -> np.ndarray:
    seg = ann['segmentation']
    rle = mask_utils.merge(mask_utils.frPyObjects(seg, h, w)) if isinstance(seg, list) else seg
    if isinstance(rle.get('counts'), str):
        rle = dict(rle, counts=rle['counts'].encode())
    return mask_utils.decode(rle).astype(bool)


def pick_examples(data_root: str, evals: Dict[str, dict], split: str = 'val',
                  num: int = 8) -> List[dict]:
    """Referred objects of ``split`` with their step-1 / step-2 expressions and the RES
    masks of step 3 and of the control for one human expression: mostly the first ones,
    plus failures (an ambiguous step-2 expression, a RES miss)."""
    from .synthetic import SyntheticOracle
    ann_file = osp.join(data_root, 'refcoco', 'instances.json')
    oracle = SyntheticOracle(ann_file)
    reg = {name: {r['ref_id']: r for r in _load_json(
        osp.join(evals[name]['dir'], f'expressions_{split}.reg_expressions.json'), [])}
        for name in ('step1', 'step2') if name in evals}
    res = {name: {r['sent_id']: r for r in _load_json(
        osp.join(evals[name]['dir'], f'res_{split}.res_masks.json'), [])}
        for name in ('step3', 'control') if name in evals}
    refs_file = osp.join(data_root, 'refcoco', 'refs(unc).p')
    refs = {r['ref_id']: r for r in safe_load_pickle(refs_file) if r['split'] == split}
    candidates = []
    for ref_id, ref in refs.items():
        sent_id = ref['sentences'][0]['sent_id']
        if not all(ref_id in table for table in reg.values()) or \
                not all(sent_id in table for table in res.values()):
            continue
        ex = dict(ref_id=ref_id, ann_id=ref['ann_id'], image_id=ref['image_id'],
                  human=ref['sentences'][0]['sent'])
        for name, table in reg.items():
            ex[name] = table[ref_id]['expression']
            ex[name + '_ok'] = oracle.is_unambiguous(ref['image_id'], ex[name], ref['ann_id'])
        for name, table in res.items():  # RES of the first human expression
            ex[name] = table[sent_id]
        candidates.append(ex)
    if not candidates:
        return []
    picked, images = [], set()
    for ex in candidates:  # one object per image
        if ex['image_id'] not in images and len(picked) < num - 2:
            picked.append(ex)
            images.add(ex['image_id'])
    rest = [c for c in candidates if c['image_id'] not in images]
    fails = [c for c in rest if not c.get('step2_ok', True)][:1]
    fails += [c for c in rest if c.get('step3', {}).get('iou', 1) < 0.5
              and c['image_id'] not in {f['image_id'] for f in fails}][:1]
    return picked + fails


def _contours(mask: np.ndarray) -> List[np.ndarray]:
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    return [c[:, 0, :].astype(np.float32) for c in contours if len(c) >= 3]


def draw_examples(data_root: str, examples: List[dict], out_file: str, scale: int = 3) -> str:
    """Upscaled images with the target's contour (green), step 3's RES mask for the
    human expression (whitened, magenta contour) and a caption strip under each image."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    with open(osp.join(data_root, 'refcoco', 'instances.json')) as f:
        coco = json.load(f)
    images = {img['id']: img for img in coco['images']}
    anns = {a['id']: a for a in coco['annotations']}
    cols = 4
    rows = max(1, (len(examples) + cols - 1) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 6.6 * rows))
    vis = RefLocalVisualizer()
    for ax, ex in zip(np.atleast_1d(axes).ravel(), examples):
        img_info = images[ex['image_id']]
        h, w = img_info['height'], img_info['width']
        img = cv2.imread(osp.join(data_root, 'coco', 'train2014', img_info['file_name']))
        big = cv2.resize(img[..., ::-1], (w * scale, h * scale), interpolation=cv2.INTER_NEAREST)
        vis.set_image(big)
        target = cv2.resize(_ann_mask(anns[ex['ann_id']], h, w).astype(np.uint8),
                            (w * scale, h * scale), interpolation=cv2.INTER_NEAREST)
        vis.draw_polygons(_contours(target), edge_colors=(20, 230, 60), line_widths=4)
        if 'step3' in ex:
            seg = ex['step3']['segmentation']
            pred = mask_utils.decode(dict(seg, counts=seg['counts'].encode()))
            pred = cv2.resize(pred.astype(np.uint8), (w * scale, h * scale),
                              interpolation=cv2.INTER_NEAREST)
            vis.draw_binary_masks(pred[None].astype(bool), colors=[(255, 255, 255)],
                                  alphas=0.35)
            vis.draw_polygons(_contours(pred), edge_colors=(255, 0, 200), line_widths=2)
        ax.imshow(vis.get_image())
        ax.set_xticks([])
        ax.set_yticks([])
        mark = (lambda ok: 'ok' if ok else 'AMBIGUOUS')
        lines = [f'human: "{ex["human"]}"']
        for name, label in (('step1', 'REG step 1'), ('step2', 'REG step 2')):
            if name in ex:
                lines.append(f'{label}: "{ex[name]}" [{mark(ex[name + "_ok"])}]')
        for name, label in (('step3', 'RES step 3 (magenta)'), ('control', 'RES control')):
            if name in ex:
                lines.append(f'{label}: IoU {ex[name]["iou"]:.2f}')
        wrapped = '\n'.join(textwrap.fill(line, 44, subsequent_indent='  ') for line in lines)
        ax.set_xlabel(wrapped, fontsize=9, family='monospace', loc='left')
    for ax in np.atleast_1d(axes).ravel()[len(examples):]:
        ax.axis('off')
    fig.suptitle('green: the referred object; magenta: the mask RES (step 3) gives for the '
                 'human expression',
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(out_file, dpi=80)
    plt.close(fig)
    return out_file


def _table(rows: List[List[str]]) -> str:
    out = ['| ' + ' | '.join(rows[0]) + ' |', '|' + '---|' * len(rows[0])]
    out += ['| ' + ' | '.join(r) + ' |' for r in rows[1:]]
    return '\n'.join(out)


def _fmt(value: Optional[float], fmt: str) -> str:
    return '-' if value is None else fmt.format(value)


def results_tables(results: Dict[str, dict], splits: Sequence[str]) -> Dict[str, str]:
    """Markdown REG and RES tables (rows: split x step) from ``test_results.json`` dicts."""
    reg = [['split', 'model'] + [c[0] for c in REG_COLUMNS]]
    for split in splits:
        for name, label in (('step1', 'step 1 (REG without disambiguation supervision)'),
                            ('step2', 'step 2 (+ disambiguation supervision)')):
            values = results.get(name, {}).get('REG', {}).get(split)
            if values:
                reg.append([split, label] + [_fmt(values.get(c[1]), c[2]) for c in REG_COLUMNS])
    res = [['split', 'model'] + [c[0] for c in RES_COLUMNS]]
    for split in splits:
        for name, label in (('step1', 'step 1'),
                            ('control', 'control (step 3 iterations, human refs only)'),
                            ('step3', 'step 3 (+ generation supervision)')):
            values = results.get(name, {}).get('RES', {}).get(split)
            if values:
                res.append([split, label] + [_fmt(values.get(c[1]), c[2]) for c in RES_COLUMNS])
    return dict(REG=_table(reg), RES=_table(res))


def effects(results: Dict[str, dict], splits: Sequence[str]) -> Dict[str, dict]:
    """Per split and on average: step 2 - step 1 (REG) and step 3 - control (RES)."""
    def delta(a, b, task, key):
        out = {}
        for split in splits:
            va = results.get(a, {}).get(task, {}).get(split, {}).get(key)
            vb = results.get(b, {}).get(task, {}).get(split, {}).get(key)
            if va is not None and vb is not None:
                out[split] = va - vb
        if out:
            out['mean'] = float(np.mean(list(out.values())))
        return out

    return {
        'REG Rb-Acc (step 2 - step 1)': delta('step2', 'step1', 'REG', 'Rb-Acc'),
        'REG oracle unambiguity (step 2 - step 1)': delta('step2', 'step1', 'REG',
                                                          'Oracle unamb.'),
        'REG CIDEr (step 2 - step 1)': delta('step2', 'step1', 'REG', 'CIDEr'),
        'RES mIoU (step 3 - control)': delta('step3', 'control', 'RES', 'mIoU'),
        'RES Pr@0.5 (step 3 - control)': delta('step3', 'control', 'RES', 'Pr@0.5'),
    }


def _effect_sentence(name: str, values: dict) -> str:
    if not values:
        return f'- {name}: not measured'
    mean = values['mean']
    shown = round(mean, 2)  # the sign of what is printed
    sign = 'better' if shown > 0 else 'worse' if shown < 0 else 'unchanged'
    per_split = ', '.join(f'{k} {v:+.2f}' for k, v in values.items() if k != 'mean')
    return f'- {name}: **{mean:+.2f}** on average ({sign}; {per_split})'


def _step3_variant(settings: dict) -> str:
    """The instance filter and refer-back setting of step 3, in words."""
    kept = {'area': 'the generated refs of instances of area >= 32^2 px',
            'random': 'as many randomly chosen instances as the area filter would keep',
            'none': 'every unannotated instance'}[settings.get('step3_filter', 'area')]
    back = (', and only the expressions the step-2 selection head grounds back to their '
            'instance' if settings.get('refer_back') else '')
    retrain = (", re-training the whole network from step 0 with step 1's recipe as the paper "
               'does (its control is step 1: same initialisation and iterations, human refs '
               'only)' if settings.get('step3_from') == 'step0' else '')
    ranked = (f', choosing the 3 expressions of {settings["step3_candidates"]} beams that the '
              'step-2 selection head grounds back with the largest margin'
              if settings.get('step3_candidates') else '')
    rounds = settings.get('mutual_rounds', 1)
    loop = (f'; the loop iterated, {rounds} rounds (step 2 again from the step-3 model, then '
            'step 3 again from that one, with its expressions; the control trains on human '
            f'refs as many iterations): the figures of steps 2 and 3 are round {rounds}\'s'
            if rounds > 1 else '')
    return kept + ranked + back + retrain + loop


def gate_lines(gate: Sequence[dict]) -> List[str]:
    """Markdown section of the learning gate (figures of ``run_embedded.gate_figures``)."""
    if not gate:
        return []
    rows = [['figure', 'value', 'threshold', 'verdict']]
    for g in gate:
        verdict = 'off' if g['passed'] is None else 'passed' if g['passed'] else '**FAILED**'
        rows.append([g['figure'], _fmt(g['value'], '{:.2f}'),
                     f'{g["rule"]} {g["threshold"]:g}' if g['threshold'] else 'off', verdict])
    failed = any(g['passed'] is False for g in gate)
    return ['## Learning gate: did steps 0 and 1 learn enough?', '', _table(rows), '',
            ('**The gate failed: steps 2 and 3 ran on a model that had not learned enough; '
             'their effects below say little.**' if failed else
             'Steps 2 and 3 build on what steps 0 and 1 learned: the job stops when a check '
             'fails (thresholds: the gate_* settings of tools/run_embedded.py).'), '']


def _subset_sentence(settings: dict) -> str:
    n = settings.get('train_ref_images')
    return (f' Training sees the human refs of {n} train images only (the low-label curve); '
            'the other train images are neither trained on nor in the pool, the pool and the '
            'evaluation splits are those of the full data.' if n else '')


def study_lines(placement: Optional[dict], study_name: str) -> List[str]:
    """The section that places this run among the seeds of a study of its settings."""
    if not placement:
        return []
    rows = [['figure', 'this run', 'study: mean [95 % CI]', 'study: seeds (min to max)',
             'seeds below this run']]
    for p in placement.values():
        fmt = p['fmt']
        ci = (f' [{fmt.format(p["low"])}, {fmt.format(p["high"])}]'
              if p['low'] is not None else '')
        rows.append([p['label'], fmt.format(p['run']), fmt.format(p['mean']) + ci,
                     f'{fmt.format(p["min"])} to {fmt.format(p["max"])}',
                     f'{p["rank"]} of {p["n"]}'])
    n = max(p['n'] for p in placement.values())
    return [f'## This run among the seeded study ({study_name}, {n} seeds)', '',
            'One run is one draw: the study runs this job\'s settings for several seeds '
            '(data and initialisation), and only its intervals support a claim.', '',
            _table(rows), '']


def adapted_lines(adapted: Optional[dict]) -> List[str]:
    """What the job chose from its data, in one paragraph (nothing without ``adapted``)."""
    if not adapted:
        return []
    side = (f'images resized to {adapted["image_side"]} px (the median longest side of the '
            'data\'s images, rounded up to a multiple of 32)' if adapted['image_side_from_data']
            else f'images resized to {adapted["image_side"]} px (setting image_side)')
    n, most = adapted['step0_rounds'], adapted['step0_max_rounds']
    rounds = (f'step 0 ran {n} round{"s" if n > 1 else ""} of {adapted["step0_iters"]} '
              'iterations' + ('' if n == 1 else
                              ' (each from the last, while its class loss stayed above the '
                              'gate\'s threshold' + (', up to its limit' if n == most else '')
                              + ')'))
    return [f'**Adapted to the data:** {side}; {rounds}.', '']


def write_report(work_dir: str, data_root: str, runs: Dict[str, dict], evals: Dict[str, dict],
                 budget: Dict[str, float], peak_rss_gib: float, settings: dict,
                 gate: Optional[Sequence[dict]] = None, study: Optional[dict] = None,
                 study_name: str = '', adapted: Optional[dict] = None) -> dict:
    """Write ``report.md``, ``report.html`` and the PNGs into ``work_dir``.

    Args:
        gate (Sequence[dict], optional): The learning gate's figures (``figure``,
            ``value``, ``rule``, ``threshold``, ``passed``), shown in a section of their own.
        study (dict, optional): ``study.json`` of a seeded study of these settings: the
            report says where this run falls among its seeds (:func:`place_in_study`).
        study_name (str): How the report names that study (its folder).
        adapted (dict, optional): What the job chose from its data (``image_side``,
            ``image_side_from_data``, ``step0_rounds`` of at most ``step0_max_rounds``,
            ``step0_iters`` each), said under the budget and kept in the summary.

    Returns:
        dict: paths of ``markdown``, ``html``, ``curves``, ``examples`` and ``summary``
        (the tables and effects as JSON).
    """
    splits = list(settings['eval_splits'])
    results = {name: _load_json(ev['results'], {}) for name, ev in evals.items()}
    curves = plot_curves({name: run.get('scalars') for name, run in runs.items()},
                         osp.join(work_dir, 'curves.png'))
    examples = pick_examples(data_root, evals, split=splits[0])
    example_png = draw_examples(data_root, examples, osp.join(work_dir, 'examples.png'))
    tables = results_tables(results, splits)
    found = effects(results, splits)
    record = dict(results=results, effects=found, budget=budget, peak_rss_gib=peak_rss_gib,
                  settings=settings, gate=list(gate or []))
    if adapted:
        record['adapted'] = adapted
    placement = place_in_study(record, study) if study else None
    total = sum(budget.values())
    budget_line = (f'wall time {total / 60:.1f} min (' + ', '.join(
        f'{k} {v:.0f} s' for k, v in budget.items()) + f'); peak RSS {peak_rss_gib:.2f} GiB')
    md = [
        '# mmrefmutual: the embedded default', '',
        f'Synthetic referring benchmark, low-label setting: {settings["num_images"]} images, '
        f'{settings["ref_image_ratio"]:.0%} with human refs (train / val / testA / testB = '
        f'{" / ".join(f"{r:.0%}" for r in settings["split_ratios"])} of those), the rest '
        'form the pool of unannotated instances for generation supervision. Iterations: '
        f'step 1 {settings["step1_iters"]}, referee {settings["referee_iters"]}, step 2 '
        f'{settings["step2_iters"]}, ' + (
            f'step 3 {settings["step1_iters"]}' if settings.get('step3_from') == 'step0' else
            f'step 3 and its control {settings["step3_iters"]} each') +
        f' (seed {settings["seed"]}). Step 3 keeps '
        + _step3_variant(settings) + '.' + _subset_sentence(settings), '',
        f'**Budget:** {budget_line}.', '',
        *adapted_lines(adapted),
        *gate_lines(gate or []),
        '## The two directions of mutual supervision, measured', '',
        _effect_sentence('Disambiguation supervision, REG Rb-Acc (step 2 - step 1)',
                         found['REG Rb-Acc (step 2 - step 1)']),
        _effect_sentence('Disambiguation supervision, REG oracle unambiguity',
                         found['REG oracle unambiguity (step 2 - step 1)']),
        _effect_sentence('Disambiguation supervision, REG CIDEr', found['REG CIDEr (step 2 - step 1)']),
        _effect_sentence('Generation supervision, RES mIoU (step 3 - control)',
                         found['RES mIoU (step 3 - control)']),
        _effect_sentence('Generation supervision, RES Pr@0.5', found['RES Pr@0.5 (step 3 - control)']),
        '',
        'Rb-Acc: a selection head trained apart on the frozen step-1 proposals (the referee) '
        'grounds the generated expression to its object. Oracle unambiguity: the benchmark\'s '
        'grammar says the expression fits exactly its object. "Names the shape": its head noun '
        'is the object\'s shape. The control trains the step-3 iterations from the same '
        'checkpoint on the human refs only.', '',
        *study_lines(placement, study_name),
        '## REG (paper Table 1 / 3 layout)', '', tables['REG'], '',
        '## RES (paper Table 4 / 6 layout)', '', tables['RES'], '',
        '## Training curves', '', '![curves](curves.png)', '',
        '## Examples (val)', '', '![examples](examples.png)', '',
    ]
    md_file, html_file = write_markdown_and_html(md, work_dir, 'report', 'mmrefmutual report')
    summary = osp.join(work_dir, 'summary.json')
    with open(summary, 'w') as f:
        json.dump(dict(record, study=dict(name=study_name, placement=placement)
                       if placement else None), f, indent=1)
    return dict(markdown=md_file, html=html_file, curves=curves, examples=example_png,
                summary=summary)
