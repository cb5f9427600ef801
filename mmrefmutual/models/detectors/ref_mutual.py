"""RefMutual: Mask2Former proposals + proposal selection (RES) + indicated generation (REG).

(The paper's one model: both tasks' losses and predictions share its proposals, so they live
in one class; a fifth of the file is the documented arguments: hence its length.)
"""
import copy
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmdet.models.detectors import BaseDetector, Mask2Former
from mmdet.structures import SampleList
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.structures import InstanceData
from torch import Tensor

from mmrefmutual.models.utils import (build_referee, gather_ref_targets, masks_to_boxes,
                                      zero_loss)
from mmrefmutual.registry import MODELS
from mmrefmutual.utils.mmcv_compat import route_deform_attn

#: The referring keys of ``train_cfg`` (the rest is Mask2Former's) and their defaults:
#: step 1 of the paper, joint training.
REF_TRAIN_CFG = dict(
    proposal_loss=True,  # Mask2Former's losses on all instances
    ref_assigner='mask2former',  # gt -> proposal: 'mask2former' (its final layer) | 'matching'
    res_loss=True,  # cross-entropy of the selection head over proposals
    reg_loss='teacher_forcing',  # Eq. (2); 'policy_gradient' (Eq. 4, step 2) or None
    reg_on_generated=False,  # REG also learns from generated (pseudo) refs
    detach_proposals=False,  # referring losses do not train the extractor (Tables 3/6 (a))
    policy_gradient=dict(num_samples=5, baseline='mean'))


