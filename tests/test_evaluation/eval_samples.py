"""Hand-made data samples for the metric tests (also imported by spawned workers).

Masks and boxes are small enough to compute every expected number by hand; see the
comments next to each prediction.
"""
import atexit
import functools
import json
import os
import os.path as osp
import shutil
import tempfile
from typing import Dict, List, Optional, Sequence

import numpy as np
import pycocotools.mask as mask_util
import torch
import torch.distributed as dist
from mmdet.structures import DetDataSample
from mmengine.evaluator import Evaluator
from mmengine.structures import InstanceData

from mmrefmutual.evaluation import REGMetric, RESMetric
from mmrefmutual_bench import SyntheticOracleMetric


def _box_mask(h: int, w: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    mask = np.zeros((h, w), dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


def _rle(mask: np.ndarray) -> dict:
    rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode()  # str, as the dataset packs it
    return rle


def res_sample(img_id: int, gt_masks: Sequence[np.ndarray], ref_ids: Sequence[int],
               ref_inds: Sequence[int], pred_masks: np.ndarray,
               pred_bboxes: Sequence[Sequence[float]]) -> dict:
    """A packed + predicted test sample, as mmengine hands it to ``process``."""
    h, w = gt_masks[0].shape
    sample = DetDataSample(metainfo=dict(img_id=img_id, ori_shape=(h, w)))
    gt_refs = InstanceData()
    gt_refs.ref_ids = torch.tensor(ref_ids)
    gt_refs.ann_ids = torch.tensor(ref_ids) * 10
    gt_refs.rles = [_rle(m) for m in gt_masks]
    boxes = []
    for m in gt_masks:
        ys, xs = np.nonzero(m)
        boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    gt_refs.ori_bboxes = torch.tensor(boxes, dtype=torch.float32)
    gt_refs.sentences = [[f'ref {r}'] for r in ref_ids]
    sample.gt_refs = gt_refs
    gt_sents = InstanceData()
    gt_sents.ref_inds = torch.tensor(ref_inds)
    gt_sents.sent_ids = torch.arange(len(ref_inds)) + 1000 * img_id
    gt_sents.texts = [f'sent {i}' for i in range(len(ref_inds))]
    sample.gt_sents = gt_sents
    pred_sents = InstanceData()
    pred_sents.masks = torch.from_numpy(pred_masks)
    pred_sents.bboxes = torch.tensor(pred_bboxes, dtype=torch.float32)
    pred_sents.scores = torch.ones(len(ref_inds))
    sample.pred_sents = pred_sents
    return sample.to_dict()


def make_res_samples() -> List[dict]:
    """Two images, six expressions; IoUs 2/3, 0, 1, 1/2 (image 1) and 3/4, 2/3 (image 2)."""
    # image 1 (4 x 4): ref 10 = rows 0-1 x cols 0-1 (area 4), ref 11 = rows 2-3 (area 8)
    g10, g11 = _box_mask(4, 4, 0, 2, 0, 2), _box_mask(4, 4, 2, 4, 0, 4)
    preds1 = np.stack([
        _box_mask(4, 4, 0, 2, 0, 3),  # ref 10: I 4, U 6 -> 2/3
        np.zeros((4, 4), bool),  # ref 10: empty -> I 0, U 4 -> 0
        g11,  # ref 11: exact -> 1
        _box_mask(4, 4, 2, 4, 0, 2),  # ref 11: I 4, U 8 -> 1/2 (on the threshold)
    ])
    boxes1 = [[0, 0, 3, 2], [0, 0, 0, 0], [0, 2, 4, 4], [0, 2, 2, 4]]  # 2/3, 0, 1, 1/2
    s1 = res_sample(1, [g10, g11], [10, 11], [0, 0, 1, 1], preds1, boxes1)
    # image 2 (4 x 6): ref 20 = cols 0-2 (area 12); predictions at half resolution (2 x 3)
    g20 = _box_mask(4, 6, 0, 4, 0, 3)
    preds2 = np.stack([
        _box_mask(2, 3, 0, 2, 0, 2),  # -> cols 0-3 at full size: I 12, U 16 -> 3/4
        _box_mask(2, 3, 0, 2, 0, 1),  # -> cols 0-1 at full size: I 8, U 12 -> 2/3
    ])
    boxes2 = [[0, 0, 4, 4], [0, 0, 2, 4]]  # 3/4, 2/3
    s2 = res_sample(2, [g20], [20], [0, 0], preds2, boxes2)
    return [s1, s2]


# Expected numbers of make_res_samples(), in percent.
_IOUS = np.array([2 / 3, 0, 1, 1 / 2, 3 / 4, 2 / 3])
RES_EXPECTED = {
    'res/mIoU': _IOUS.mean() * 100,
    'res/oIoU': (4 + 0 + 8 + 4 + 12 + 8) / (6 + 4 + 8 + 8 + 16 + 12) * 100,
    'res/Pr@0.5': 5 / 6 * 100,
    'res/Pr@0.7': 2 / 6 * 100,
    'res/Pr@0.9': 1 / 6 * 100,
    'res/REC@0.5': 5 / 6 * 100,
}


def random_res_samples(num: int, seed: int = 0) -> List[dict]:
    """Random masks/boxes (same resolution as the ground truth) for broader checks."""
    rng = np.random.default_rng(seed)
    samples = []
    for img_id in range(num):
        h, w = rng.integers(8, 24, size=2)
        num_refs, num_sents = int(rng.integers(1, 4)), int(rng.integers(1, 6))
        gts = []
        for _ in range(num_refs):
            y0, x0 = rng.integers(0, h // 2), rng.integers(0, w // 2)
            gts.append(_box_mask(h, w, y0, rng.integers(y0 + 1, h + 1), x0,
                                 rng.integers(x0 + 1, w + 1)))
        preds = rng.random((num_sents, h, w)) < rng.random()
        boxes = np.sort(rng.random((num_sents, 2, 2)) * [w, h], axis=1).reshape(-1, 4)
        samples.append(
            res_sample(img_id, gts, list(range(100 * img_id, 100 * img_id + num_refs)),
                       rng.integers(0, num_refs, size=num_sents).tolist(), preds,
                       boxes.tolist()))
    return samples


def reg_sample(img_id: int, ref_ids: Sequence[int], sentences: Sequence[Sequence[str]],
               texts: Sequence[str], rb_correct: Sequence[bool]) -> dict:
    sample = DetDataSample(metainfo=dict(img_id=img_id))
    gt_refs = InstanceData()
    gt_refs.ref_ids = torch.tensor(ref_ids)
    gt_refs.ann_ids = torch.tensor(ref_ids) * 10
    gt_refs.sentences = [list(s) for s in sentences]
    sample.gt_refs = gt_refs
    pred_refs = InstanceData()
    pred_refs.texts = list(texts)
    pred_refs.proposal_inds = torch.arange(len(texts))
    pred_refs.rb_correct = torch.tensor(rb_correct)
    sample.pred_refs = pred_refs
    return sample.to_dict()


def make_reg_samples() -> List[dict]:
    """Five images, several referred objects per image (the case image-keyed scoring
    gets wrong)."""
    return [
        reg_sample(1, [10, 11], [['man on the left', 'left guy'],
                                 ['woman in red', 'red shirt lady', 'woman on the right']],
                   ['left man', 'woman in red shirt'], [True, False]),
        reg_sample(2, [20], [['blue car', 'car in front']], ['car'], [True]),
        reg_sample(3, [30, 31, 32], [['dog', 'brown dog'], ['cat on the sofa'],
                                     ['the sofa', 'couch']],
                   ['brown dog', 'cat', 'sofa on the right'], [True, True, False]),
        reg_sample(4, [40], [['tall tree', 'green tree']], ['tree'], [False]),
        reg_sample(5, [50, 51], [['bowl of soup', 'soup'], ['cup on the right']],
                   ['white bowl', 'cup'], [True, True]),
    ]


class FakeOracle:
    """Stands in for ``SyntheticOracle``: a fixed (image_id, expression) -> referents table."""

    TABLE = {
        (1, 'left man'): [100],  # unambiguous
        (1, 'woman in red shirt'): [110, 100],  # fits two objects
        (2, 'car'): [200],
        (3, 'brown dog'): [300],
        (3, 'cat'): [],  # fits nothing
        (3, 'sofa on the right'): [320],
        (4, 'tree'): [400],
        (5, 'white bowl'): [500],
        (5, 'cup'): [510, 500],
    }

    def referents(self, image_id: int, expression: str) -> List[int]:
        return self.TABLE[(image_id, expression)]


ORACLE_EXPECTED = 6 / 9 * 100
RB_EXPECTED = 6 / 9 * 100
# head nouns: 'woman in red shirt' and 'sofa on the right' name no category of the table
CATEGORIES = {100: 'man', 110: 'lady', 200: 'car', 300: 'dog', 310: 'cat', 320: 'couch',
              400: 'tree', 500: 'bowl', 510: 'cup'}
CATEGORY_EXPECTED = 7 / 9 * 100


class FakeOracleMetric(SyntheticOracleMetric):
    """SyntheticOracleMetric with the fake oracle (the real one needs a synthetic ann
    file)."""

    def _build_oracle(self):
        return FakeOracle()

    def _ann_categories(self):
        return CATEGORIES


def run_metric(metric,
               samples: List[dict],
               batch_size: int = 2,
               size: Optional[int] = None) -> Dict[str, float]:
    """Feed samples to ``metric.process`` in batches and evaluate.

    ``size`` is the dataset size (defaults to ``len(samples)``); in distributed runs each
    rank feeds its shard and passes the full size. ``metric`` may be an mmengine
    ``Evaluator`` (several metrics on the same samples, as a config's list builds).
    """
    for i in range(0, len(samples), batch_size):
        if isinstance(metric, Evaluator):
            metric.process(samples[i:i + batch_size], {})
        else:
            metric.process({}, samples[i:i + batch_size])
    return metric.evaluate(len(samples) if size is None else size)


def reg_evaluator(collect_dir: Optional[str] = None, **reg_kwargs) -> Evaluator:
    """REGMetric and the (fake) oracle metric after it, as the synthetic configs list
    them (each metric collects the ranks' results in its own directory)."""
    oracle_dir = None if collect_dir is None else collect_dir + '_oracle'
    return Evaluator([REGMetric(collect_dir=collect_dir, **reg_kwargs),
                      FakeOracleMetric(ann_file='fake.json', collect_dir=oracle_dir)])


def dist_res_samples() -> List[dict]:
    """Seven RES samples (odd: the sampler pads one shard)."""
    return make_res_samples() + random_res_samples(5, seed=1)


def dist_worker(rank: int, world_size: int, port: int, out_dir: str) -> None:
    """One rank of the distributed metric test (``torch.multiprocessing.spawn`` target)."""
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world_size)
    try:

        def shard(samples):
            # mmengine's DefaultSampler(shuffle=False): pad with the first indices, then
            # every rank takes indices rank::world_size
            idx = list(range(len(samples)))
            idx += idx[:(-len(idx)) % world_size]
            return [samples[i] for i in idx[rank::world_size]]

        res_samples, reg_samples = dist_res_samples(), make_reg_samples()
        res = run_metric(
            RESMetric(collect_dir=osp.join(out_dir, 'collect_res')),
            shard(res_samples), size=len(res_samples))
        reg = run_metric(reg_evaluator(collect_dir=osp.join(out_dir, 'collect_reg')),
                         shard(reg_samples), size=len(reg_samples))
        with open(osp.join(out_dir, f'metrics_rank{rank}.json'), 'w') as f:
            json.dump(dict(res=res, reg=reg), f)
    finally:
        dist.destroy_process_group()


@functools.lru_cache(maxsize=None)
def single_process_reg_metrics() -> Dict[str, float]:
    """REGMetric and the oracle metric on make_reg_samples() in this process, computed
    once per session (METEOR's Java start is the slow part of the tests)."""
    out_dir = tempfile.mkdtemp(prefix='reg_metric_')
    atexit.register(shutil.rmtree, out_dir, ignore_errors=True)
    metrics = run_metric(reg_evaluator(outfile_prefix=f'{out_dir}/pred'), make_reg_samples())
    metrics['_outfile'] = f'{out_dir}/pred.reg_expressions.json'
    return metrics
