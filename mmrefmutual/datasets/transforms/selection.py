"""Choice of the expression a training sample is supervised with."""
import numpy as np
from mmcv.transforms import BaseTransform

from mmrefmutual.registry import TRANSFORMS


@TRANSFORMS.register_module()
class RandomSelectExpression(BaseTransform):
    """Keep one random sentence of each ref (the training view of a ref).

    In ``mode='train'`` a sample holds a single ref with all its sentences; each
    visit of the sample trains on one of them, so over the epochs every
    expression is used. ``extra_sentences`` (references merged from another
    refs file) are never selected and are dropped here, since they only serve
    REG evaluation.

    The draw uses ``np.random``, which mmengine seeds per dataloader worker, so
    runs are reproducible with ``randomness=dict(seed=...)``.

    Required Keys:

    - refs (list[dict] with ``sentences``)

    Modified Keys:

    - refs: every ``sentences`` reduced to one entry.
    """

    def transform(self, results: dict) -> dict:
        """Pick one sentence per ref.

        Args:
            results (dict): Result dict with ``refs``.

        Returns:
            dict: ``results`` with one sentence per ref.
        """
        for ref in results['refs']:
            sentences = ref['sentences']
            if not sentences:
                raise ValueError(f'ref {ref.get("ref_id")} of image {results.get("img_id")} '
                                 'has no sentence to select')
            ref['sentences'] = [sentences[np.random.randint(len(sentences))]]
            ref.pop('extra_sentences', None)
        return results
