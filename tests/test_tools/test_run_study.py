"""The study command (tools/run_study.py): its statistics against hand-computed values, effects
paired by seed from summary files, the learning gate and the low-label subset of
tools/run_embedded.py, and a 2-seed smoke of the whole command (the real study is not run
here)."""
import importlib.util
import json
import math
import os
import os.path as osp
import re
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tools'))
import run_embedded as embedded  # noqa: E402
import run_study as study  # noqa: E402

from mmrefmutual_bench import study_stats  # noqa: E402


def _small():
    spec = importlib.util.spec_from_file_location(
        'test_run_embedded_settings', osp.join(osp.dirname(__file__), 'test_run_embedded.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SMALL


SMALL = _small()
ENV = dict(os.environ, PYTHONPATH=REPO, HF_HUB_OFFLINE='1', TRANSFORMERS_OFFLINE='1',
           OMP_NUM_THREADS='1')


# ---------------------------------------------------------------- statistics
def test_t_interval_matches_hand_computed_values():
    # n = 2: [1, 3]: mean 2, sd sqrt(2), half width t(0.975, 1) * sqrt(2) / sqrt(2)
    two = study.mean_ci([1, 3])
    assert two['n'] == 2 and two['mean'] == 2 and math.isclose(two['sd'], math.sqrt(2))
    assert math.isclose(two['low'], 2 - 12.7062047, rel_tol=1e-7)
    assert math.isclose(two['high'], 2 + 12.7062047, rel_tol=1e-7)
    # n = 3: [1, 2, 3]: sd 1, half width 4.3026527 / sqrt(3) = 2.4841377
    three = study.mean_ci([1, 2, 3])
    assert math.isclose(three['low'], 2 - 2.4841377, abs_tol=1e-6)
    assert math.isclose(three['high'], 2 + 2.4841377, abs_tol=1e-6)
    # n = 5: [2, 4, 4, 4, 6]: sd sqrt(2), half width 2.7764451 * sqrt(2 / 5) = 1.7559781
    five = study.mean_ci([2, 4, 4, 4, 6])
    assert five['mean'] == 4 and math.isclose(five['sd'], math.sqrt(2))
    assert math.isclose(five['low'], 4 - 1.7559781, abs_tol=1e-6)
    assert math.isclose(five['high'], 4 + 1.7559781, abs_tol=1e-6)
    one = study.mean_ci([0.7])
    assert one['mean'] == 0.7 and one['low'] is None and one['high'] is None
    assert study.mean_ci([])['mean'] is None


def test_t_quantiles_agree_with_scipy():
    stats = pytest.importorskip('scipy.stats')
    for df in list(range(1, 31)) + [31, 40, 60, 120, 1000]:
        assert math.isclose(study_stats.t_quantile(df), stats.t.ppf(0.975, df), abs_tol=2e-5), df


def test_claims_only_where_the_interval_excludes_zero():
    assert study.claim(study.mean_ci([2, 4, 4, 4, 6])) == 'shown (+4.00, CI [+2.24, +5.76])'
    assert study.claim(study.mean_ci([-2, -4, -4, -4, -6])).startswith('shown (-4.00')
    assert study.claim(study.mean_ci([1, 2, 3])) == 'not shown'  # [-0.48, 4.48]
    assert study.claim(study.mean_ci([5.0])) == 'not shown (n = 1)'
    assert not study.shown(study.mean_ci([0, 0, 0]))


def test_paired_differences_take_seeds_present_in_both():
    assert study.paired_differences({0: 3.0, 1: 5.0, 2: 4.0}, {0: 1.0, 1: 2.0, 3: 9.0}) == {
        0: 2.0, 1: 3.0}


# ---------------------------------------------------------------- effects from summaries
def _results(step1_miou, control_miou, step3_miou, reg1, reg2):
    """summary.json results: RES per model, REG (oracle, Rb-Acc, CIDEr, Meteor) of steps
    1 and 2, on val and testA."""
    def reg(values):
        return dict(zip(('Oracle unamb.', 'Rb-Acc', 'CIDEr', 'Meteor', 'Cat. named'),
                        values + (90.0, )))

    return dict(
        step1=dict(RES={s: {'mIoU': v} for s, v in step1_miou.items()},
                   REG={s: reg(reg1) for s in step1_miou}),
        step2=dict(REG={s: reg(reg2) for s in step1_miou}),
        control=dict(RES={s: {'mIoU': v} for s, v in control_miou.items()}),
        step3=dict(RES={s: {'mIoU': v} for s, v in step3_miou.items()}))


def _write_summary(run, results):
    os.makedirs(osp.dirname(run.summary_file), exist_ok=True)
    settings = dict(run.settings, seed=run.seed, eval_splits=['val', 'testA'])
    with open(run.summary_file, 'w') as f:
        json.dump(dict(results=results, settings=settings), f)


def test_effects_are_paired_by_seed_from_the_summary_files(tmp_path, monkeypatch, capsys):
    """Effects of each run (step 3 - control, step 2 - step 1, mean of the splits), their
    statistics over seeds, the difference of two settings seed by seed; a re-run with every
    summary in place starts nothing."""
    monkeypatch.setitem(embedded.SETTINGS['full'], 'eval_splits', ('val', 'testA'))
    work = str(tmp_path / 'study')
    settings = {'default': [], 'rb': ['refer_back=true']}
    runs = study.build_runs(work, [0, 1, 2], settings, quick=False)
    by = {(r.setting, r.seed): r for r in runs}
    # step 3 - control per split: seed 0 (+1, +3) -> +2; seed 1 (0, +2) -> +1; seed 2 -> +3
    miou = {0: ((60, 62), (61, 65)), 1: ((50, 52), (50, 54)), 2: ((55, 55), (58, 58))}
    for seed, (control, step3) in miou.items():
        _write_summary(by['default', seed], _results(
            dict(val=40, testA=42), dict(val=control[0], testA=control[1]),
            dict(val=step3[0], testA=step3[1]), (30.0, 50.0, 1.0, 0.25),
            (70.0 - seed, 60.0, 1.1, 0.27)))
    # 'rb' (a step-3 setting: same work dir, same control); seeds 0 and 2 only
    assert by['rb', 0].work_dir == by['default', 0].work_dir
    assert by['rb', 0].summary_file != by['default', 0].summary_file
    for seed, delta in ((0, 1.0), (2, -1.0)):
        control, step3 = miou[seed]
        _write_summary(by['rb', seed], _results(
            dict(val=40, testA=42), dict(val=control[0], testA=control[1]),
            dict(val=step3[0] + delta, testA=step3[1] + delta), (30.0, 50.0, 1.0, 0.25),
            (70.0 - seed, 60.0, 1.1, 0.27)))
    out = study.write_study(work, runs, settings, [], False, 'test')
    agg = json.load(open(out['json']))
    res = agg['effects']['default']['res_miou']
    assert res['seeds'] == [0, 1, 2] and res['values'] == [2.0, 1.0, 3.0]
    assert res['n'] == 3 and res['mean'] == 2.0
    assert math.isclose(res['low'], 2 - 2.4841377, abs_tol=1e-6)  # sd 1, as [1, 2, 3]
    split = agg['splits']['default']['res_miou']
    assert split['val']['values'] == [1.0, 0.0, 3.0] and split['testA']['values'] == [
        3.0, 2.0, 3.0]
    oracle = agg['effects']['default']['reg_oracle']
    assert oracle['values'] == [40.0, 39.0, 38.0]
    assert math.isclose(agg['effects']['default']['reg_cider']['mean'], 0.1)
    assert math.isclose(agg['effects']['default']['reg_meteor']['mean'], 0.02)
    assert agg['effects']['default']['reg_rbacc']['values'] == [10.0] * 3
    assert agg['levels']['default']['control_miou']['values'] == [61.0, 51.0, 55.0]
    diff = agg['differences']['rb']['res_miou']
    assert diff['seeds'] == [0, 2] and diff['values'] == [1.0, -1.0] and diff['mean'] == 0
    assert agg['differences']['rb']['reg_oracle']['values'] == [0.0, 0.0]
    md = open(out['markdown']).read()
    assert 'not shown' in md and 'shown (+40.0' not in md  # oracle: 39 +- 2.48
    assert 'shown (+39.0, CI [+36.5, +41.5])' in md
    assert 'rb seed 1: not finished' in md
    assert 'smoke run' not in md
    html = open(out['html']).read()
    assert html.count('src="data:image/png;base64,') == 1 and '<table>' in html
    assert osp.getsize(out['effects']) > 0

    # every summary in place (rb seed 1 added): a re-run of the command starts nothing
    control, step3 = miou[1]
    _write_summary(by['rb', 1], _results(
        dict(val=40, testA=42), dict(val=control[0], testA=control[1]),
        dict(val=step3[0], testA=step3[1]), (30.0, 50.0, 1.0, 0.25), (69.0, 60.0, 1.1, 0.27)))
    monkeypatch.setattr(study, 'execute', lambda run: pytest.fail(f'{run.label} re-run'))
    assert study.main(['--work-dir', work, '--seeds', '0', '1', '2', '--settings',
                       'rb:refer_back=true']) == 0
    assert '6 done, 0 to do' in capsys.readouterr().out
    # a summary written with other settings is not a finished run
    changed = json.load(open(by['default', 2].summary_file))
    changed['settings']['step1_iters'] = 999
    json.dump(changed, open(by['default', 2].summary_file, 'w'))
    assert by['default', 2].summary() is None


def test_setting_parsing_and_run_dirs(tmp_path):
    assert study.parse_setting('alt:variant=alt,split_ratios=[0.4,0.3,0.15,0.15]') == (
        'alt', ['variant=alt', 'split_ratios=[0.4,0.3,0.15,0.15]'])
    with pytest.raises(ValueError):
        study.parse_setting('variant=alt')
    with pytest.raises(ValueError):
        study.Run(str(tmp_path), 'x', ['no_such_setting=1'], 0, False)
    alt = study.Run(str(tmp_path), 'alt', ['variant=alt'], 3, False)
    assert alt.work_dir == osp.join(str(tmp_path), 'runs', 'variant-alt', 'seed3')
    quick = study.Run(str(tmp_path), 'default', [], 0, True)
    assert quick.work_dir == osp.join(str(tmp_path), 'runs', 'quick_default', 'seed0')
    # a curve point runs beside its data's base run and reports in trainN/
    point = study.Run(str(tmp_path), 'train8', ['train_ref_images=8'], 0, True)
    assert point.work_dir == quick.work_dir
    assert point.summary_file == osp.join(quick.work_dir, 'train8', 'summary.json')


def test_curve_data_keeps_the_pool_and_the_evaluation_splits():
    full = embedded.resolve_settings(False, [])
    assert study.train_split_sizes(full) == (400, [300, 150, 150], 3000)
    assert study.curve_data(full, 400) == []  # the default data: the default runs
    more = embedded.resolve_settings(False, study.curve_data(full, 800))
    assert study.train_split_sizes(more) == (800, [300, 150, 150], 3000)
    # the generator's own split plan agrees
    from mmrefmutual_bench.synthetic.generator import _plan
    splits = [split for split, _ in _plan(more['num_images'], more['ref_image_ratio'],
                                          more['split_ratios'], 0)]
    assert [splits.count(s) for s in ('train', 'val', 'testA', 'testB', None)] == [
        800, 300, 150, 150, 3000]


# ---------------------------------------------------------------- run_embedded pieces
def test_default_phase_keys_are_those_of_the_former_job():
    """The new settings at their defaults change no phase key: a work dir of the former
    job is reused (keys computed with the former tools/run_embedded.py, seed 0)."""
    s = dict(embedded.resolve_settings(False, []), seed=0)
    lay = embedded.layout(s)
    key = embedded.Job._key
    assert key(None, 'step1', lay['base']) == 'a52552fd59e2b4d0cc04e07726a13bcc759256f5'
    assert key(None, 'step3', lay['step3_inputs']) == '31eba11a88d268098e27d72ff213b3fe12978531'
    rb = embedded.layout(dict(s, refer_back=True))
    assert key(None, 'step3_refer_back', rb['step3_inputs']) == (
        'b744efe60906b6d5c3fd25f19cb1fb3cdf62a0dd')
    assert lay['names']['step1'] == 'step1' and lay['report_dir'] == ''
    # a gate threshold is in no key; train_ref_images names the phases after step 0
    gated = embedded.layout(dict(s, gate_step1_named=99.0, gate='record'))
    assert gated['base'] == lay['base']
    few = embedded.layout(dict(s, train_ref_images=100))
    assert few['step0_inputs'] == lay['step0_inputs'] and few['base'] != lay['base']
    assert few['names']['step2'] == 'step2_train100' and few['report_dir'] == 'train100/'
    # the adaptive settings: left out of keys and summaries at their defaults only
    assert embedded.recorded(s) == {k: v for k, v in s.items()
                                    if k not in embedded.LATER_DEFAULTS}
    # refer-back as ranking: a step-3 variant of its own, steps 0-2 shared
    ranked = embedded.layout(dict(s, step3_candidates=6))
    assert ranked['base'] == lay['base'] and ranked['names']['step3'] == 'step3_candidates6'
    assert ranked['step3_inputs'] == dict(lay['base'], step3_filter='area', refer_back=False,
                                          step3_candidates=6, step3_from='step2')
    side = embedded.layout(dict(s, image_side=0))
    assert side['base'] == dict(lay['base'], image_side=0)
    assert side['step0_inputs'] != lay['step0_inputs']
    rounds = embedded.layout(dict(s, step0_rounds=2))
    assert rounds['base'] != lay['base'] and rounds['step0_inputs'] == lay['step0_inputs']


def _instances(root, sides):
    os.makedirs(osp.join(root, 'coco', 'annotations'))
    with open(osp.join(root, 'coco', 'annotations', 'instances_train2014.json'), 'w') as f:
        json.dump(dict(images=[dict(id=i, width=w, height=h) for i, (w, h) in
                               enumerate(sides)]), f)
    return str(root)


def test_image_side_comes_from_the_data(tmp_path):
    # median longest side 200 -> 224 (rounded up to a multiple of 32)
    root = _instances(tmp_path / 'a', [(144, 150), (200, 120), (224, 224)])
    assert embedded.data_image_side(root) == 224
    assert embedded.data_image_side(_instances(tmp_path / 'b', [(128, 128)] * 3)) == 128
    assert embedded.data_image_side(_instances(tmp_path / 'c', [(160, 100)] * 2)) == 160
    with pytest.raises(ValueError, match='no images'):
        embedded.data_image_side(_instances(tmp_path / 'd', []))
    for bad in ('image_side=100', 'image_side=16', 'step0_rounds=0'):
        with pytest.raises(ValueError):
            embedded.resolve_settings(False, [bad])


def test_resized_config_changes_the_synthetic_resizes_only(tmp_path):
    from mmengine.config import Config
    src = osp.join(embedded.CONFIGS, 'synthetic_step3_gensup_tiny.py')
    assert embedded.resized_config(src, 128, str(tmp_path)) == src  # its own side
    out = embedded.resized_config(src, 192, str(tmp_path))
    assert osp.dirname(out) == str(tmp_path)
    old, new = Config.fromfile(src), Config.fromfile(out)

    def resizes(cfg):
        found = []

        def walk(node, path):
            if isinstance(node, dict):
                if node.get('type') == 'Resize':
                    found.append((path, tuple(node['scale'])))
                for k, v in node.items():
                    walk(v, f'{path}.{k}')
            elif isinstance(node, (list, tuple)):
                for i, v in enumerate(node):
                    walk(v, f'{path}.{i}')

        walk(cfg.to_dict(), '')
        return dict(found)

    before, after = resizes(old), resizes(new)
    assert before.keys() == after.keys()
    changed = {p for p in before if before[p] != after[p]}
    assert changed and all(before[p] == (128, 128) and after[p] == (192, 192) for p in changed)
    assert all(before[p] == after[p] for p in before if before[p] != (128, 128))  # 416, 640...
    assert '.train_dataloader.dataset.pipeline.2' in changed
    assert new.image_size == 192
    assert {k: v for k, v in new.to_dict().items() if 'pipeline' not in k and 'dataloader'
            not in k and k not in ('image_size', 'custom_hooks', 'sized_pipelines')} == {
        k: v for k, v in old.to_dict().items() if 'pipeline' not in k and 'dataloader'
        not in k and k not in ('image_size', 'custom_hooks', 'sized_pipelines')}


def test_train_subset_is_nested_and_keeps_the_other_splits(tmp_path):
    refs = [dict(ref_id=i, ann_id=100 * img + 1, image_id=img, split=split,
                 sentences=[dict(sent_id=i, raw='a', sent='a', tokens=['a'])])
            for i, (img, split) in enumerate(
                [(img, 'train') for img in range(1, 21) for _ in range(2)]
                + [(30, 'val'), (31, 'testA'), (32, 'testB')])]
    src = str(tmp_path / 'refs.json')
    json.dump(refs, open(src, 'w'))
    kept = {}
    for n in (5, 10, 20):
        out = str(tmp_path / f'refs_{n}.json')
        info = embedded.write_train_subset(src, out, n, seed=3)
        assert info == dict(refs=out, images=n, train_images=20, train_refs=2 * n)
        got = json.load(open(out))['refs']
        kept[n] = {r['image_id'] for r in got if r['split'] == 'train'}
        assert len(kept[n]) == n
        assert [r['split'] for r in got if r['split'] != 'train'] == ['val', 'testA', 'testB']
        assert [r['ref_id'] for r in got] == sorted(r['ref_id'] for r in got)  # file order
    assert kept[5] < kept[10] < kept[20]
    other = embedded.write_train_subset(src, str(tmp_path / 'o.json'), 5, seed=4)
    assert {r['image_id'] for r in json.load(open(other['refs']))['refs']
            if r['split'] == 'train'} != kept[5]  # another seed, other images
    with pytest.raises(ValueError, match='20 train images'):
        embedded.write_train_subset(src, str(tmp_path / 'x.json'), 21, seed=3)


def _scalars(path, records):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write('\n'.join(json.dumps(r) for r in records) + '\n')
    return path


def test_gate_figures_and_verdicts(tmp_path, capsys):
    step0 = _scalars(str(tmp_path / 's0.json'), [
        dict(iter=20 * (i + 1), step=20 * (i + 1), loss_cls=3.0 - 0.1 * i) for i in range(20)])
    step1 = _scalars(str(tmp_path / 's1.json'), [
        dict(iter=10, step=10, loss_res=1.0), {'res/mIoU': 30.0, 'reg/category_named': 40.0},
        dict(iter=20, step=20, loss_res=0.5), {'res/mIoU': 55.0, 'reg/category_named': 85.0}])
    s = dict(embedded.resolve_settings(False, []), gate_step0_loss_cls=1.5,
             gate_step1_named=80.0, gate_step1_miou_chance=2.0)
    figures = embedded.gate_figures(s, step0, step1, chance=30.0)
    # the last tenth of 20 logged values: 1.2 and 1.1
    assert math.isclose(figures[0]['value'], 1.15) and figures[0]['passed'] is True
    assert figures[1]['value'] == 85.0 and figures[1]['passed'] is True
    # RES against 2 x chance = 60
    assert figures[2]['value'] == 55.0 and figures[2]['threshold'] == 60.0
    assert figures[2]['chance'] == 30.0 and figures[2]['passed'] is False
    with pytest.raises(SystemExit) as stop:
        embedded.check_gate(s, figures, str(tmp_path / 'gate.json'))
    assert stop.value.code == embedded.GATE_EXIT
    err = capsys.readouterr().err
    assert 'FAILED: step 1: RES mIoU (val, last validation; 2 x chance, 30.0' in err
    assert '>= 60 (setting gate_step1_miou_chance)' in err
    assert json.load(open(tmp_path / 'gate.json'))[2]['passed'] is False
    embedded.check_gate(dict(s, gate='record'), figures, str(tmp_path / 'gate.json'))
    assert 'FAILED' in capsys.readouterr().err  # said, and the job goes on
    # the same model on data whose chance level is lower passes
    assert embedded.gate_figures(s, step0, step1, chance=25.0)[2]['passed'] is True
    off = embedded.gate_figures(dict(s, gate_step1_miou_chance=0.0), step0, step1)
    assert off[2]['passed'] is None  # 0: that check is off
    with pytest.raises(ValueError, match='chance'):
        embedded.gate_figures(s, step0, step1)
    assert embedded.gate_figures(s, str(tmp_path / 'none.json'))[0]['passed'] is False


def test_chance_miou_from_the_masks(tmp_path):
    """Picking one of the image's objects at random: the mean IoU of the target with each,
    weighted by the expressions. Image 1: A = 10x10 square, B = A shifted by 5 px (IoU 1/3),
    C far away (IoU 0); image 2: D alone."""
    import pickle

    def square(x, y):
        return [[x, y, x + 10, y, x + 10, y + 10, x, y + 10]]

    root = tmp_path / 'data'
    (root / 'refcoco').mkdir(parents=True)
    anns = [dict(id=1, image_id=1, segmentation=square(0, 0)),
            dict(id=2, image_id=1, segmentation=square(5, 0)),
            dict(id=3, image_id=1, segmentation=square(30, 30)),
            dict(id=4, image_id=2, segmentation=square(0, 0))]
    with open(root / 'refcoco' / 'instances.json', 'w') as f:
        json.dump(dict(images=[dict(id=1, height=50, width=50),
                               dict(id=2, height=50, width=50)], annotations=anns), f)
    refs = [dict(ref_id=1, ann_id=1, image_id=1, split='val', sentences=[{}, {}]),
            dict(ref_id=2, ann_id=4, image_id=2, split='val', sentences=[{}]),
            dict(ref_id=3, ann_id=3, image_id=1, split='train', sentences=[{}])]
    with open(root / 'refcoco' / 'refs(unc).p', 'wb') as f:
        pickle.dump(refs, f)
    iou_ab = 50 / 150
    # ref 1 (2 sentences): mean(1, 1/3, 0); ref 2 (1 sentence): 1
    expected = 100 * (2 * (1 + iou_ab) / 3 + 1) / 3
    assert math.isclose(embedded.chance_miou(str(root)), expected, rel_tol=0.03)
    with pytest.raises(ValueError, match='no testA refs'):
        embedded.chance_miou(str(root), 'testA')


# ---------------------------------------------------------------- the command, in miniature
@pytest.fixture(scope='module')
def smoke(tmp_path_factory):
    work = str(tmp_path_factory.mktemp('study'))
    cmd = [sys.executable, osp.join(REPO, 'tools', 'run_study.py'), '--work-dir', work,
           '--seeds', '0', '1', '--quick', '--set'] + SMALL
    run = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=1200)
    return work, cmd, run


def test_study_smoke_writes_the_report_from_the_runs(smoke):
    work, _, run = smoke
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-4000:]
    assert re.search(r'2 runs \(2 seeds x 1 settings\): 0 done, 2 to do; expected wall '
                     r'time \d+ min', out), out[:2000]
    assert re.search(r'default seed 1: finished in [\d.]+ min', out)
    for name in ('study.md', 'study.html', 'study.json', 'effects.png'):
        assert osp.getsize(osp.join(work, name)) > 0, name
    md = open(osp.join(work, 'study.md')).read()
    assert 'A smoke run' in md and '## Effects, paired by seed' in md
    html = open(osp.join(work, 'study.html')).read()
    assert html.count('src="data:image/png;base64,') == 1
    agg = json.load(open(osp.join(work, 'study.json')))
    # the effects are those of the runs' own summaries (quick: val only), paired by seed
    res, oracle = [], []
    for seed in (0, 1):
        summary = json.load(open(study.Run(work, 'default', SMALL, seed, True).summary_file))
        r = summary['results']
        assert summary['settings']['seed'] == seed
        res.append(r['step3']['RES']['val']['mIoU'] - r['control']['RES']['val']['mIoU'])
        oracle.append(r['step2']['REG']['val']['Oracle unamb.']
                      - r['step1']['REG']['val']['Oracle unamb.'])
    assert agg['effects']['default']['res_miou']['values'] == pytest.approx(res)
    assert agg['effects']['default']['reg_oracle']['values'] == pytest.approx(oracle)
    assert agg['effects']['default']['res_miou']['n'] == 2


