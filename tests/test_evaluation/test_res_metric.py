import json
import os.path as osp
import sys

import numpy as np
import pycocotools.mask as mask_util
import pytest
import torch
from mmdet.evaluation.metrics import RefSegMetric
from mmdet.structures.mask import BitmapMasks

from mmrefmutual.evaluation import RESMetric
from mmrefmutual.registry import METRICS

# --import-mode=importlib: the helpers are found through sys.path (spawned workers too)
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from eval_samples import (RES_EXPECTED, make_res_samples,  # noqa: E402
                          random_res_samples, run_metric)


def test_res_metric_hand_computed():
    metrics = run_metric(RESMetric(), make_res_samples())
    assert set(metrics) == set(RES_EXPECTED)
    for key, value in RES_EXPECTED.items():
        assert metrics[key] == pytest.approx(value, abs=1e-9), key


def test_res_metric_registry_and_thresholds():
    metric = METRICS.build(dict(type='RESMetric', iou_thrs=(0.6, ), rec_iou_thr=0.7))
    metrics = run_metric(metric, make_res_samples())
    # mask IoUs 2/3, 0, 1, 1/2, 3/4, 2/3; box IoUs 2/3, 0, 1, 1/2, 3/4, 2/3
    assert metrics['res/Pr@0.6'] == pytest.approx(4 / 6 * 100)
    assert metrics['res/REC@0.7'] == pytest.approx(2 / 6 * 100)


def test_res_metric_keeps_small_numbers_one_entry_per_sample():
    metric = RESMetric()
    samples = make_res_samples()
    metric.process({}, samples)
    assert len(metric.results) == len(samples)
    first = metric.results[0]
    assert set(first) == {'img_id', 'sent_ids', 'ref_ids', 'inter', 'union', 'box_ious'}
    np.testing.assert_array_equal(first['inter'], [4, 0, 8, 4])
    np.testing.assert_array_equal(first['union'], [6, 4, 8, 8])
    np.testing.assert_array_equal(first['ref_ids'], [10, 10, 11, 11])
    # second image: predictions at half resolution, resized (nearest) to 4 x 6
    np.testing.assert_array_equal(metric.results[1]['inter'], [12, 8])
    np.testing.assert_array_equal(metric.results[1]['union'], [16, 12])


def _as_refseg_samples(samples):
    """The same predictions in mmdet RefSegMetric's format (one mask per expression)."""
    out = []
    for s in samples:
        gt = mask_util.decode(s['gt_refs']['rles']).transpose(2, 0, 1)
        gt = gt[s['gt_sents']['ref_inds'].numpy()]
        pred = s['pred_sents']['masks']
        if pred.shape[-2:] != gt.shape[-2:]:
            pred = torch.nn.functional.interpolate(
                pred[:, None].float(), size=gt.shape[-2:], mode='nearest')[:, 0] > 0
        out.append(
            dict(pred_instances=dict(masks=pred), gt_masks=BitmapMasks(gt, *gt.shape[-2:])))
    return out


@pytest.mark.parametrize('make', [make_res_samples, lambda: random_res_samples(12)])
def test_res_metric_agrees_with_mmdet_refseg(make):
    samples = make()
    ours = run_metric(RESMetric(), samples)
    refseg = RefSegMetric(metric=('cIoU', 'mIoU'))
    refseg.process({}, _as_refseg_samples(samples))
    theirs = refseg.compute_metrics(refseg.results)
    # mmdet calls the overall IoU "cIoU"; both report percent
    assert ours['res/oIoU'] == pytest.approx(float(theirs['cIoU']), abs=1e-4)
    assert ours['res/mIoU'] == pytest.approx(float(theirs['mIoU']), abs=1e-4)


def test_res_metric_dumps_rle_predictions(tmp_path):
    samples = make_res_samples()
    run_metric(RESMetric(outfile_prefix=str(tmp_path / 'preds')), samples)
    with open(tmp_path / 'preds.res_masks.json') as f:
        records = json.load(f)
    assert [r['sent_id'] for r in records] == [1000, 1001, 1002, 1003, 2000, 2001]
    assert [r['ref_id'] for r in records] == [10, 10, 11, 11, 20, 20]
    assert [r['image_id'] for r in records] == [1, 1, 1, 1, 2, 2]
    np.testing.assert_allclose([r['iou'] for r in records], [2 / 3, 0, 1, 0.5, 0.75, 2 / 3])
    mask = mask_util.decode(records[0]['segmentation'])
    np.testing.assert_array_equal(mask, samples[0]['pred_sents']['masks'][0].numpy())
    # predicted at 2 x 3, dumped at the ground-truth size 4 x 6
    mask = mask_util.decode(records[4]['segmentation'])
    assert mask.shape == (4, 6) and mask.sum() == 16 and mask[:, :4].all()
    assert records[5]['bbox'] == [0, 0, 2, 4]


def test_res_metric_sample_without_expressions():
    samples = make_res_samples()
    empty = dict(samples[1])
    empty['gt_sents'] = dict(
        ref_inds=torch.zeros(0, dtype=torch.long), sent_ids=torch.zeros(0), texts=[])
    empty['pred_sents'] = dict(masks=torch.zeros(0, 4, 6, dtype=torch.bool),
                               bboxes=torch.zeros(0, 4))
    metrics = run_metric(RESMetric(), [samples[0], empty])
    assert metrics['res/mIoU'] == pytest.approx((2 / 3 + 0 + 1 + 0.5) / 4 * 100)
