"""The synthetic benchmark's own REG measures: what its oracle says of a generated text."""
from typing import Any, Dict, List, Optional

import numpy as np
from mmengine.fileio import load

from mmrefmutual.evaluation.metrics.reg_metric import REGMetric
from mmrefmutual.registry import METRICS


@METRICS.register_module()
class SyntheticOracleMetric(REGMetric):
    """Whether each generated expression fits exactly its object, by the benchmark's oracle.

    It runs as its own entry of ``val_evaluator`` / ``test_evaluator``, after ``REGMetric``
    and on the same samples; it keeps ``REGMetric``'s records (one per sample) and scores
    them with the oracle instead of METEOR / CIDEr. Its names share ``REGMetric``'s prefix ``reg/`` (they are
    columns of the REG table, ``mmrefmutual.evaluation.table``) and differ from its names,
    so mmengine's ``Evaluator`` merges both without a clash, in the order of the list.

    Scores (names after the default prefix ``reg/``), over one record per referred object
    (``ref_id``, as ``REGMetric`` scores):

    - ``oracle_unambiguity`` (percent): share of generated expressions whose referents
      according to ``SyntheticOracle(ann_file).referents(image_id, expression)`` are
      exactly ``[ann_id]`` of the target.
    - ``category_named`` (percent): share of expressions whose head noun (the first word
      that is a category name of ``ann_file``) is the target's category: is REG grounded
      in the right object at all.

    Args:
        ann_file (str): The benchmark's ``instances.json`` (with attributes).
        collect_device (str): Device used to collect results across ranks,
            ``'cpu'`` or ``'gpu'``. Defaults to ``'cpu'``.
        prefix (str, optional): Prefix of the metric names. Defaults to ``'reg'``.
        collect_dir (str, optional): Directory shared by all ranks used to collect results
            when ``collect_device='cpu'``. Defaults to None (a temporary directory).
    """

    default_prefix: Optional[str] = 'reg'

    def __init__(self,
                 ann_file: str,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        # REGMetric's records (its process()), scored by the oracle instead of captioning
        super().__init__(collect_device=collect_device, prefix=prefix,
                         collect_dir=collect_dir, caption_metrics=False)
        self.ann_file = ann_file
        self._oracle = None

    def _build_oracle(self) -> Any:
        """Load the oracle once."""
        if self._oracle is None:
            from .synthetic import SyntheticOracle
            self._oracle = SyntheticOracle(self.ann_file)
        return self._oracle

    def _ann_categories(self) -> Dict[int, str]:
        """Category name of every annotation of ``ann_file``."""
        coco = load(self.ann_file)
        names = {c['id']: c['name'] for c in coco['categories']}
        return {a['id']: names[a['category_id']] for a in coco['annotations']}

    @staticmethod
    def category_named(records: List[dict], categories: Dict[int, str]) -> float:
        """Percent of expressions whose head noun (first word that is a category name)
        is the target's category."""
        names = set(categories.values())
        head = (lambda text: next((w for w in text.split() if w in names), None))
        return float(np.mean([head(rec['expression']) == categories[rec['ann_id']]
                              for rec in records]) * 100)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Score the gathered generated expressions.

        Args:
            results (List[dict]): One entry per data sample, from all ranks.

        Returns:
            Dict[str, float]: ``oracle_unambiguity`` and ``category_named`` (nothing when
            no object was referred; ``REGMetric`` warns then).
        """
        records = self._flatten(results)  # one per ref_id, as REGMetric scores
        if not records:
            return {}
        oracle = self._build_oracle()
        unambiguous = [
            [int(a) for a in oracle.referents(rec['image_id'], rec['expression'])] ==
            [rec['ann_id']] for rec in records
        ]
        return dict(oracle_unambiguity=float(np.mean(unambiguous) * 100),
                    category_named=self.category_named(records, self._ann_categories()))