def test_study_rerun_redoes_nothing(smoke):
    _, cmd, first = smoke
    assert first.returncode == 0
    again = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, (again.stdout + again.stderr)[-3000:]
    assert '2 done, 0 to do' in again.stdout
    assert 'starting' not in again.stdout and 'run 1/' not in again.stdout


def test_curve_point_trains_on_fewer_refs_with_the_same_pool(smoke):
    """A point of the curve: the refs of 8 of the 16 train images, beside the seed's
    default run (its data and step 0 reused; 16 is the default run itself)."""
    work, _, first = smoke
    assert first.returncode == 0
    cmd = [sys.executable, osp.join(REPO, 'tools', 'run_study.py'), '--work-dir', work,
           '--seeds', '0', '--quick', '--curve', '8', '16', '--set'] + SMALL
    run = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=900)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-4000:]
    assert '2 done, 1 to do' in out  # default and train16 are the same finished run
    assert '[data] done before' in out and '[step0] done before' in out
    assert '[step1_train8] starting' in out
    seed0 = study.Run(work, 'default', SMALL, 0, True).work_dir
    kept = json.load(open(osp.join(seed0, 'phases.json')))['refs_train8']['outputs']
    # a point below the largest records the gate's verdict instead of stopping (fewer labels,
    # less learned); the largest point is the default run itself, gate unchanged
    assert json.load(open(osp.join(seed0, 'train8', 'summary.json')))['settings'][
        'gate'] == 'record'
    assert json.load(open(osp.join(seed0, 'summary.json')))['settings']['gate'] == 'stop'
    assert kept['images'] == 8 and kept['train_images'] == 16

    def grab(log, pattern):
        return re.search(pattern, open(osp.join(seed0, log)).read()).group(1)

    corpus = r'CIDEr-D corpus of (\d+) training refs'
    assert int(grab('step2_train8.log', corpus)) == kept['train_refs']
    assert int(grab('step2_train8.log', corpus)) < int(grab('step2.log', corpus))
    assert int(grab('step3_train8.log', r'training on (\d+) human')) < int(
        grab('step3.log', r'training on (\d+) human'))
    pool = r'described (\d+) instances of (\d+) images'
    assert re.search(pool, open(osp.join(seed0, 'step3_train8.log')).read()).groups() == \
        re.search(pool, open(osp.join(seed0, 'step3.log')).read()).groups()
    vocab = open(osp.join(seed0, 'step1_train8.log')).read()
    assert 'vocab_train8.txt' in vocab
    md = open(osp.join(work, 'study.md')).read()
    assert '## The low-label curve' in md and re.search(r'\| 8 \| 1 \|', md)
    assert osp.getsize(osp.join(work, 'curve.png')) > 0
    assert 'Training sees the human refs of 8 train images' in open(
        osp.join(seed0, 'train8', 'report.md')).read()


