"""Referring expression generation (REG) metric."""
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from mmengine.dist import is_main_process
from mmengine.evaluator import BaseMetric
from mmengine.fileio import dump
from mmengine.logging import MMLogger
from mmengine.utils import mkdir_or_exist

from mmrefmutual.registry import METRICS
from .utils import check_java, get_field, to_numpy

try:
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer
except ImportError:  # pragma: no cover - pycocoevalcap is a runtime requirement
    Cider = Meteor = PTBTokenizer = None


@METRICS.register_module()
class REGMetric(BaseMetric):
    """METEOR / CIDEr of generated referring expressions, scored per referred object.

    One expression is generated per referred object (``pred_refs.texts[j]``) and scored
    against **all** sentences of that object (``gt_refs.sentences[j]``), keyed by
    ``ref_id``. This is the protocol of the refer toolkit's REG evaluation; it differs from
    mmdet's ``COCOCaptionMetric``, which keys by ``image_id`` and keeps a single caption
    per image, which would drop all but one object of every image.

    Scores (names after the default prefix ``reg/``):

    - ``METEOR``, ``CIDEr``: pycocoevalcap (PTB tokenizer, METEOR 1.5, CIDEr-D with
      document frequencies of the evaluated split), as fractions like pycocoevalcap and the
      paper's tables (e.g. 0.27, 0.85). The Java parts run once per evaluation, in
      ``compute_metrics``; mmengine calls it on rank 0 only, after gathering the
      results of all ranks (``BaseMetric.evaluate``).
    - ``Rb-Acc`` (percent): mean of ``pred_refs.rb_correct`` (refer-back accuracy: a
      separately trained selection head grounds the generated text to the target
      proposal); omitted when no sample carries ``rb_correct``.

    With ``merge_refs_file`` (an option of the dataset), the references arrive already
    merged in ``gt_refs.sentences``; this metric only scores what it receives.

    Args:
        outfile_prefix (str, optional): If given, all generated expressions are dumped to
            ``{outfile_prefix}.reg_expressions.json`` as
            ``[dict(ref_id, ann_id, image_id, expression)]``. Defaults to None.
        collect_device (str): Device used to collect results across ranks,
            ``'cpu'`` or ``'gpu'``. Defaults to ``'cpu'``.
        prefix (str, optional): Prefix of the metric names. Defaults to ``'reg'``.
        collect_dir (str, optional): Directory shared by all ranks used to collect results
            when ``collect_device='cpu'``. Defaults to None (a temporary directory).
        caption_metrics (bool): Compute METEOR and CIDEr (Java, ~10 s a call). False
            keeps the cheap measures only, e.g. to follow grounding during training.
    """

    default_prefix: Optional[str] = 'reg'

    def __init__(self,
                 outfile_prefix: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None,
                 caption_metrics: bool = True) -> None:
        self.caption_metrics = caption_metrics
        if PTBTokenizer is None and caption_metrics:
            raise RuntimeError('REGMetric needs pycocoevalcap: pip install pycocoevalcap')
        if is_main_process() and caption_metrics:
            # Fail at build time rather than after a whole training run; only the rank
            # that calls compute_metrics runs Java.
            check_java()
        super().__init__(
            collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        self.outfile_prefix = outfile_prefix

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Keep the generated expression and the references of every referred object.

        Exactly one entry is appended per data sample: mmengine's ``collect_results``
        truncates the gathered list to the dataset size (number of samples).

        Args:
            data_batch (Any): A batch of data from the dataloader (unused).
            data_samples (Sequence[dict]): Data samples (as dicts) holding ``gt_refs`` and
                ``pred_refs``.
        """
        for data_sample in data_samples:
            gt_refs = get_field(data_sample, 'gt_refs')
            pred_refs = get_field(data_sample, 'pred_refs')
            ref_ids = to_numpy(get_field(gt_refs, 'ref_ids'), np.int64).reshape(-1)
            ann_ids = to_numpy(get_field(gt_refs, 'ann_ids'), np.int64).reshape(-1)
            sentences = get_field(gt_refs, 'sentences')
            texts = get_field(pred_refs, 'texts')
            assert len(texts) == len(ref_ids), (
                f'{len(texts)} generated expressions for {len(ref_ids)} referred objects')
            rb_correct = get_field(pred_refs, 'rb_correct')
            if rb_correct is not None:
                rb_correct = to_numpy(rb_correct, bool).reshape(-1)
            refs = []
            for j, ref_id in enumerate(ref_ids):
                ref = dict(
                    ref_id=int(ref_id),
                    ann_id=int(ann_ids[j]),
                    expression=str(texts[j]),
                    references=[str(s) for s in sentences[j]])
                if rb_correct is not None:
                    ref['rb_correct'] = bool(rb_correct[j])
                refs.append(ref)
            self.results.append(
                dict(image_id=int(get_field(data_sample, 'img_id', -1)), refs=refs))

    @staticmethod
    def _flatten(results: List[dict]) -> List[dict]:
        """One record per ``ref_id`` (first occurrence wins), with its ``image_id``."""
        records, seen = [], set()
        for res in results:
            for ref in res['refs']:
                if ref['ref_id'] in seen:
                    continue
                seen.add(ref['ref_id'])
                records.append(dict(ref, image_id=res['image_id']))
        return records

    @staticmethod
    def caption_scores(records: List[dict]) -> Dict[str, float]:
        """METEOR and CIDEr with pycocoevalcap, keyed by ``ref_id``.

        Both sides go through one PTB tokenizer call (one Java start instead of two).

        Args:
            records (List[dict]): Records with ``ref_id``, ``expression``, ``references``.

        Returns:
            Dict[str, float]: ``METEOR`` and ``CIDEr``.
        """
        check_java()
        empty = [rec['ref_id'] for rec in records if not rec['references']]
        if empty:
            raise ValueError(f'{len(empty)} referred objects have no reference sentence, '
                             f'e.g. ref_ids {empty[:5]}')
        to_tokenize = {}
        for rec in records:
            to_tokenize[('gt', rec['ref_id'])] = [{'caption': s} for s in rec['references']]
            to_tokenize[('res', rec['ref_id'])] = [{'caption': rec['expression']}]
        tokenized = PTBTokenizer().tokenize(to_tokenize)
        # PTBTokenizer zips its output lines with the keys: a lost line would silently
        # shift or drop entries, so check every entry came back.
        lost = [k for k, v in to_tokenize.items() if len(tokenized.get(k, ())) != len(v)]
        if lost:
            raise RuntimeError(f'PTBTokenizer returned no tokens for {len(lost)} entries, '
                               f'e.g. {lost[:3]}')
        gts = {rec['ref_id']: tokenized[('gt', rec['ref_id'])] for rec in records}
        res = {rec['ref_id']: tokenized[('res', rec['ref_id'])] for rec in records}

        meteor = Meteor()
        try:
            meteor_score, _ = meteor.compute_score(gts, res)
        finally:
            _close_meteor(meteor)
        cider_score, _ = Cider().compute_score(gts, res)
        return dict(METEOR=float(meteor_score), CIDEr=float(cider_score))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Score the gathered generated expressions.

        Args:
            results (List[dict]): One entry per data sample, from all ranks.

        Returns:
            Dict[str, float]: ``METEOR``, ``CIDEr`` and, when available, ``Rb-Acc``.
        """
        logger = MMLogger.get_current_instance()
        records = self._flatten(results)
        if self.outfile_prefix is not None:
            self._dump(records)
        if not records:
            logger.warning('REGMetric got no referred object to evaluate.')
            return {}

        metrics = self.caption_scores(records) if self.caption_metrics else {}
        rb = [rec['rb_correct'] for rec in records if 'rb_correct' in rec]
        if rb:
            metrics['Rb-Acc'] = float(np.mean(rb) * 100)
        logger.info(f'REG evaluated on {len(records)} referred objects.')
        return metrics

    def _dump(self, records: List[dict]) -> None:
        """Write every generated expression with its ids to JSON."""
        out_file = f'{self.outfile_prefix}.reg_expressions.json'
        mkdir_or_exist(osp.dirname(osp.abspath(out_file)))
        dump([
            dict(
                ref_id=rec['ref_id'],
                ann_id=rec['ann_id'],
                image_id=rec['image_id'],
                expression=rec['expression']) for rec in records
        ], out_file)
        MMLogger.get_current_instance().info(f'REG expressions dumped to {out_file}')


def _close_meteor(meteor: Any) -> None:
    """Stop METEOR's Java subprocess now rather than at garbage collection."""
    proc = getattr(meteor, 'meteor_p', None)
    if proc is None or proc.poll() is not None:
        return
    lock = getattr(meteor, 'lock', None)
    if lock is not None:
        lock.acquire()
    try:
        proc.stdin.close()
        proc.kill()
        proc.wait()
    finally:
        if lock is not None:
            lock.release()
