"""SyntheticOracleMetric beside REGMetric: the same names, values and order as when the
oracle was an option of REGMetric (the reports read them by name)."""
import os.path as osp
import pickle
import shutil
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.evaluator import Evaluator

from mmrefmutual.evaluation import REGMetric, dump_results_json
from mmrefmutual.registry import METRICS
from mmrefmutual_bench import SyntheticOracleMetric

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# --import-mode=importlib: the helpers are found through sys.path
sys.path.insert(0, osp.join(REPO, 'tests', 'test_evaluation'))
from eval_samples import (CATEGORY_EXPECTED, ORACLE_EXPECTED, FakeOracleMetric,  # noqa: E402
                          make_reg_samples, reg_sample, run_metric,
                          single_process_reg_metrics)

REG_KEYS = ['reg/METEOR', 'reg/CIDEr', 'reg/Rb-Acc', 'reg/oracle_unambiguity',
            'reg/category_named']


@pytest.mark.skipif(shutil.which('java') is None, reason='needs a Java runtime')
def test_reg_and_oracle_metrics_merge_in_order():
    metrics = {k: v for k, v in single_process_reg_metrics().items() if k != '_outfile'}
    assert list(metrics) == REG_KEYS
    assert metrics['reg/oracle_unambiguity'] == pytest.approx(ORACLE_EXPECTED)
    assert metrics['reg/category_named'] == pytest.approx(CATEGORY_EXPECTED)
    table = dump_results_json({'val': metrics})
    assert list(table['REG']['val']) == ['Meteor', 'CIDEr', 'Rb-Acc', 'Oracle unamb.',
                                         'Cat. named']


def test_oracle_metric_one_entry_per_sample():
    metric = FakeOracleMetric(ann_file='fake.json')
    samples = make_reg_samples()
    metric.process({}, samples)
    assert len(metric.results) == len(samples)
    # padded duplicate (mmengine's sampler): scored once
    metrics = metric.compute_metrics(metric.results + metric.results[:1])
    assert metrics == dict(oracle_unambiguity=pytest.approx(ORACLE_EXPECTED),
                           category_named=pytest.approx(CATEGORY_EXPECTED))
    assert metric.compute_metrics([]) == {}


def test_oracle_metric_is_registered():
    assert METRICS.get('SyntheticOracleMetric') is SyntheticOracleMetric
    assert SyntheticOracleMetric.default_prefix == REGMetric.default_prefix == 'reg'


def test_synthetic_configs_list_the_oracle_after_reg():
    """The synthetic configs import the bench and score the oracle after REGMetric (the
    order of the merged names is the order of the list)."""
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'mutual', 'synthetic_step1_joint_tiny.py'))
    assert 'mmrefmutual_bench' in cfg.custom_imports['imports']
    for evaluators in (cfg.val_evaluator, cfg.test_evaluator):
        assert [e['type'] for e in evaluators] == [
            'RESMetric', 'REGMetric', 'SyntheticOracleMetric']
        assert evaluators[2]['ann_file'] == 'data/synthetic/refcoco/instances.json'
        assert 'oracle_ann_file' not in evaluators[1]


def test_oracle_metric_with_synthetic_oracle(tmp_path, monkeypatch):
    """oracle_unambiguity with the real SyntheticOracle on a generated benchmark: its own
    sentences fit exactly their object, an expression outside the grammar fits none."""
    from mmrefmutual_bench.synthetic.generator import generate_synthetic_refcoco
    generate_synthetic_refcoco(
        str(tmp_path), num_images=6, ref_image_ratio=1.0, img_size=64, seed=0, num_workers=1)
    with open(tmp_path / 'refcoco' / 'refs(unc).p', 'rb') as f:
        refs = pickle.load(f)
    by_image = {}
    for ref in refs:
        by_image.setdefault(ref['image_id'], []).append(ref)
    samples, num_good, num_refs = [], 0, 0
    for image_id, image_refs in sorted(by_image.items()):
        texts = []
        for ref in image_refs:
            good = num_refs % 3 != 0
            texts.append(ref['sentences'][0]['sent'] if good else 'the purple zebra')
            num_good += good
            num_refs += 1
        sample = reg_sample(image_id, [r['ref_id'] for r in image_refs],
                            [[s['sent'] for s in r['sentences']] for r in image_refs], texts,
                            [True] * len(texts))
        sample['gt_refs']['ann_ids'] = torch.tensor([r['ann_id'] for r in image_refs])
        samples.append(sample)
    ann_file = str(tmp_path / 'refcoco' / 'instances.json')
    metrics = run_metric(SyntheticOracleMetric(ann_file=ann_file), samples)
    assert num_refs > 10 and 0 < num_good < num_refs
    assert metrics['reg/oracle_unambiguity'] == pytest.approx(num_good / num_refs * 100)
    # the generator's own sentences name their object's shape first; 'purple zebra' none
    assert metrics['reg/category_named'] == pytest.approx(num_good / num_refs * 100)
    # validation during training (no Java): the cheap measures only, in this order
    evaluator = Evaluator([REGMetric(caption_metrics=False),
                           SyntheticOracleMetric(ann_file=ann_file)])
    cheap = run_metric(evaluator, samples)
    assert list(cheap) == ['reg/Rb-Acc', 'reg/oracle_unambiguity', 'reg/category_named']