def test_second_round_goes_on_from_step3(smoke):
    """mutual_rounds=2: step 2 again from the step-3 model, step 3 again from that one and
    with its expressions, the control on from the control; round 1 is the finished run."""
    work, _, first = smoke
    assert first.returncode == 0
    seed0 = study.Run(work, 'default', SMALL, 0, True).work_dir
    cmd = [sys.executable, osp.join(REPO, 'tools', 'run_embedded.py'), '--quick',
           '--work-dir', seed0, '--set'] + SMALL + ['mutual_rounds=2']
    run = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    for name in ('step2', 'step3', 'control'):
        assert f'[{name}] done before' in run.stdout
        assert f'[{name}_round2] starting' in run.stdout
    state = json.load(open(osp.join(seed0, 'phases.json')))

    def ckpt(name):
        return state[name]['outputs']['checkpoint']

    def log(name):
        return open(osp.join(seed0, f'{name}.log')).read()
    assert f"load_from = '{ckpt('step3')}'" in log('step2_round2')
    assert f"load_from = '{ckpt('step2_round2')}'" in log('step3_round2')
    from mmrefmutual.engine.generation_supervision import PROVENANCE_KEY
    pseudo = json.load(open(osp.join(seed0, 'step3_round2', 'pseudo_refs.json')))
    assert pseudo[PROVENANCE_KEY]['checkpoint'] == ckpt('step2_round2')  # its expressions
    assert f"load_from = '{ckpt('control')}'" in log('control_round2')
    assert 'eval_step2_round2' in state and 'eval_step1' in state
    summary = json.load(open(osp.join(seed0, 'step3_round2', 'summary.json')))
    assert summary['settings']['mutual_rounds'] == 2
    assert 'the loop iterated, 2 rounds' in open(
        osp.join(seed0, 'step3_round2', 'report.md')).read()
    with pytest.raises(ValueError, match='mutual_rounds'):
        embedded.resolve_settings(True, ['mutual_rounds=2', 'step3_from=step0'])


