"""Choice of the expression a training sample is supervised with."""
import numpy as np
from mmcv.transforms import BaseTransform

from mmrefmutual.registry import TRANSFORMS


@TRANSFORMS.register_module()
class RandomSelectExpression(BaseTransform):
    """Pick one random sentence of each ref to ground and to teacher-force.

    In ``mode='train'`` a sample holds a single ref with all its sentences; each
    visit of the sample trains RES and REG on one of them (``gt_sents``), so over
    the epochs every expression is used. All sentences stay the ref's references
    (``gt_refs.sentences``: the CIDEr references of step 2), so the pipeline is the
    same for every step. ``extra_sentences`` (references merged from another refs
    file) only serve REG evaluation and are dropped here.

    The draw uses ``np.random``, which mmengine seeds per dataloader worker, so
    runs are reproducible with ``randomness=dict(seed=...)``.

    Required Keys:

    - refs (list[dict] with ``sentences``)

    Added Keys:

    - refs: ``selected_sentences`` of every ref, one of its ``sentences``.
    """

    def transform(self, results: dict) -> dict:
        """Pick one sentence per ref.

        Args:
            results (dict): Result dict with ``refs``.

        Returns:
            dict: ``results`` with one selected sentence per ref.
        """
        for ref in results['refs']:
            sentences = ref['sentences']
            if not sentences:
                raise ValueError(f'ref {ref.get("ref_id")} of image {results.get("img_id")} '
                                 'has no sentence to select')
            ref['selected_sentences'] = [sentences[np.random.randint(len(sentences))]]
            ref.pop('extra_sentences', None)
        return results