@MODELS.register_module()
class RefMutual(Mask2Former):
    """The paper's model (Fig. 2): mmdet's Mask2Former as proposal extractor, a
    BERT text encoder, a :class:`ProposalSelectionHead` and an
    :class:`IndicatedGenerationHead`, trained jointly.

    What is trained is said by ``train_cfg`` (see :data:`REF_TRAIN_CFG`), what is
    frozen by ``frozen_modules``; a loss on a frozen module is refused.

    Args:
        backbone, neck, panoptic_head: As ``Mask2Former``; ``panoptic_head`` should be a
            ``ProposalMask2FormerHead``.
        panoptic_fusion_head: Accepted (configs written for Mask2Former, configs kept in
            checkpoints) and not built: mmdet's fusion head picks masks by class score,
            RES picks the selection head's proposal (:meth:`postprocess_masks`).
        text_encoder (dict): Language encoder (``HFTextEncoder``).
        selection_head (dict, optional): RES head; ``text_channels`` is filled in
            from the text encoder.
        generation_head (dict, optional): REG head.
        referee (dict, optional): For Rb-Acc (refer-back accuracy, paper Sec. 4.2):
            ``dict(checkpoint=PATH)`` of a separately trained model of this
            architecture whose ``selection_head``/``text_encoder`` weights score the
            generated expressions against this model's proposals. Optional
            ``selection_head``/``text_encoder`` configs default to this model's.
            Adds ``pred_refs.rb_correct``.
        frozen_modules (Sequence[str]): Top-level children to freeze (no gradients,
            eval mode), fixed before DDP wraps the model (step 2: everything but
            ``generation_head``).
        train_cfg (dict): Mask2Former's train_cfg plus the keys of
            :data:`REF_TRAIN_CFG`: ``proposal_loss``; ``ref_assigner`` (which
            proposal the referring losses supervise for an object: the final layer's
            assignment of Mask2Former's own matcher, or ``'matching'``, the
            class-agnostic :meth:`ProposalMask2FormerHead.match_targets` used at
            inference); ``res_loss``; ``reg_loss`` (``'teacher_forcing'``,
            ``'policy_gradient'`` with the reward given to :meth:`set_reward`, or None);
            ``reg_on_generated``; ``detach_proposals`` (the referring heads see the
            proposals without gradient: the extractor learns from instance segmentation
            only, the paper's ablations (a)); ``policy_gradient`` (``num_samples``,
            ``baseline``).
        test_cfg (dict): Mask2Former's test_cfg plus the defaults of :meth:`predict`:
            ``res``, ``reg``, ``reg_input``, ``beam_size``, ``max_len``,
            ``length_penalty``, ``cuda_graph`` (on a GPU, REG's beam search and RES's
            selection decoder replayed as CUDA graphs, see
            :meth:`IndicatedGenerationHead.search`, :meth:`ProposalSelectionHead.predict`).
    """

    def __init__(self, backbone: ConfigType, panoptic_head: ConfigType,
                 text_encoder: ConfigType, selection_head: OptConfigType = None,
                 generation_head: OptConfigType = None, neck: OptConfigType = None,
                 referee: OptConfigType = None, frozen_modules: Sequence[str] = (),
                 train_cfg: OptConfigType = None, test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None, init_cfg: OptMultiConfig = None,
                 panoptic_fusion_head: OptConfigType = None) -> None:
        route_deform_attn()  # GPUs without mmcv's kernel (CUDA 13): its PyTorch version
        # MaskFormer.__init__ without its fusion head (see panoptic_fusion_head above)
        BaseDetector.__init__(self, data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        if neck is not None:
            self.neck = MODELS.build(neck)
        panoptic_head = copy.deepcopy(panoptic_head)
        panoptic_head.update(train_cfg=train_cfg, test_cfg=test_cfg)
        self.panoptic_head = MODELS.build(panoptic_head)
        self.num_things_classes = self.panoptic_head.num_things_classes
        self.num_stuff_classes = self.panoptic_head.num_stuff_classes
        self.num_classes = self.panoptic_head.num_classes
        self.train_cfg = train_cfg
        self.text_encoder = MODELS.build(text_encoder)
        self.selection_head = None
        if selection_head is not None:
            self.selection_head = MODELS.build(
                dict(selection_head, text_channels=self.text_encoder.out_channels))
        self.generation_head = MODELS.build(generation_head) if generation_head else None
        self.referee = build_referee(referee, text_encoder, selection_head) \
            if referee is not None else None
        self.frozen_modules = tuple(frozen_modules)
        for name in self.frozen_modules:
            getattr(self, name).requires_grad_(False)
        self.ref_train_cfg = self._check_train_cfg(train_cfg or {})
        self.test_cfg = test_cfg or dict()
        self.reward: Optional[Callable] = None

    def _check_train_cfg(self, train_cfg: dict) -> dict:
        """The referring training switches, checked against the frozen modules."""
        cfg = {k: train_cfg.get(k, v) for k, v in REF_TRAIN_CFG.items()}
        cfg['policy_gradient'] = dict(REF_TRAIN_CFG['policy_gradient'],
                                      **cfg['policy_gradient'])
        if cfg['ref_assigner'] not in ('mask2former', 'matching'):
            raise ValueError("train_cfg.ref_assigner must be 'mask2former' or 'matching', "
                             f"got {cfg['ref_assigner']!r}")
        if cfg['reg_loss'] not in (None, 'teacher_forcing', 'policy_gradient'):
            raise ValueError("train_cfg.reg_loss must be 'teacher_forcing', 'policy_gradient' "
                             f"or None, got {cfg['reg_loss']!r}")
        needs = dict(panoptic_head=cfg['proposal_loss'], selection_head=cfg['res_loss'],
                     generation_head=cfg['reg_loss'] is not None)
        for name, loss in needs.items():
            if loss and getattr(self, name) is None:
                raise ValueError(f'train_cfg asks for the loss of {name}, which is not built')
            if loss and name in self.frozen_modules:
                raise ValueError(f'{name} is in frozen_modules but train_cfg trains it: turn '
                                 'its loss off (proposal_loss / res_loss / reg_loss)')
        if cfg['reg_loss'] == 'policy_gradient' and self.selection_head is None:
            raise ValueError('the policy-gradient REG loss needs the selection head (reward)')
        return cfg

    def train(self, mode: bool = True):
        super().train(mode)
        for name in self.frozen_modules:
            getattr(self, name).eval()
        if self.referee is not None:
            self.referee.eval()
        return self

    def set_reward(self, reward: Callable[..., Dict[str, Tensor]]) -> None:
        """Give the reward of the policy-gradient REG loss (step 2).

        ``MutualSupervisionHook(disambiguation=...)`` calls this in ``before_train``
        with an :class:`UnambiguityCiderReward` whose CIDEr corpus is the training
        dataset's; it is called as ``reward(scores, targets, texts, references)`` and
        returns a dict with ``reward`` and its logged parts.
        """
        self.reward = reward

    # ------------------------------------------------------------------ shared
    def extract_proposals(self, batch_inputs: Tensor, batch_data_samples: SampleList
                          ) -> Tuple[Tensor, List[Tensor], List[Tensor]]:
        """One Mask2Former pass: proposals O (B, N, C) and the per-layer class and
        mask logits of ``Mask2FormerHead.forward``."""
        cls_list, mask_list, proposals = self.panoptic_head(
            self.extract_feat(batch_inputs), batch_data_samples, return_proposals=True)
        return proposals, cls_list, mask_list

    def select(self, proposals: Tensor, texts: List[str], cuda_graph: bool = False) -> Tensor:
        """Matching scores S (M, N) of each text against its image's proposals (M, N, C);
        ``cuda_graph``: see :meth:`ProposalSelectionHead.predict` (inference only)."""
        feats, pad_mask = self.text_encoder(texts)
        if cuda_graph:
            return self.selection_head.predict(proposals, feats, pad_mask, cuda_graph=True)
        return self.selection_head(proposals, feats, pad_mask)

    @torch.no_grad()
    def score_texts(self, proposals: Tensor, img_inds: Tensor, texts: List[List[str]],
                    referee: bool = False) -> Tensor:
        """Scores (M, K, N), without gradient, of K texts per row against the N proposals
        (``proposals``: (B, N, C)) of the row's image (``img_inds``: (M, )): how rewards,
        refer-back and Rb-Acc (``referee=True``: the referee's encoder and head) judge
        written expressions."""
        k = len(texts[0]) if texts else 0
        if any(len(row) != k for row in texts):
            raise ValueError('score_texts needs as many texts per row')
        rows = torch.arange(len(texts), device=proposals.device).repeat_interleave(k)
        flat, props = [text for row in texts for text in row], proposals[img_inds[rows]]
        if referee:
            scores = self.referee.selection_head(props, *self.referee.text_encoder(flat))
        else:
            scores = self.select(props, flat)
        return scores.view(len(texts), k, -1)

    def match(self, cls_scores: Tensor, mask_preds: Tensor, batch_data_samples: SampleList,
              by: str = 'mask') -> List[Tensor]:
        """Class-agnostic matching of each image's ``gt_instances`` to proposals."""
        return [self.panoptic_head.match_targets(cls_scores[i], mask_preds[i],
                                                 sample.gt_instances, sample.metainfo, by=by)
                for i, sample in enumerate(batch_data_samples)]

    # ------------------------------------------------------------------ training
    def loss(self, batch_inputs: Tensor, batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """The losses that ``train_cfg`` asks for (step 1: all of them)."""
        cfg = self.ref_train_cfg
        proposals, cls_list, mask_list = self.extract_proposals(batch_inputs,
                                                                batch_data_samples)
        losses = dict()
        if cfg['proposal_loss']:
            proposal_losses, gt_to_prop = self.panoptic_head.loss_and_assign(
                cls_list, mask_list, batch_data_samples)
            losses.update(proposal_losses)
        if cfg['ref_assigner'] == 'matching':
            gt_to_prop = self.match(cls_list[-1], mask_list[-1], batch_data_samples)
        elif not cfg['proposal_loss']:
            gt_to_prop = self.panoptic_head.assign(cls_list[-1], mask_list[-1],
                                                   batch_data_samples)
        if cfg['detach_proposals']:
            proposals = proposals.detach()
        if cfg['res_loss']:
            losses.update(self.loss_res(proposals, gather_ref_targets(
                batch_data_samples, gt_to_prop, 'sents')))
        if cfg['reg_loss'] == 'teacher_forcing':
            losses.update(self.loss_reg(proposals, gather_ref_targets(
                batch_data_samples, gt_to_prop, 'sents')))
        elif cfg['reg_loss'] == 'policy_gradient':
            losses.update(self.loss_disambiguation(proposals, gather_ref_targets(
                batch_data_samples, gt_to_prop, 'refs')))
        return losses

    def loss_res(self, proposals: Tensor, sents: InstanceData) -> Dict[str, Tensor]:
        """Selection cross-entropy of each expression, weighted by its ref's weight."""
        if len(sents) == 0:
            return dict(loss_res=zero_loss(self.selection_head, anchor=proposals))
        sents = sents.to(proposals.device)
        scores = self.select(proposals[sents.img_inds], sents.texts)
        return self.selection_head.loss(scores, sents.prop_inds, sents.weights)

    def _reg_rows(self, rows: InstanceData) -> InstanceData:
        if self.ref_train_cfg['reg_on_generated'] or len(rows) == 0:
            return rows
        return rows[~rows.generated]

    def loss_reg(self, proposals: Tensor, sents: InstanceData) -> Dict[str, Tensor]:
        """Teacher-forcing loss (Eq. 2) of each expression, weighted by its ref's weight."""
        sents = self._reg_rows(sents)
        if len(sents) == 0:
            return dict(loss_reg=zero_loss(self.generation_head, anchor=proposals))
        sents = sents.to(proposals.device)
        return self.generation_head.loss(proposals, sents.img_inds, sents.prop_inds,
                                         sents.texts, sents.weights)

    def loss_disambiguation(self, proposals: Tensor, refs: InstanceData) -> Dict[str, Tensor]:
        """Policy-gradient REG loss (Eq. 4) with the reward of :meth:`set_reward`
        (step 2), plus the reward's parts for the log.

        Every ref needs its sentences: they are CIDEr's references.
        """
        if self.reward is None:
            raise RuntimeError('train_cfg.reg_loss is policy_gradient but no reward was set: '
                               'add MutualSupervisionHook(disambiguation=...) to custom_hooks '
                               '(or call set_reward)')
        refs = self._reg_rows(refs)
        if len(refs) == 0:
            return dict(loss_reg_rl=zero_loss(self.generation_head, anchor=proposals))
        if any(len(r) == 0 for r in refs.references):
            raise ValueError('disambiguation supervision needs the sentences of every ref '
                             '(CIDEr references): keep all of them in the training pipeline')
        refs = refs.to(proposals.device)
        cfg = self.ref_train_cfg['policy_gradient']
        num_samples, parts = cfg['num_samples'], {}

        def reward_fn(texts: List[List[str]]) -> Tensor:
            rows = torch.arange(len(texts), device=proposals.device).repeat_interleave(
                num_samples)
            flat = [text for beams in texts for text in beams]
            scores = self.score_texts(proposals, refs.img_inds, texts).flatten(0, 1)
            out = self.reward(scores, refs.prop_inds[rows], flat,
                              [refs.references[i] for i in rows.tolist()])
            parts.update(out)
            return out['reward'].view(len(texts), num_samples)

        losses = self.generation_head.loss_policy_gradient(
            proposals, refs.img_inds, refs.prop_inds, reward_fn, num_samples=num_samples,
            baseline=cfg['baseline'], weights=refs.weights)
        losses.update({f'reward_{k}': v.mean() for k, v in parts.items() if k != 'reward'})
        return losses

    def parse_losses(self, losses: Dict[str, Tensor]) -> Tuple[Tensor, Dict[str, Tensor]]:
        """mmengine's, but a NaN or infinite loss term is an error that names it,
        instead of a step that a loss scaler silently skips or weights that turn NaN."""
        terms = {k: v for k, v in losses.items() if 'loss' in k}
        if terms and not bool(torch.stack([torch.isfinite(v).all() for v in terms.values()]).all()):
            bad = {k: v.detach().float().mean().item() for k, v in terms.items()
                   if not torch.isfinite(v).all()}
            raise FloatingPointError(f'non-finite loss terms: {bad}')
        return super().parse_losses(losses)

    # ------------------------------------------------------------------ inference
    def predict(self, batch_inputs: Tensor, batch_data_samples: SampleList,
                rescale: bool = True, res: Optional[bool] = None, reg: Optional[bool] = None,
                reg_input: Optional[str] = None, beam_size: Optional[int] = None
                ) -> SampleList:
        """RES for every expression in ``gt_sents`` and REG for every object in
        ``gt_refs``, from one Mask2Former pass per image.

        Args:
            res, reg (bool, optional): Which tasks to predict.
            reg_input (str, optional): 'mask' or 'box': how a REG target is matched.
            beam_size (int, optional): Beam size of REG.
            (Each defaults to ``test_cfg``.)

        Returns:
            list[DetDataSample]: The samples with ``pred_sents`` (masks, bboxes,
            scores, proposal_inds) and ``pred_refs`` (texts, proposal_inds[,
            rb_correct]) added (see docs/data_flow.md).
        """
        cfg = self.test_cfg
        pick = (lambda value, key, default: cfg.get(key, default) if value is None else value)
        proposals, cls_list, mask_list = self.extract_proposals(batch_inputs,
                                                                batch_data_samples)
        if pick(res, 'res', True) and self.selection_head is not None:
            self._predict_res(proposals, mask_list[-1], batch_data_samples)
        if pick(reg, 'reg', True) and self.generation_head is not None:
            gt_to_prop = self.match(cls_list[-1], mask_list[-1], batch_data_samples,
                                    by=pick(reg_input, 'reg_input', 'mask'))
            self._predict_reg(proposals, gt_to_prop, batch_data_samples,
                              pick(beam_size, 'beam_size', 3))
        return batch_data_samples

    def _predict_res(self, proposals: Tensor, mask_pred: Tensor,
                     batch_data_samples: SampleList) -> None:
        sents = gather_ref_targets(batch_data_samples, None, 'sents')
        if len(sents) == 0:
            return
        img_inds = sents.img_inds.to(proposals.device)
        scores = self.select(proposals[img_inds], sents.texts,
                             cuda_graph=self.test_cfg.get('cuda_graph', False))
        probs, picks = scores.softmax(-1).max(-1)
        # rows come image by image (gather_ref_targets): slice them, counted on the CPU,
        # so that the device is never waited for here
        counts = torch.bincount(sents.img_inds, minlength=len(batch_data_samples)).tolist()
        start = 0
        for i, (sample, count) in enumerate(zip(batch_data_samples, counts)):
            sel = slice(start, start + count)
            start += count
            if count == 0:
                continue
            masks = self.postprocess_masks(mask_pred[i, picks[sel]], sample.metainfo)
            sample.pred_sents = InstanceData(masks=masks, bboxes=masks_to_boxes(masks),
                                             scores=probs[sel], proposal_inds=picks[sel])

    @staticmethod
    def postprocess_masks(mask_logits: Tensor, meta: dict) -> Tensor:
        """(K, h, w) logits at 1/4 of the padded input -> bool masks at original size:
        upsampled to the padded input, padding cropped, resized to the original image."""
        pad_h, pad_w = meta['batch_input_shape']
        img_h, img_w = meta['img_shape'][:2]
        ori_h, ori_w = meta['ori_shape'][:2]
        masks = F.interpolate(mask_logits[None].float(), (pad_h, pad_w), mode='bilinear',
                              align_corners=False)[:, :, :img_h, :img_w]
        masks = F.interpolate(masks, (ori_h, ori_w), mode='bilinear', align_corners=False)[0]
        return masks > 0

    def _predict_reg(self, proposals: Tensor, gt_to_prop: List[Tensor],
                     batch_data_samples: SampleList, beam_size: int) -> None:
        refs = gather_ref_targets(batch_data_samples, gt_to_prop, 'refs', keep_unassigned=True)
        if len(refs) == 0:
            return
        refs = refs.to(proposals.device)
        assigned = refs.prop_inds >= 0
        prop_inds = refs.prop_inds.clamp(min=0)
        cfg = self.test_cfg
        texts, _ = self.generation_head.generate(
            proposals, refs.img_inds, prop_inds, beam_size=beam_size,
            max_len=cfg.get('max_len', None), length_penalty=cfg.get('length_penalty', 0.0),
            cuda_graph=cfg.get('cuda_graph', False))
        best = [beams[0] for beams in texts]
        rb_correct = None
        if self.referee is not None:  # refer back: does the referee pick the target?
            scores = self.score_texts(proposals, refs.img_inds, [[t] for t in best],
                                      referee=True)[:, 0]
            rb_correct = (scores.argmax(-1) == prop_inds) & assigned
        for i, sample in enumerate(batch_data_samples):
            sel = (refs.img_inds == i).nonzero()[:, 0].tolist()
            if sel:
                sample.pred_refs = InstanceData(texts=[best[j] for j in sel],
                                                proposal_inds=prop_inds[sel])
                if rb_correct is not None:
                    sample.pred_refs.rb_correct = rb_correct[sel]

    def _forward(self, batch_inputs: Tensor, batch_data_samples: SampleList = None):
        """Proposals, class logits and mask logits of the final decoder layer."""
        proposals, cls_list, mask_list = self.extract_proposals(batch_inputs,
                                                                batch_data_samples)
        return proposals, cls_list[-1], mask_list[-1]
