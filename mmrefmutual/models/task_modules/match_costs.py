"""Match cost for mapping given objects (masks/boxes) to Mask2Former proposals."""
from typing import Optional

from mmdet.models.task_modules.assigners.match_cost import BaseMatchCost
from mmengine.structures import InstanceData
from torch import Tensor

from mmrefmutual.registry import TASK_UTILS


@TASK_UTILS.register_module()
class ForegroundCost(BaseMatchCost):
    """``-(1 - p_no-object)`` of each proposal, the same for every target.

    The class-agnostic counterpart of mmdet's ``ClassificationCost`` (which reads
    ``-p_c`` for the target's category c): a mask or box given at inference (REG input,
    the inference API) need not come with a category. Without a class term, a
    "no object" duplicate whose mask happens to fit slightly better wins the match,
    and the referring heads then see a proposal that Mask2Former never assigned to an
    object in training (measured on the synthetic benchmark: the Dice-only match agreed
    with Mask2Former's training assignment for 32 % of the referred objects, with this
    cost added for 95 %).

    Args:
        weight (float): Cost weight. Defaults to 1.
    """

    def __call__(self, pred_instances: InstanceData, gt_instances: InstanceData,
                 img_meta: Optional[dict] = None, **kwargs) -> Tensor:
        """(num_preds, num_gts) cost from ``pred_instances.scores`` (N, C + 1) logits
        whose last column is "no object"."""
        foreground = 1 - pred_instances.scores.softmax(-1)[:, -1]
        return -foreground[:, None].expand(-1, len(gt_instances)) * self.weight