def test_step0_trains_more_rounds_until_the_gate_passes(smoke):
    """Step 0's class loss above the gate's threshold: another round of step0_iters from
    the last checkpoint, up to step0_rounds; the gate then judges the last round."""
    work, _, first = smoke
    assert first.returncode == 0
    seed0 = study.Run(work, 'default', SMALL, 0, True).work_dir
    cmd = [sys.executable, osp.join(REPO, 'tools', 'run_embedded.py'), '--quick',
           '--work-dir', seed0, '--set'] + SMALL + ['gate_step0_loss_cls=0.001',
                                                    'step0_rounds=2']
    run = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300)
    assert run.returncode == embedded.GATE_EXIT, (run.stdout + run.stderr)[-3000:]
    assert '[step0] done before' in run.stdout  # the first round is the finished step 0
    assert '[step0_round2] starting' in run.stdout and 'step0_round3' not in run.stdout
    assert "load_from = '" + osp.join(seed0, 'step0', 'iter_4.pth') in open(
        osp.join(seed0, 'step0_round2.log')).read()
    assert '[gate] FAILED: step 0: Mask2Former class loss' in run.stderr
    assert '[step1' not in run.stdout
    assert json.load(open(osp.join(seed0, 'gate.json')))[0]['passed'] is False


def test_gate_stops_an_under_trained_quick_run(smoke):
    """The full job's thresholds on a few-iteration run: the job stops after step 1, says
    which figure failed and which threshold, and keeps its phases."""
    work, _, first = smoke
    assert first.returncode == 0
    seed0 = study.Run(work, 'default', SMALL, 0, True).work_dir
    full = embedded.SETTINGS['full']
    cmd = [sys.executable, osp.join(REPO, 'tools', 'run_embedded.py'), '--quick',
           '--work-dir', seed0, '--set'] + SMALL + [
        f'gate_step1_named={full["gate_step1_named"] or 80}',
        f'gate_step1_miou_chance={full["gate_step1_miou_chance"] or 1.5}']
    run = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300)
    assert run.returncode == embedded.GATE_EXIT, (run.stdout + run.stderr)[-3000:]
    assert "[gate] FAILED: step 1: REG names the target's shape" in run.stderr
    assert re.search(r'the threshold is >= [\d.]+ \(setting gate_step1_named\)', run.stderr)
    assert '[step1] done before' in run.stdout  # phases kept, nothing re-trained
    assert '[referee]' not in run.stdout and '[report]' not in run.stdout
    assert json.load(open(osp.join(seed0, 'gate.json')))[1]['passed'] is False
