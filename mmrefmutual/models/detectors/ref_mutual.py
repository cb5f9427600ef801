"""RefMutual: Mask2Former proposals + proposal selection (RES) + indicated generation (REG)."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmdet.models.detectors import Mask2Former
from mmdet.structures import SampleList
from mmdet.structures.mask import mask2bbox
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.structures import InstanceData
from torch import Tensor

from mmrefmutual.registry import MODELS, TASK_UTILS


@MODELS.register_module()
class RefMutual(Mask2Former):
    """The paper's model (Fig. 2): mmdet's Mask2Former as proposal extractor, a
    BERT text encoder, a :class:`ProposalSelectionHead` and an
    :class:`IndicatedGenerationHead`, trained jointly.

    Args:
        backbone, neck, panoptic_head, panoptic_fusion_head: As ``Mask2Former``;
            ``panoptic_head`` should be a ``ProposalMask2FormerHead``.
        text_encoder (dict): Language encoder (``HFTextEncoder``).
        selection_head (dict, optional): RES head; ``text_channels`` is filled in
            from the text encoder.
        generation_head (dict, optional): REG head.
        referee (dict, optional): For Rb-Acc (refer-back accuracy, paper Sec. 4.2):
            ``dict(checkpoint=PATH)`` of a separately trained model of this
            architecture whose ``selection_head``/``text_encoder`` weights score the
            generated expressions against this model's proposals (the same proposal
            set as generation used). Optional ``selection_head``/``text_encoder``
            configs default to this model's. Adds ``pred_refs.rb_correct``.
        frozen_modules (Sequence[str]): Top-level children to freeze (no gradients,
            eval mode). Freezing ``panoptic_head`` also drops Mask2Former's losses
            and maps targets to proposals by bipartite matching instead; freezing
            ``selection_head`` drops the RES loss (step 2 of the paper).
        disambiguation (dict, optional): Step 2 of the paper, disambiguation
            supervision (RES -> REG, Sec. 3.3.1): the REG teacher-forcing loss is
            replaced by the policy-gradient loss of
            :meth:`IndicatedGenerationHead.loss_policy_gradient` with
            ``num_samples`` beam samples per referred object, ``baseline``, and
            ``reward`` (a ``TASK_UTILS`` config, e.g. ``UnambiguityCiderReward``)
            computed from this model's selection head. Needs every sentence of a ref
            in training (no ``RandomSelectExpression`` in the pipeline): they are
            CIDEr's references.
        train_cfg (dict): Mask2Former's train_cfg.
        test_cfg (dict): Mask2Former's test_cfg plus ``res`` / ``reg`` (which
            tasks to predict), ``beam_size``, ``max_len``, ``length_penalty`` and
            ``reg_input`` ('mask' or 'box': how the REG target is given).
    """

    def __init__(self, backbone: ConfigType, panoptic_head: ConfigType,
                 panoptic_fusion_head: ConfigType, text_encoder: ConfigType,
                 selection_head: OptConfigType = None, generation_head: OptConfigType = None,
                 neck: OptConfigType = None, referee: OptConfigType = None,
                 frozen_modules: Sequence[str] = (), disambiguation: OptConfigType = None,
                 train_cfg: OptConfigType = None, test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(backbone=backbone, neck=neck, panoptic_head=panoptic_head,
                         panoptic_fusion_head=panoptic_fusion_head, train_cfg=train_cfg,
                         test_cfg=test_cfg, data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.text_encoder = MODELS.build(text_encoder)
        self.selection_head = None
        if selection_head is not None:
            selection_head = dict(selection_head, text_channels=self.text_encoder.out_channels)
            self.selection_head = MODELS.build(selection_head)
        self.generation_head = MODELS.build(generation_head) if generation_head else None
        self.referee = None
        if referee is not None:
            self.referee = self._build_referee(referee, text_encoder, selection_head)
        self.frozen_modules = tuple(frozen_modules)
        self.disambiguation = None
        if disambiguation is not None:
            if self.selection_head is None or self.generation_head is None:
                raise ValueError('disambiguation supervision needs a selection head (the '
                                 'reward) and a generation head (the policy)')
            self.disambiguation = dict(disambiguation)
            self.reward = TASK_UTILS.build(self.disambiguation.pop('reward'))
        for name in self.frozen_modules:
            getattr(self, name).requires_grad_(False)
        self.test_cfg = test_cfg or dict()

    def _build_referee(self, referee: dict, text_encoder: dict,
                       selection_head: dict) -> torch.nn.ModuleDict:
        """Frozen text encoder + selection head loaded from the referee checkpoint."""
        from mmrefmutual.utils.checkpoint import load_plain_checkpoint
        encoder = MODELS.build(referee.get('text_encoder', text_encoder))
        head = MODELS.build(dict(referee.get('selection_head', selection_head),
                                 text_channels=encoder.out_channels))
        ckpt = load_plain_checkpoint(referee['checkpoint'], map_location='cpu')
        state = ckpt.get('state_dict', ckpt)
        for name, module in (('text_encoder', encoder), ('selection_head', head)):
            module.load_state_dict({k[len(name) + 1:]: v for k, v in state.items()
                                    if k.startswith(name + '.')}, strict=True)
        # loaded here, not from the checkpoint under test, which has no referee weights
        for module in (encoder, head):
            module.is_init = True
        return torch.nn.ModuleDict(dict(text_encoder=encoder, selection_head=head)
                                   ).requires_grad_(False).eval()

    def train(self, mode: bool = True):
        super().train(mode)
        for name in self.frozen_modules:
            getattr(self, name).eval()
        if self.referee is not None:
            self.referee.eval()
        return self

    # ------------------------------------------------------------------ shared
    def extract_proposals(self, batch_inputs: Tensor, batch_data_samples: SampleList
                          ) -> Tuple[Tensor, List[Tensor], List[Tensor]]:
        """Run Mask2Former once.

        Returns:
            tuple: proposals O (B, N, C) and the per-layer class logits and mask
            logits lists of ``Mask2FormerHead.forward``.
        """
        grad = torch.is_grad_enabled() and 'panoptic_head' not in self.frozen_modules
        with torch.set_grad_enabled(grad):
            x = self.extract_feat(batch_inputs)
            cls_list, mask_list = self.panoptic_head(x, batch_data_samples)
        return self.panoptic_head.query_feats, cls_list, mask_list

    def select(self, proposals: Tensor, texts: List[str]) -> Tensor:
        """Matching scores S (M, N) of each text against its image's proposals (M, N, C)."""
        feats, pad_mask = self.text_encoder(texts)
        return self.selection_head(proposals, feats, pad_mask)

    def _match(self, cls_list, mask_list, batch_data_samples, by='mask') -> List[Tensor]:
        return [
            self.panoptic_head.match_targets(cls_list[-1][i], mask_list[-1][i],
                                             sample.gt_instances, sample.metainfo, by=by)
            for i, sample in enumerate(batch_data_samples)
        ]

    @staticmethod
    def _gather(batch_data_samples: SampleList, gt_to_prop: List[Tensor], level: str):
        """Flatten referring targets of the batch.

        Args:
            level (str): 'sents' (one row per expression) or 'refs' (one per object).

        Returns:
            dict: ``img_inds``, ``prop_inds``, ``weights`` (tensors over rows),
            ``texts`` (sentences, for 'sents'; for 'refs', every sentence of each ref).
        """
        img_inds, prop_inds, weights, texts = [], [], [], []
        for i, sample in enumerate(batch_data_samples):
            if level == 'sents':
                if 'gt_sents' not in sample or len(sample.gt_sents.texts) == 0:
                    continue
                ref_inds = sample.gt_sents.ref_inds.cpu()
                texts += list(sample.gt_sents.texts)
            else:
                if 'gt_refs' not in sample or len(sample.gt_refs.inst_inds) == 0:
                    continue
                ref_inds = torch.arange(len(sample.gt_refs.inst_inds))
                texts += [list(s) for s in sample.gt_refs.get('sentences', [[]] * len(ref_inds))]
            if gt_to_prop is None:  # grounding only: no referent needed
                prop, weight = torch.zeros_like(ref_inds), torch.ones(len(ref_inds))
            else:  # inst_inds is -1 for a referent that the pipeline ignored
                inst = sample.gt_refs.inst_inds.cpu()[ref_inds]
                prop = gt_to_prop[i].cpu()[inst.clamp(min=0)]
                prop[inst < 0] = -1
                weight = sample.gt_refs.weights.cpu()[ref_inds].float()
            img_inds.append(torch.full_like(ref_inds, i))
            prop_inds.append(prop)
            weights.append(weight)
        cat = (lambda xs, dtype: torch.cat(xs) if xs else torch.zeros(0, dtype=dtype))
        return dict(img_inds=cat(img_inds, torch.long), prop_inds=cat(prop_inds, torch.long),
                    weights=cat(weights, torch.float), texts=texts)

    # ------------------------------------------------------------------ training
    def loss(self, batch_inputs: Tensor, batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """Mask2Former losses + RES loss + REG loss (step 1), or the subset that is
        not frozen."""
        proposals, cls_list, mask_list = self.extract_proposals(batch_inputs,
                                                                batch_data_samples)
        losses = dict()
        if 'panoptic_head' not in self.frozen_modules:
            gts = self.panoptic_head.preprocess_gt(
                [s.gt_instances for s in batch_data_samples],
                [s.get('gt_sem_seg', None) for s in batch_data_samples])
            losses.update(self.panoptic_head.loss_by_feat(
                cls_list, mask_list, gts, [s.metainfo for s in batch_data_samples]))
            gt_to_prop = self.panoptic_head.final_assignments
        else:
            gt_to_prop = self._match(cls_list, mask_list, batch_data_samples)
        t = self._gather(batch_data_samples, gt_to_prop, 'sents')
        keep = t['prop_inds'] >= 0  # more objects than queries: nothing to supervise
        dev = proposals.device
        img_inds, prop_inds = t['img_inds'][keep].to(dev), t['prop_inds'][keep].to(dev)
        weights = t['weights'][keep].to(dev)
        texts = [s for s, k in zip(t['texts'], keep.tolist()) if k]
        if not texts:  # keep every parameter in the graph (DDP), with zero loss
            for name, key in (('selection_head', 'loss_res'), ('generation_head', 'loss_reg')):
                head = getattr(self, name)
                if head is not None and name not in self.frozen_modules:
                    losses[key] = proposals.sum() * 0 + sum(p.sum() for p in head.parameters()) * 0
            return losses
        if self.selection_head is not None and 'selection_head' not in self.frozen_modules:
            scores = self.select(proposals[img_inds], texts)
            losses.update(self.selection_head.loss(scores, prop_inds, weights))
        if self.generation_head is not None and 'generation_head' not in self.frozen_modules:
            if self.disambiguation is not None:
                losses.update(self._disambiguation_loss(proposals, gt_to_prop,
                                                        batch_data_samples))
            else:
                losses.update(self.generation_head.loss(proposals, img_inds, prop_inds,
                                                        texts, weights))
        return losses

    def _disambiguation_loss(self, proposals: Tensor, gt_to_prop: List[Tensor],
                             batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """Policy-gradient REG loss with the unambiguity + CIDEr reward (step 2)."""
        t = self._gather(batch_data_samples, gt_to_prop, 'refs')
        keep = (t['prop_inds'] >= 0).tolist()
        dev = proposals.device
        rows = torch.tensor([i for i, k in enumerate(keep) if k], dtype=torch.long)
        img_inds, prop_inds = t['img_inds'][rows].to(dev), t['prop_inds'][rows].to(dev)
        references = [t['texts'][i] for i in rows.tolist()]
        if any(len(r) == 0 for r in references):
            raise ValueError('disambiguation supervision needs the sentences of every ref')
        cfg = self.disambiguation
        num_samples = cfg.get('num_samples', 5)

        def reward_fn(texts: List[List[str]]) -> Tensor:
            flat = [text for beams in texts for text in beams]
            rep = torch.arange(len(texts), device=dev).repeat_interleave(num_samples)
            with torch.no_grad():
                scores = self.select(proposals[img_inds[rep]], flat)
            refs = [references[i] for i in rep.tolist()]
            return self.reward(scores, prop_inds[rep], flat, refs).view(len(texts), -1)

        if len(rows) == 0:  # keep the head in the graph (DDP) with zero loss
            zero = sum(p.sum() for p in self.generation_head.parameters()) * 0
            return dict(loss_reg_rl=zero)
        return self.generation_head.loss_policy_gradient(
            proposals, img_inds, prop_inds, reward_fn, num_samples=num_samples,
            baseline=cfg.get('baseline', 'mean'), weights=t['weights'][rows].to(dev))

    # ------------------------------------------------------------------ inference
    def predict(self, batch_inputs: Tensor, batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        """RES for every expression in ``gt_sents`` and REG for every object in
        ``gt_refs``, from one Mask2Former pass per image.

        Adds ``pred_sents`` (masks, bboxes, scores, proposal_inds) and ``pred_refs``
        (texts, proposal_inds) to the data samples (see docs/data_flow.md).
        """
        proposals, cls_list, mask_list = self.extract_proposals(batch_inputs,
                                                                batch_data_samples)
        cfg = self.test_cfg
        if cfg.get('res', True) and self.selection_head is not None:
            self._predict_res(proposals, mask_list[-1], batch_data_samples)
        if cfg.get('reg', True) and self.generation_head is not None:
            gt_to_prop = self._match(cls_list, mask_list, batch_data_samples,
                                     by=cfg.get('reg_input', 'mask'))
            self._predict_reg(proposals, gt_to_prop, batch_data_samples)
        return batch_data_samples

    def _predict_res(self, proposals: Tensor, mask_pred: Tensor,
                     batch_data_samples: SampleList) -> None:
        t = self._gather(batch_data_samples, None, 'sents')
        if not t['texts']:
            return
        img_inds = t['img_inds'].to(proposals.device)
        scores = self.select(proposals[img_inds], t['texts'])
        probs, picks = scores.softmax(-1).max(-1)
        for i, sample in enumerate(batch_data_samples):
            sel = (img_inds == i).nonzero()[:, 0]
            if len(sel) == 0:
                continue
            masks = self._postprocess_masks(mask_pred[i, picks[sel]], sample.metainfo)
            sample.pred_sents = InstanceData(
                masks=masks, bboxes=mask2bbox(masks), scores=probs[sel],
                proposal_inds=picks[sel])

    @staticmethod
    def _postprocess_masks(mask_logits: Tensor, meta: dict) -> Tensor:
        """(K, h, w) logits at 1/4 of the padded input -> bool masks at original size."""
        pad_h, pad_w = meta['batch_input_shape']
        img_h, img_w = meta['img_shape'][:2]
        ori_h, ori_w = meta['ori_shape'][:2]
        masks = F.interpolate(mask_logits[None], (pad_h, pad_w), mode='bilinear',
                              align_corners=False)[:, :, :img_h, :img_w]
        masks = F.interpolate(masks, (ori_h, ori_w), mode='bilinear', align_corners=False)[0]
        return masks > 0

    def _predict_reg(self, proposals: Tensor, gt_to_prop: List[Tensor],
                     batch_data_samples: SampleList) -> None:
        t = self._gather(batch_data_samples, gt_to_prop, 'refs')
        if len(t['img_inds']) == 0:
            return
        cfg = self.test_cfg
        img_inds = t['img_inds'].to(proposals.device)
        prop_inds = t['prop_inds'].clamp(min=0).to(proposals.device)
        texts, _ = self.generation_head.generate(
            proposals, img_inds, prop_inds, beam_size=cfg.get('beam_size', 3),
            max_len=cfg.get('max_len', None), length_penalty=cfg.get('length_penalty', 0.0))
        best = [beams[0] for beams in texts]
        rb_correct = None
        if self.referee is not None:  # refer back: does the referee pick the target?
            feats, pad_mask = self.referee.text_encoder(best)
            scores = self.referee.selection_head(proposals[img_inds], feats, pad_mask)
            rb_correct = (scores.argmax(-1) == prop_inds) & (t['prop_inds'] >= 0).to(
                prop_inds.device)
        for i, sample in enumerate(batch_data_samples):
            sel = (img_inds == i).nonzero()[:, 0].tolist()
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
