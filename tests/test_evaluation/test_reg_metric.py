import json
import os.path as osp
import shutil
import subprocess
import sys

import pytest
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.meteor.meteor import Meteor
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

from mmrefmutual.evaluation import REGMetric
from mmrefmutual.registry import METRICS

# --import-mode=importlib: the helpers are found through sys.path (spawned workers too)
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from eval_samples import (RB_EXPECTED, make_reg_samples, run_metric,  # noqa: E402
                          single_process_reg_metrics)

needs_java = pytest.mark.skipif(shutil.which('java') is None, reason='needs a Java runtime')


def _direct_inputs(key: str):
    """pycocoevalcap inputs keyed by ``ref_id`` (ours) or ``image_id`` with one caption
    per image (what mmdet's COCOCaptionMetric does)."""
    gts, res = {}, {}
    for sample in make_reg_samples():
        refs, preds = sample['gt_refs'], sample['pred_refs']
        for j, ref_id in enumerate(refs['ref_ids'].tolist()):
            k = ref_id if key == 'ref_id' else sample['img_id']
            gts.setdefault(k, []).extend({'caption': s} for s in refs['sentences'][j])
            res.setdefault(k, [{'caption': preds['texts'][j]}])  # first one per key
    tokenizer = PTBTokenizer()
    return tokenizer.tokenize(gts), tokenizer.tokenize(res)


@needs_java
def test_reg_metric_equals_pycocoevalcap_keyed_by_ref_id():
    metrics = single_process_reg_metrics()
    gts, res = _direct_inputs('ref_id')
    assert len(gts) == 9  # every referred object, 5 images
    meteor = Meteor()
    meteor_score = meteor.compute_score(gts, res)[0]
    del meteor
    cider_score = Cider().compute_score(gts, res)[0]
    assert metrics['reg/METEOR'] == pytest.approx(meteor_score, abs=1e-9)
    assert metrics['reg/CIDEr'] == pytest.approx(cider_score, abs=1e-9)
    # Scoring keyed by image_id (one expression per image) gives another number: this
    # test fails if the metric keys by image.
    img_gts, img_res = _direct_inputs('image_id')
    assert len(img_gts) == 5
    assert abs(Cider().compute_score(img_gts, img_res)[0] - metrics['reg/CIDEr']) > 0.05


@needs_java
def test_reg_metric_rb_acc_and_dump():
    metrics = single_process_reg_metrics()
    assert metrics['reg/Rb-Acc'] == pytest.approx(RB_EXPECTED)
    with open(metrics['_outfile']) as f:
        records = json.load(f)
    assert [r['ref_id'] for r in records] == [10, 11, 20, 30, 31, 32, 40, 50, 51]
    assert records[1] == dict(ref_id=11, ann_id=110, image_id=1, expression='woman in red shirt')


def test_reg_metric_one_entry_per_sample_and_dedup():
    metric = METRICS.build(dict(type='REGMetric'))
    samples = make_reg_samples()
    metric.process({}, samples)
    assert len(metric.results) == len(samples)
    records = metric._flatten(metric.results + metric.results[:1])  # padded duplicate
    assert [r['ref_id'] for r in records] == [10, 11, 20, 30, 31, 32, 40, 50, 51]
    assert records[0]['references'] == ['man on the left', 'left guy']
    assert records[0]['image_id'] == 1


def test_reg_metric_without_rb_correct(monkeypatch):
    # scores are replaced to check the optional entries without starting Java
    monkeypatch.setattr(REGMetric, 'caption_scores',
                        staticmethod(lambda records: dict(METEOR=0.0, CIDEr=0.0)))
    samples = make_reg_samples()
    for s in samples:
        del s['pred_refs']['rb_correct']
    metrics = run_metric(REGMetric(), samples)
    assert set(metrics) == {'reg/METEOR', 'reg/CIDEr'}


def _no_subprocess(*args, **kwargs):
    raise AssertionError('a subprocess was started before checking for java')


def test_missing_java_at_build(monkeypatch):
    monkeypatch.setattr(shutil, 'which', lambda *args, **kwargs: None)
    with pytest.raises(RuntimeError, match='apt-get install default-jre-headless'):
        REGMetric()


def test_missing_java_at_evaluation(monkeypatch):
    metric = REGMetric()
    metric.process({}, make_reg_samples())
    monkeypatch.setattr(shutil, 'which', lambda *args, **kwargs: None)
    monkeypatch.setattr(subprocess, 'Popen', _no_subprocess)
    with pytest.raises(RuntimeError, match='no `java` executable was found'):
        metric.evaluate(5)
