"""Where one main-job run falls among a seeded study's seeds (report section), by hand."""
import json
import os.path as osp
import sys

from mmrefmutual_bench.report import study_lines
from mmrefmutual_bench.study_stats import mean_ci, place_in_study

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tools'))
import run_embedded as embedded  # noqa: E402


def _summary(step3: float, control: float) -> dict:
    res = {'val': {'mIoU': None}}
    return dict(settings=dict(eval_splits=['val']), results=dict(
        step3=dict(RES={'val': {'mIoU': step3}}), control=dict(RES={'val': {'mIoU': control}}),
        step1=dict(RES=res)))


def _study(values):
    stats = dict(mean_ci(values), seeds=list(range(len(values))))
    return dict(effects=dict(default=dict(res_miou=stats)), levels=dict(default={}))


def test_a_run_is_placed_among_the_seeds():
    # study: step 3 - control of three seeds -1, 1, 3 (mean 1, sd 2, CI 1 +- 4.303 * 2 / sqrt 3)
    placed = place_in_study(_summary(52.0, 50.0), _study([-1.0, 1.0, 3.0]))
    res = placed['res_miou']
    assert res['run'] == 2.0 and res['n'] == 3 and res['mean'] == 1.0
    assert (res['min'], res['max'], res['rank']) == (-1.0, 3.0, 2)
    assert abs(res['high'] - (1 + 4.3026527 * 2 / 3**0.5)) < 1e-6
    assert list(placed) == ['res_miou']  # figures the study or the run lacks are left out
    text = '\n'.join(study_lines(placed, 'docs/study/default'))
    assert '3 seeds' in text and '| +2.00 |' in text and '2 of 3' in text
    assert '-1.00 to +3.00' in text
    # a run below every seed
    assert place_in_study(_summary(40.0, 50.0), _study([-1.0, 1.0, 3.0]))['res_miou'][
        'rank'] == 0


def test_no_study_of_that_setting_places_nothing():
    assert place_in_study(_summary(52.0, 50.0), dict(effects={}, levels={})) is None
    assert study_lines(None, 'x') == []


def test_the_main_job_compares_only_with_a_study_of_its_settings(tmp_path):
    full = embedded.resolve_settings(False, [])
    assert embedded.study_of(full, study_dir=str(tmp_path)) is None  # no study there
    study = dict(command='python tools/run_study.py --seeds 0 1 2 3 4',
                 settings=dict(default=[]), effects={}, levels={})
    with open(tmp_path / 'study.json', 'w') as f:
        json.dump(study, f)
    assert embedded.study_of(dict(full, seed=7, gate='record'), study_dir=str(tmp_path))
    assert embedded.study_of(dict(full, step2_iters=200), study_dir=str(tmp_path)) is None
    quick = embedded.resolve_settings(True, [])
    assert embedded.study_of(quick, study_dir=str(tmp_path)) is None


def test_the_committed_studies_serve_the_runs_of_their_settings():
    for items, name in (([], 'default'), (['variant=alt'], 'alt'),
                        (['variant=rough'], 'rough')):
        settings = dict(embedded.resolve_settings(False, items), seed=3)
        assert [d for d in embedded.STUDY_DIRS if embedded.study_of(settings, d)] == [
            osp.join('docs', 'study', name)]
    other = embedded.resolve_settings(False, ['step2_iters=200'])
    assert not [d for d in embedded.STUDY_DIRS if embedded.study_of(other, d)]
